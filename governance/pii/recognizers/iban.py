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

Only an IBAN's head (a country code and two check digits at a word's start) is a regex;
the rest, at most 34 characters, is walked by hand. One pattern of every country's exact
length (an alternation of 17 lengths) found the same spans at ten times the cost of
Presidio's recognizer (1.0 against 0.1 ms on a 2,000-character note); the head and the walk
cost what Presidio's does.
"""

from __future__ import annotations

import re
from importlib import import_module
from typing import Any

import regex
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult

from governance.pii.recognizers.declared import DeclaredPatternRecognizer

# Presidio's per-country IBAN formats (country code, check digits, the national BBAN)
_FORMATS: dict[str, str] = import_module(
    "presidio_analyzer.predefined_recognizers.generic.iban_patterns"
).regex_per_country
_SRE: Any = import_module("re._parser")
# between two characters of an IBAN: nothing, or one space, no-break space or hyphen
_SEPARATORS = frozenset(" \u00a0-")
_SEPARATOR_RUN = re.compile(r"[ \u00a0\-]")
_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_HEAD = r"\b[A-Z]{2}\d\d"


def _length(fmt: str) -> int:
    """The characters of an IBAN of this format, without spaces (the formats allow one
    optional space after each character, so this is the least width of the regex)."""
    return int(_SRE.parse(fmt).getwidth()[0])


LENGTHS: dict[str, int] = {cc: _length(fmt) for cc, fmt in _FORMATS.items()}
_COUNTRY_FORMAT = {cc: re.compile(fmt) for cc, fmt in _FORMATS.items()}


def iban_ok(text: str) -> bool:
    """Whether ``text`` (separators allowed, any case) is an IBAN: its country's length and
    format, and the mod-97 check (ISO 13616)."""
    compact = _SEPARATOR_RUN.sub("", text).upper()
    if not compact.isascii() or not compact.isalnum():
        return False
    country = compact[:2]
    fmt = _COUNTRY_FORMAT.get(country)
    if fmt is None or len(compact) != LENGTHS[country] or not fmt.fullmatch(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _end_of(text: str, start: int, length: int) -> int | None:
    """Where an IBAN of ``length`` characters starting at ``start`` ends, one separator
    allowed between two of its characters; None if the text runs short of it, or runs on
    into more letters or digits after it."""
    count, i, n = 0, start, len(text)
    while i < n and count < length:
        ch = text[i]
        if ch in _ALNUM:
            count += 1
        elif not (ch in _SEPARATORS and count and i + 1 < n and text[i + 1] in _ALNUM):
            return None
        i += 1
    if count < length or (i < n and text[i] in _ALNUM):
        return None
    return i


class CrmIbanRecognizer(DeclaredPatternRecognizer):
    # Presidio sets these in its constructors without annotations; named here for mypy
    name: str
    patterns: list[Pattern]
    ENTITY = "IBAN_CODE"
    PATTERNS = [Pattern("IBAN head (country code, check digits)", _HEAD, 0.5)]
    CONTEXT = [
        "iban",
        "bank",
        "transaction",
        "account",
        "wire",
        "transfer",
        "sepa",
        "refund",
        "debit",
    ]
    # case-insensitive (a note may write "iban de89 ..."), ASCII only: with Unicode case
    # folding [A-Z] matches the Kelvin sign, which is no IBAN character
    REGEX_FLAGS = regex.IGNORECASE | regex.ASCII

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(supported_language)
        self._head = regex.compile(_HEAD, self.REGEX_FLAGS)

    def validate_result(self, pattern_text: str) -> bool:
        return iban_ok(pattern_text)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """The spans of ``text`` that are IBANs, each exactly its country's length."""
        found = []
        for head in self._head.finditer(text):
            length = LENGTHS.get(head.group()[:2].upper())
            if length is None:
                continue
            end = _end_of(text, head.start(), length)
            if end is not None and iban_ok(text[head.start() : end]):
                found.append((head.start(), end))
        return found

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: Any = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        """Every IBAN of ``text``, validated, at the top score."""
        pattern = self.patterns[0]
        results = []
        for start, end in self.spans(text):
            explanation = PatternRecognizer.build_regex_explanation(
                self.name, pattern.name, pattern.regex, pattern.score, True, self.REGEX_FLAGS
            )
            explanation.score = EntityRecognizer.MAX_SCORE
            results.append(
                RecognizerResult(
                    entity_type=self.ENTITY,
                    start=start,
                    end=end,
                    score=EntityRecognizer.MAX_SCORE,
                    analysis_explanation=explanation,
                    recognition_metadata={
                        RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                        RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                    },
                )
            )
        return results
