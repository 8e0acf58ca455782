"""The CRM's own order numbers, ``ORD-`` and eight digits.

They are not personal data; they are recognised so that their digits are not taken for a
phone or card number (the engine drops phone/card hits that overlap a CRM identifier).
"""

from __future__ import annotations

from presidio_analyzer import Pattern

from governance.pii.recognizers.declared import DeclaredPatternRecognizer


class CrmOrderNumberRecognizer(DeclaredPatternRecognizer):
    ENTITY = "CRM_ORDER_NUMBER"
    PATTERNS = [Pattern("order number", r"\bORD-\d{8}\b", 0.85)]
    CONTEXT = ["order", "orders", "invoice", "parcel", "delivery"]
