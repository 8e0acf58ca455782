"""The CRM's own record ids (a customer's id is its customer number): 32 lower-case hex
digits, as the store issues them (UUIDv4 or UUIDv7 without hyphens).

Not personal data by itself (a pseudonym); recognised so that its digit runs are never
taken for phone or card numbers, and so an analyst can see where ids leak into free text.
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern

from governance.pii.recognizers.declared import DeclaredPatternRecognizer

_HAS_LETTER_AND_DIGIT = re.compile(r"(?=.*[a-f])(?=.*\d)")


class CrmCustomerIdRecognizer(DeclaredPatternRecognizer):
    ENTITY = "CRM_CUSTOMER_ID"
    PATTERNS = [Pattern("record id (32 hex)", r"\b[0-9a-f]{32}\b", 0.6)]
    CONTEXT = ["customer", "id", "account", "subject", "record"]

    def validate_result(self, pattern_text: str) -> bool | None:
        # 32 digits alone are a number, 32 letters a word; an id has both.
        return None if _HAS_LETTER_AND_DIGIT.match(pattern_text) else False
