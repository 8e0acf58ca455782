"""Payment card numbers: 12 to 19 digits (optionally grouped), a known issuer prefix and a
valid Luhn check digit.

Presidio's own recognizer misses Mastercard's 2-series (2221-2720), 19-digit Visa and
12-digit Maestro numbers. A run of digits right after ``+`` is a phone number, and one
inside a longer word (an IBAN, an order number) is not a card number.
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern

from governance.pii.recognizers.declared import DeclaredPatternRecognizer

# (prefix pattern, allowed lengths)
_ISSUERS: tuple[tuple[re.Pattern[str], frozenset[int]], ...] = tuple(
    (re.compile(prefix), frozenset(lengths))
    for prefix, lengths in (
        (r"^4", (13, 16, 19)),  # Visa
        (r"^(5[1-5]|222[1-9]|22[3-9]\d|2[3-6]\d\d|27[01]\d|2720)", (16,)),  # Mastercard
        (r"^3[47]", (15,)),  # American Express
        (r"^(6011|65|64[4-9])", (16, 19)),  # Discover
        (r"^35", (16, 17, 18, 19)),  # JCB
        (r"^(2131|1800)", (15,)),  # JCB (old 15-digit)
        (r"^3(0[0-5]|[689])", (14, 16, 19)),  # Diners Club
        (
            r"^(5018|5020|5038|5893|6304|6759|676[1-3]|0604|6390|50|5[6-8]|6[0-9])",
            tuple(range(12, 20)),
        ),  # Maestro
        (r"^62", (16, 17, 18, 19)),  # UnionPay
    )
)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def card_number_ok(digits: str) -> bool:
    if not 12 <= len(digits) <= 19 or not luhn_ok(digits):
        return False
    return any(p.match(digits) and len(digits) in lengths for p, lengths in _ISSUERS)


class CrmCreditCardRecognizer(DeclaredPatternRecognizer):
    ENTITY = "CREDIT_CARD"
    PATTERNS = [
        Pattern(
            "card number (12-19 digits, grouped by space or hyphen)",
            r"(?<![\w+\-])\d(?:[ \-]?\d){11,18}(?![\w\-])",
            0.3,
        )
    ]
    CONTEXT = [
        "credit",
        "card",
        "visa",
        "mastercard",
        "amex",
        "maestro",
        "discover",
        "jcb",
        "diners",
        "cc",
        "payment",
        "paid",
    ]

    def validate_result(self, pattern_text: str) -> bool:
        return card_number_ok(re.sub(r"[ \-]", "", pattern_text))
