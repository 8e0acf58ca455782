"""Numbers a word names as something else: "order 48911953", "PO 4569938151", "sku 3482-9891",
"ticket no. 12345678", "tracking #: 1234 5678", "Apt. 39 62780" (an apartment's number, then
a postcode).

Such digit runs are not personal data, yet one in eleven 10-digit PO numbers passes the NHS
number's checksum and most 8-10 digit ones are valid phone numbers somewhere (issue 19:
they were most of the phone false positives on CRM notes). A number-shaped result right
after one of these words (optionally followed by "number", "no.", "nr", "#" or ":") is
dropped by the engine; the phone recognizer refuses such candidates itself (a lookbehind
built from the same words).
"""

from __future__ import annotations

import regex

ID_WORDS = (
    r"order|orders|reorder|ord|po|p\.o|purchase\s+order|sku|item|article|ticket|case"
    r"|invoice|inv|tracking|track|shipment|parcel|consignment|ref|reference"
    r"|confirmation|booking|reservation|serial|part|batch|lot|model|customer\s+id|id"
    r"|receipt|transaction|txn|voucher|coupon|gate\s+code|code|pin|zip|postcode"
    r"|postal\s+code|plz|apt|apartment|suite|unit"
)
LABEL_TAIL = r"\.?(?:\s*(?:number|num|no\.?|nr\.?|\#|:))?[\s\#:\-]*"
# entity types that are digit runs (a name or an address is never "named otherwise")
NUMBER_TYPES = frozenset(
    {
        "PHONE_NUMBER",
        "CREDIT_CARD",
        "UK_NHS",
        "US_BANK_NUMBER",
        "US_DRIVER_LICENSE",
        "US_PASSPORT",
        "US_ITIN",
        "US_SSN",
    }
)
_BEFORE = regex.compile(rf"\b(?:{ID_WORDS}){LABEL_TAIL}$", regex.IGNORECASE)
_REACH = 40


def named_otherwise(text: str, start: int) -> bool:
    """Whether the number starting at ``start`` follows a word naming it an identifier."""
    return _BEFORE.search(text[max(0, start - _REACH) : start]) is not None


# A card-shaped number (13-19 digits passing Luhn: one random number in ten does) that a CRM
# identifier names in its clause, not only right before it: "your order number is ...",
# "the tracking # is ...", "Tracking-Nr. ...", "the order (...)", "... is the tracking
# number" (issue 26 item 18: a hand-written note's tracking number was reported as a card).
# A card word nearer to it than the identifier word keeps it a card ("paid order 1234 with
# card ...", "refund to card ... for order 1234").
_CARD_WORDS = (
    r"card|cards|credit|debit|visa|mastercard|amex|maestro|discover|jcb|diners|cc"
    r"|payment|paid|pay|charge|charged|billing|cardholder"
)
_CLAUSE_ID_WORDS = rf"{ID_WORDS}|nr|waybill|awb|loyalty|member|membership|shipping|delivery"
_CLAUSE_WORD = regex.compile(
    rf"\b(?:(?P<card>{_CARD_WORDS})|(?P<id>{_CLAUSE_ID_WORDS}))\b", regex.IGNORECASE
)
# a clause ends at a line break, at ";", "!" or "?", and at a full stop before a capital
# (not at "Nr. 4539...", "no. 4539...")
_CLAUSE_BREAK = regex.compile(r"[\n;!?]|\.\s+(?=\p{Lu})")
_CLAUSE_REACH = 60


def card_named_otherwise(text: str, start: int, end: int) -> bool:
    """Whether the card-shaped number at ``start:end`` is an identifier its clause names
    (an order, invoice, tracking number ...) with no card word nearer to it."""
    before = text[max(0, start - _CLAUSE_REACH) : start]
    breaks = list(_CLAUSE_BREAK.finditer(before))
    if breaks:
        before = before[breaks[-1].end() :]
    words = list(_CLAUSE_WORD.finditer(before))
    if words:
        return words[-1].group("id") is not None
    after = text[end : end + _CLAUSE_REACH]
    cut = _CLAUSE_BREAK.search(after)
    if cut:
        after = after[: cut.start()]
    first = _CLAUSE_WORD.search(after)
    return first is not None and first.group("id") is not None
