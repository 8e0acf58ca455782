"""IBANs as people write them in notes: compact or grouped by spaces (the print form), with
a hyphen or a no-break space between groups, in upper or lower case, after "IBAN:" or not.

Presidio's ``IbanRecognizer`` misses a 24-character IBAN (Czech, Romanian, Swedish,
Spanish, Slovak ...) written before an ordinary word: its pattern takes up to six groups of
four characters after the check digits and the registry's case-insensitive flags let
"rece" of "received" be the sixth group, so each of the three ends it tries holds a piece
of the word and fails the checksum (issue 19: most of the crm_notes IBAN misses). Here a
candidate is exactly as long as its country's IBAN (the lengths are read off Presidio's own
per-country formats), so a following word is never part of it, and a longer run of letters
and digits is no IBAN at all. What is reported passes the country's format and the ISO 7064
mod-97 check, so one chance in 97 is left to a random run of the right shape and length.
"""

from __future__ import annotations

import re
from collections import defaultdict
from importlib import import_module
from typing import Any

import regex
from presidio_analyzer import Pattern

from governance.pii.recognizers.declared import DeclaredPatternRecognizer

# Presidio's per-country IBAN formats (country code, check digits, the national BBAN)
_FORMATS: dict[str, str] = import_module(
    "presidio_analyzer.predefined_recognizers.generic.iban_patterns").regex_per_country
_SRE: Any = import_module("re._parser")
# between two characters of an IBAN: nothing, one space, no-break space or hyphen
_SEPARATOR = r"[ \u00a0\-]?"
_NOT_ALNUM = re.compile(r"[ \u00a0\-]")


def _length(fmt: str) -> int:
    """The characters of an IBAN of this format, without spaces (the formats allow one
    optional space after each character, so this is the least width of the regex)."""
    return int(_SRE.parse(fmt).getwidth()[0])


LENGTHS: dict[str, int] = {cc: _length(fmt) for cc, fmt in _FORMATS.items()}
_COUNTRY_FORMAT = {cc: re.compile(fmt) for cc, fmt in _FORMATS.items()}


def _pattern() -> str:
    """One alternative per IBAN length: the countries of that length, two check digits,
    then exactly the rest of the length, a separator allowed before each character."""
    by_length: dict[int, list[str]] = defaultdict(list)
    for cc, n in LENGTHS.items():
        by_length[n].append(cc)
    branches = [
        rf"(?:{'|'.join(sorted(codes))})\d\d(?:{_SEPARATOR}[A-Z0-9]){{{n - 4}}}"
        for n, codes in sorted(by_length.items())
    ]
    return rf"(?<![A-Z0-9])(?:{'|'.join(branches)})(?![A-Z0-9])"


def iban_ok(text: str) -> bool:
    """Whether ``text`` (separators allowed, any case) is an IBAN: its country's length and
    format, and the mod-97 check (ISO 13616)."""
    compact = _NOT_ALNUM.sub("", text).upper()
    if not compact.isascii() or not compact.isalnum():
        return False
    country = compact[:2]
    fmt = _COUNTRY_FORMAT.get(country)
    if fmt is None or len(compact) != LENGTHS[country] or not fmt.fullmatch(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


class CrmIbanRecognizer(DeclaredPatternRecognizer):
    ENTITY = "IBAN_CODE"
    PATTERNS = [Pattern("IBAN (its country's length, grouped or not)", _pattern(), 0.5)]
    CONTEXT = ["iban", "bank", "transaction", "account", "wire", "transfer", "sepa",
               "refund", "debit"]
    # case-insensitive (a note may write "iban de89 ..."), ASCII only: with Unicode case
    # folding [A-Z] matches the Kelvin sign, which is no IBAN character
    REGEX_FLAGS = regex.DOTALL | regex.MULTILINE | regex.IGNORECASE | regex.ASCII

    def validate_result(self, pattern_text: str) -> bool:
        return iban_ok(pattern_text)
