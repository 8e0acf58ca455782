"""The CRM's own order numbers, ``ORD-`` and eight digits.

They are not personal data; they are recognised so that their digits are not taken for a
phone or card number (the engine drops phone/card hits that overlap a CRM identifier).
"""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer


class CrmOrderNumberRecognizer(PatternRecognizer):
    ENTITY = "CRM_ORDER_NUMBER"
    PATTERNS = [Pattern("order number", r"\bORD-\d{8}\b", 0.85)]
    CONTEXT = ["order", "orders", "invoice", "parcel", "delivery"]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
            name=type(self).__name__,
        )
