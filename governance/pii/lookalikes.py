"""Numbers a word names as something else: "order 48911953", "PO 4569938151", "sku 3482-9891",
"ticket no. 12345678", "tracking #: 1234 5678".

Such digit runs are not personal data, yet one in eleven 10-digit PO numbers passes the NHS
number's checksum and most 8-10 digit ones are valid phone numbers somewhere (issue 19:
they were most of the phone false positives on CRM notes). A number-shaped result right
after one of these words (optionally followed by "number", "no.", "nr", "#" or ":") is
dropped by the engine; the phone recognizer refuses such candidates itself (a lookbehind
built from the same words).
"""

from __future__ import annotations

import regex

ID_WORDS = (r"order|orders|reorder|ord|po|p\.o|purchase\s+order|sku|item|article|ticket|case"
            r"|invoice|inv|tracking|track|shipment|parcel|consignment|ref|reference"
            r"|confirmation|booking|reservation|serial|part|batch|lot|model|customer\s+id|id"
            r"|receipt|transaction|txn|voucher|coupon|gate\s+code|code|pin|zip|postcode"
            r"|postal\s+code|plz")
LABEL_TAIL = r"\.?(?:\s*(?:number|num|no\.?|nr\.?|\#|:))?[\s\#:\-]*"
# entity types that are digit runs (a name or an address is never "named otherwise")
NUMBER_TYPES = frozenset({"PHONE_NUMBER", "CREDIT_CARD", "UK_NHS", "US_BANK_NUMBER",
                          "US_DRIVER_LICENSE", "US_PASSPORT", "US_ITIN", "US_SSN"})
_BEFORE = regex.compile(rf"\b(?:{ID_WORDS}){LABEL_TAIL}$", regex.IGNORECASE)
_REACH = 40


def named_otherwise(text: str, start: int) -> bool:
    """Whether the number starting at ``start`` follows a word naming it an identifier."""
    return _BEFORE.search(text[max(0, start - _REACH):start]) is not None
