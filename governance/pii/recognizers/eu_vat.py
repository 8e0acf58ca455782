"""EU VAT identification numbers (and the UK's) of the countries our CRM serves.

A country prefix and the national format; where the national check digit is public and
simple (DE, IT, FR, BE, NL, AT) it is verified, elsewhere the format alone gives a lower
score that context words ("VAT", "USt-IdNr", "TVA", "BTW", "IVA") raise.
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern

from governance.pii.recognizers.declared import DeclaredPatternRecognizer

_FORMATS = {
    "AT": r"U\d{8}",
    "BE": r"[01]\d{9}",
    "DE": r"\d{9}",
    "ES": r"[A-Z0-9]\d{7}[A-Z0-9]",
    "FR": r"[0-9A-HJ-NP-Z]{2}\d{9}",
    "GB": r"\d{9}(?:\d{3})?",
    "IT": r"\d{11}",
    "NL": r"\d{9}B\d{2}",
}
_COMPILED = {cc: re.compile(f"^{fmt}$") for cc, fmt in _FORMATS.items()}


def _de(body: str) -> bool:  # ISO 7064 MOD 11,10
    product = 10
    for ch in body[:8]:
        total = (int(ch) + product) % 10 or 10
        product = (2 * total) % 11
    check = (11 - product) % 10
    return check == int(body[8])


def _it(body: str) -> bool:  # Luhn-like over 10 digits
    total = 0
    for i, ch in enumerate(body[:10]):
        d = int(ch)
        if i % 2:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return (10 - total % 10) % 10 == int(body[10])


def _fr(body: str) -> bool:
    if not body[:2].isdigit():
        return True  # new-style alphabetic keys: format only
    return int(body[:2]) == (12 + 3 * (int(body[2:]) % 97)) % 97


def _be(body: str) -> bool:
    return 97 - int(body[:8]) % 97 == int(body[8:])


def _nl(body: str) -> bool:  # mod 97 over the whole id (since 2020), or the old mod 11
    numeric = "".join(str(ord(c) - 55) if c.isalpha() else c for c in "NL" + body)
    if int(numeric) % 97 == 1:
        return True
    weights = range(9, 1, -1)
    total = sum(int(d) * w for d, w in zip(body[:8], weights, strict=True))
    return total % 11 == int(body[8])


def _at(body: str) -> bool:
    digits = body[1:]
    total = 0
    for i, ch in enumerate(digits[:7]):
        d = int(ch)
        if i % 2:
            d = d // 5 + (d * 2) % 10
        total += d
    return (10 - (total + 4) % 10) % 10 == int(digits[7])


_CHECKS = {"DE": _de, "IT": _it, "FR": _fr, "BE": _be, "NL": _nl, "AT": _at}


def vat_id_ok(text: str) -> bool | None:
    """True if the check digit is right, None if the country has no simple check."""
    compact = re.sub(r"[\s.\-]", "", text).upper()
    country, body = compact[:2], compact[2:]
    fmt = _COMPILED.get(country)
    if fmt is None or not fmt.match(body):
        return False
    check = _CHECKS.get(country)
    return None if check is None else check(body)


class EuVatRecognizer(DeclaredPatternRecognizer):
    ENTITY = "EU_VAT_ID"
    PATTERNS = [
        Pattern(
            "VAT id (country prefix + national format)",
            r"\b(?:AT\s?U\d{8}|BE\s?[01]\d{3}\.?\d{3}\.?\d{3}|DE\s?\d{9}|ES\s?[A-Z0-9]\d{7}[A-Z0-9]"
            r"|FR\s?[0-9A-HJ-NP-Z]{2}\s?\d{9}|GB\s?\d{9}(?:\d{3})?|IT\s?\d{11}|NL\s?\d{9}B\d{2})\b",
            0.3,
        )
    ]
    CONTEXT = ["vat", "ust", "ust-idnr", "ustidnr", "tva", "btw", "iva", "tax", "vies"]

    REGEX_FLAGS = re.DOTALL | re.MULTILINE  # prefixes are upper case

    def validate_result(self, pattern_text: str) -> bool | None:
        return vat_id_ok(pattern_text)
