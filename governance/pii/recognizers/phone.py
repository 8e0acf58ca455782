"""Phone numbers of the countries our CRM serves, international and national forms.

International forms (E.164 ``+4915112345678``, with separators ``+1-555-010-0199``, or with
a dialling prefix ``0044 20 7946 0958``, ``001-555-...``) are parsed as such; national forms
(``(555) 010-0199``, ``030 1234567``) are tried against each configured region. A candidate
counts only if libphonenumber says it is a valid number there. Unlike Presidio's
PhoneRecognizer, libphonenumber runs only on regex candidates, not over the whole text,
and ``+1-`` / ``001-`` forms are found.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from presidio_analyzer import Pattern

from governance.pii.lookalikes import ID_WORDS, LABEL_TAIL
from governance.pii.recognizers.declared import DeclaredPatternRecognizer

DEMO_REGIONS = ("DE", "FR", "GB", "US", "NL", "ES", "IT")
_INTERNATIONAL = re.compile(r"^(?:\+|00|011)")
_GROUPED = re.compile(
    r"^(?:1[\s\-.]?)?(?:\(\d{2,5}\)\s?|\d{2,5}[\s\-.])\d{2,4}(?:[\s\-.]\d{2,4}){0,3}"
)
_DATE = re.compile(r"^(?:\d{4}[\-./]\d{1,2}[\-./]\d{1,2}|\d{1,2}[\-./]\d{1,2}[\-./]\d{4})$")
_DOTTED_QUAD = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")  # an IPv4 address
# 3-2-4 digits is the US social security number's grouping, no country's phone grouping: left
# to UsSsnRecognizer (a phone reading of it scored higher and hid the SSN)
_SSN_SHAPED = re.compile(r"^\d{3}([\s\-.])\d{2}\1\d{4}$")
# five digits, a hyphen and three is the Brazilian postcode (CEP: "01358-280"); the German
# numbers it could also be are written "09172 850" or "09172/850"
_CEP_SHAPED = re.compile(r"^\d{5}-\d{3}$")
_EXTENSION = re.compile(r"\s*(?:x|ext\.?)\s*\d{1,6}$", re.IGNORECASE)


# A number a word names as something else is no phone number ("order 48911953", see
# governance/pii/lookalikes.py); nor is one named as another personal identifier ("account",
# "passport number", "driver license", "ssn"): that identifier's recognizer reports it.
_NAMED_OTHERWISE = (
    rf"(?<!\b(?:{ID_WORDS}|account|acct|passport|licen[cs]e|dl|ssn|itin|tin"
    rf"|tax\s+id|routing|iban|card){LABEL_TAIL})"
)
# NANP numbers are often written with the country code and no "+": "1-410-946-6852",
# "1 (786) 834-4978"
_NANP_ONE = r"(?:1[\s\-.]?(?=\(?\d{3}\)?[\s\-.]?\d{3}[\s\-.]?\d{4}\b))?"


class CrmPhoneRecognizer(DeclaredPatternRecognizer):
    ENTITY = "PHONE_NUMBER"
    PATTERNS = [
        Pattern(
            "international (+CC, 00CC, 011CC)",
            rf"(?<![\w+:]){_NAMED_OTHERWISE}(?:\+|00|011)[\s\-.]?\(?\d{{1,4}}\)?"
            r"(?:[\s\-./]?\(?\d{1,5}\)?){1,6}"
            r"(?:\s*(?:x|ext\.?)\s*\d{1,6})?(?![\w:]|\.\d)",
            0.6,
        ),
        Pattern(
            "national (area code and number)",
            rf"(?:(?<![\w+\-./:])|(?<=\\[ntr])){_NAMED_OTHERWISE}{_NANP_ONE}\(?\d{{2,5}}\)?"
            r"(?:[\s\-./]?\d{2,5}){1,4}"
            r"(?:\s*(?:x|ext\.?)\s*\d{1,6})?(?![\w:]|[\-.]\d)",
            0.3,
        ),
    ]
    CONTEXT = [
        "phone",
        "telephone",
        "tel",
        "call",
        "mobile",
        "cell",
        "number",
        "reach",
        "contact",
        "sms",
        "whatsapp",
        "cb",
        "ring",
        "fax",
        "text",
        "dial",
    ]

    def __init__(
        self, supported_language: str = "en", regions: Sequence[str] = DEMO_REGIONS
    ) -> None:
        self.regions = tuple(regions)
        # How each region's numbers are written nationally (issue 26 item 18): its trunk
        # prefix, where the national form always starts with "0" (DE, FR, GB, NL: nobody
        # writes "785 12605" for the German 0785 12605, yet libphonenumber accepts it), and
        # the shape of its national numbers (libphonenumber's general description: an
        # Italian number starts with 0, 1, 3 ...). Without them a Brazilian postcode
        # "78512-605" read as a German or a possible Italian number.
        meta = {r: phonenumbers.PhoneMetadata.metadata_for_region(r) for r in self.regions}
        self._zero_trunk = frozenset(
            r for r, m in meta.items() if getattr(m, "national_prefix", None) == "0"
        )
        self._national_shape = {
            r: re.compile(m.general_desc.national_number_pattern)
            for r, m in meta.items()
            if m is not None
            and m.general_desc is not None
            and m.general_desc.national_number_pattern
        }
        super().__init__(supported_language)

    def load(self) -> None:
        """Load libphonenumber's metadata of each region now, and compile the patterns it
        compiles on first use, by validating the library's own example number of each type;
        otherwise the first numbers a request or scan meets pay tens of milliseconds for it."""
        for region in self.regions:
            for kind in PhoneNumberType.values():
                example = phonenumbers.example_number_for_type(region, kind)
                if example is None:
                    continue
                for form in (PhoneNumberFormat.E164, PhoneNumberFormat.NATIONAL):
                    self.validate_result(phonenumbers.format_number(example, form))

    def invalidate_result(self, pattern_text: str) -> bool:
        text = pattern_text.strip()
        return (
            _DATE.match(text) is not None
            or _DOTTED_QUAD.match(text) is not None
            or _SSN_SHAPED.match(text) is not None
            or _CEP_SHAPED.match(text) is not None
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        # "+44 (0)20 ..." writes the national trunk prefix in brackets: not dialled
        text = _EXTENSION.sub("", pattern_text.strip()).replace("(0)", "")
        digits = re.sub(r"\D", "", text)
        if _INTERNATIONAL.match(text):
            if text.startswith("+"):
                number = "+" + digits
            elif digits.startswith("011"):
                number = "+" + digits[3:]
            else:
                number = "+" + digits[2:]
            # the country code is evidence enough: a possible length for that country
            return self._check(number, None, valid=False)
        if not 7 <= len(digits) <= 12:
            return False
        # each region's reading parsed once, for both tests below
        readings = []
        for region in self.regions:
            parsed = self._national(text, region)
            if parsed is None:
                continue
            if phonenumbers.is_valid_number(parsed):
                # A bare run of digits is as likely a postcode, an account or a reference as
                # a phone number: it keeps the pattern's low score, which a context word
                # ("call", "mobile", "phone", "cb" ...) raises above the threshold.
                return None if digits == text else True
            readings.append((region, parsed))
        # a grouped national form ("(331) 770-6690", "0118 496 0982") of a possible length,
        # in the region's national shape (libphonenumber's general description)
        if _GROUPED.match(pattern_text.strip()) is None:
            return False
        for region, parsed in readings:
            shape = self._national_shape.get(region)
            if phonenumbers.is_possible_number(parsed) and (
                shape is None
                or shape.fullmatch(phonenumbers.national_significant_number(parsed)) is not None
            ):
                return True
        return False

    def _national(self, text: str, region: str) -> phonenumbers.PhoneNumber | None:
        """``text`` read as a national number of ``region`` (None if it cannot be one)."""
        # a grouped national form without the trunk "0" is no number of such a region (a bare
        # run of digits keeps its every reading: it needs a context word anyway)
        if (
            region in self._zero_trunk
            and not text.isdigit()
            and not re.sub(r"\D", "", text).startswith("0")
        ):
            return None
        try:
            parsed = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            return None
        if parsed.country_code is None or (
            phonenumbers.region_code_for_country_code(parsed.country_code) not in self.regions
        ):
            return None
        return parsed

    def _check(self, text: str, region: str | None, *, valid: bool) -> bool:
        try:
            parsed = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            return False
        if valid and not phonenumbers.is_valid_number(parsed):
            return False
        if not valid and not phonenumbers.is_possible_number(parsed):
            return False
        if parsed.country_code is None:
            return False
        found = phonenumbers.region_code_for_country_code(parsed.country_code)
        return found in self.regions
