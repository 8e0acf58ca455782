"""People's names the small spaCy model misses or reads as places (issue 19 item 2).

Free text only (it reads the NER result of the same text). A run of capitalised words,
up to four, with particles ("Lucas da Luz", "Gretta Mac Maonagail") is a person when:

- a cue stands before it: a greeting or sign-off ("Hi", "Regards,"), an honorific, an
  introduction ("my name is", "this is"), a field label ("Name:"), a CRM phrase naming who
  did something ("approved by", "verified with", "spoke to", "left vm for", "escalated
  to") or a relation ("husband", "colleague"); or a verb only people do follows it ("said",
  "mentioned", "lives"); score 0.9, above the model's 0.85 for a place, so "My name is
  Nqobizitha" is a person although the model says a city;
- its first word is a first name of the gazetteer (``governance/pii/names.py``) and another
  word follows: 0.9; a gazetteer first name alone: 0.8, so that where the model says a
  place ("Delivery to Paris") the place stands;
- a word of it is a word of a person found elsewhere in the same text (by the model or by
  the rules above): "Tegan mentioned her husband Tegan Carroll": 0.86.

A run ending in or followed by a street, building or company word ("Russell Street",
"Macedo Ltda"), or right after a house number, is never a person (``engine._tidy`` applies
the same rule to the model's PERSON results). Lower-case chat gets one rule: after an
introduction ("hi this is richard smith"), a gazetteer first name and the word after it.
"""

from __future__ import annotations

from typing import Any

import regex
from presidio_analyzer import EntityRecognizer, RecognizerResult
from spacy.lang.en.stop_words import STOP_WORDS

from governance.pii.names import (
    COMPANY_AFTER,
    HONORIFICS,
    NOT_NAMES,
    PARTICLES,
    PLACE_OR_COMPANY,
    STREET_BEFORE,
    STREET_FIRST,
    TITLES,
    countries,
    gazetteer,
    is_english_word,
)
from governance.pii.nlp_engine import TextArtifacts

# a word; not a letter glued to a backslash ("\\nSanda" in text pasted from JSON is
# "Sanda"), and "Salomaa's" is "Salomaa" ('s is no part of a name)
_WORD = regex.compile(r"(?<!\\)[^\W\d_](?:\w|['’](?=\w\w)|-(?=[^\W\d_]))*")
_CUE = regex.compile(
    r"(?:\b(?:mr|mrs|ms|miss|mx|dr|prof|sir|madam|dame|rev|herr|frau|mme|mlle|sra|srta)\.?"
    r"|\b(?:dear|hi|hello|hey|hiya|thanks|thank you|thx|cheers|regards|best|sincerely|yours"
    r"|this is|my name is|name is|names?|i am|i'?m|it'?s|call me|ask(?:ed)? for"
    r"|spoke (?:to|with)|talked (?:to|with)|speak (?:to|with)|call(?:ed)?(?: back)?"
    r"|emailed|informed|confirmed by|signed by|approved by|verified with|requested by"
    r"|submitted by|handled by|assigned to|escalated to|transferred to|voicemail for"
    r"|vm for|message for|note from|per|account (?:holder|owner|name)|owner|holder"
    r"|contact(?: person)?|attn|c/o|colleague|friend|husband|wife|partner|son|daughter"
    r"|mother|father|mum|mom|dad|brother|sister|kid|child|guardian|maiden name"
    r"|real name|full name|said|says|told|asked|directed by|written by|by"
    # more people one names by their relation: "my aunt Ayo", "me and Kemi", "married to"
    r"|aunt|auntie|uncle|cousin|niece|nephew|grandma|grandpa|grandmother|grandfather"
    r"|grandson|granddaughter|fianc[ée]e?|boyfriend|girlfriend|boss|neighbou?r|roommate"
    r"|flatmate|classmate|co-?worker|teammate|tenant|landlord|patient|client|customer"
    r"|student|teacher|coach|me and|married to|engaged to|met with|meeting with"
    r"|li(?:ve|ves|ving) with|good (?:morning|afternoon|evening)|congratulations|congrats"
    r"|welcome|bye|goodbye|name (?:to|as)|named|goes by"
    r"|(?:producer|director|manager|songwriter|singer|player|founder|author|ceo|president)s?"
    # the one spoken to: "said Ana Vitória to Bachittar"
    r"|(?:said|says|asked|told|replied|whispered|shouted)\s+[^\s,.!?]+(?:\s+[^\s,.!?]+)?\s+to)"
    r")[\s,:.;>\-?]*$",
    regex.IGNORECASE,
)
# verbs only people do, right after a name
_AFTER = regex.compile(
    r"\s*(?:\([^()\n]{0,80}\)\s*|,\s*(?:the|a|an|our|my|his|her|their)\s[^,\n]{1,40},\s*)?"
    r"(?:said|says|told|mentioned|wrote|replied|explained|asked|called|emailed"
    r"|lives|lived|was born|is a very|is very|will be home|never got|wants|needs"
    r"|is (?:originally )?from|comes from|works (?:at|for|as)|was influenced"
    r"|as (?:a |an |the |my |our )?(?:guardian|beneficiary|co-?owner|owner|holder|contact"
    r"|signatory|executor|trustee|representative|nominee|dependent|authori[sz]ed user)"
    r"|\w+(?:ed|s)\s+(?:his|her|himself|herself)\b"
    # verbs of thought and feeling, and of a life
    r"|thinks|thought|believes|believed|feels|felt|knows|knew|loves|loved|likes|liked"
    r"|hates|hated|smiled|laughed|cried|died|married|texted|phoned|messaged|agreed"
    r"|and (?:I|me)\b"
    # how old one is: "is 34 years old", "is a 45 year old man", "(age 34)"
    r"|is (?:a |an )?\d{1,3}[- ]?(?:years?|yrs?)[- ]old|\((?:born|b\.|age|aged)\b"
    # what only people have: "Kemi's husband", "Adeyemi's phone number"
    r"|['’]s (?:phone|mobile|cell|number|e-?mail|address|account|card|credit card|birthday"
    r"|husband|wife|son|daughter|mother|father|mom|mum|dad|brother|sister|family|kids?"
    r"|children|boyfriend|girlfriend|partner|fianc[ée]e?|boss|age|ssn|passport|licen[cs]e)"
    # a person's job: "is a designer", "is the new manager"
    r"|is (?:a|an|the|our|my) (?:\w+ )?(?:engineer|manager|director|teacher|doctor|nurse"
    r"|lawyer|designer|developer|analyst|consultant|officer|assistant|accountant|architect"
    r"|scientist|writer|artist|singer|student|employee|colleague|customer|client|member"
    r"|ceo|cto|cfo|founder|president|keynote speaker|speaker|guest))\b",
    regex.IGNORECASE,
)
_INTRO_WORDS = r"\b(?:this is|my name is|name is|i am|i'?m|its|it's|call me|name:)\s+"
_INTRO = regex.compile(_INTRO_WORDS + "$", regex.IGNORECASE)
_INTRO_AT = regex.compile(_INTRO_WORDS, regex.IGNORECASE)
_CUE_WINDOW = 40
_COPULA = regex.compile(r"\b(?:am|i'?m|is|are|was|were)\s$", regex.IGNORECASE)
# a line break, or one written as "\\n" in text pasted from JSON
_LINE_BREAK = regex.compile(r"\n|\r|\\n")
# "the Yoga Mat", "a new Kettle": a name takes no article or possessive before it
_DETERMINER = regex.compile(
    r"\b(?:the|a|an|new|my|our|your|their|this|these|those)\s$", regex.IGNORECASE
)
_THINGS = frozenset({"PRODUCT", "WORK_OF_ART", "EVENT", "LAW", "LANGUAGE"})
# a speaker's label opening a dialogue line ('Jane: "Who are you?"'): a name when it is a
# gazetteer first name or a quotation follows, and not a field label
_SPEAKER = regex.compile(r'(?:^|\n|\\n)[ \t>]*(\p{Lu}[\p{Ll}\'’]+):[ \t]*(")?')
_LABELS = frozenset(
    {
        "address",
        "phone",
        "email",
        "mobile",
        "subject",
        "date",
        "time",
        "order",
        "ticket",
        "status",
        "total",
        "ref",
        "re",
        "from",
        "to",
        "cc",
        "fax",
        "office",
        "tel",
        "web",
        "url",
        "company",
        "title",
        "billing",
        "shipping",
        "delivery",
        "notes",
        "comment",
        "reason",
        "amount",
    }
)
# where one goes or lives is a place: "flew to Kimberley", "arrived at Moreira", "lives on
# the north side of Albertina Sisulu", "is on Nelson Mandela" (streets named after people)
_TRAVEL_BEFORE = regex.compile(
    r"\b(?:fl(?:y|ew|ies|ying|own)|travel(?:l?ed|l?ing|s)?|mov(?:e|ed|es|ing)"
    r"|arriv(?:e|ed|es|ing)|went|go(?:es|ing)?|gone|driv(?:e|es|ing|en)|drove"
    r"|walk(?:ed|s|ing)?|head(?:ed|s|ing)?|return(?:ed|s|ing)?|relocat\w*|liv(?:e|es|ed|ing)"
    r"|based|located|situated|stay(?:ed|s|ing)?|born|is|are|was|were|grew\s+up|raised"
    r"|originally)"
    r"\s+(?:(?:back|over|here|there|away|originally)\s+)?(?:to|at|in|into|from|on|near)\s+"
    r"(?:the\s+\w+\s+(?:side|part|end)\s+of\s+)?$",
    regex.IGNORECASE,
)
# a place's kind before its name: "home city Kulti", "TP. Hải Phòng", "xã Diên Hồng"
_ADMIN_BEFORE = regex.compile(
    r"\b(?:city|town|village|province|county|district|region|municipality|tp|xã|phường"
    r"|tỉnh|quận|huyện|thị trấn|thành phố|phố|số)\.?\s+(?:of\s+)?$",
    regex.IGNORECASE,
)
# an organisation by what is said of it: "works at X", "CEO of X", "X is a design agency",
# "X was founded"
_ORG_BEFORE = regex.compile(
    r"\b(?:(?:works?|worked|working|employed|job|position|career|internship|intern|shares"
    r"|stock|investing|invested)\s+(?:at|for|with|by|in)|joined|hired by|acquired by"
    r"|subsidiary of|(?:ceo|cto|cfo|founder|co-founder|president|director|head|manager"
    r"|chairman|employees?|engineer|designer|developer|analyst|consultant)\s+(?:of|at))\s$",
    regex.IGNORECASE,
)
_ORG_AFTER = regex.compile(
    r"(?:,?\s+(?:is|was|has been)\s+(?:an?|the|one of the)\s+(?:[\w-]+\s+){0,5}?"
    r"(?:company|companies|bank|firm|agency|brand|start-?up|business|corporation|manufacturer"
    r"|retailer|provider|organi[sz]ation|charity|foundation|chain|store|shop|restaurant"
    r"|hotel|band|city|town|village|country|island|river|street|road|district|region)\b"
    r"|\s+(?:was|were)\s+founded\b|['’]s\s+(?:products|services|shares|stock|website"
    r"|headquarters|employees|customers|stores|offices))",
    regex.IGNORECASE,
)
_HOUSE_NUMBER_BEFORE = regex.compile(r"\d[\d/\-]*[a-zA-Z]?,?\s$")
# an address's parts around a street or a town (issue 26 item 18): a street kind before it
# ("ulica Cisowa", "al. Cyprysowa", "Strada Doriana Eftimie"), a house number and a comma
# after it ("Kadaňská 47, 105 13 Telč", "Floriana 31/01, 18-322"), a postcode after it, with
# a state's code ("Gyasichester, CA 65649", "Tembisa, 5471", "Moodytown 8513", "Bhusawal-248131")
_STREET_PARTICLES = frozenset({"de", "da", "do", "dos", "das", "di", "del"})
_NUMBER_WORD = regex.compile(r"\b\d")
_HOUSE_NUMBER_AFTER = regex.compile(r"[ \t]+\d{1,5}[a-zA-Z]?(?:/\d{1,5})?,")
_POSTCODE_AFTER = regex.compile(r"(?:,[ \t]*|[ \t]+|-)(?:\p{Lu}{2}[ \t]+)?\d{4,6}(?![\d\-/.])")
_BARE_PLACE_BEFORE = regex.compile(r"\b(?:at|in|to|from|near|into)\s$", regex.IGNORECASE)
# what one does to or for a person: "a tribute to", "the assistant to", "a letter to"
_TO_PERSON = regex.compile(
    r"\b(?:tribute|assistant|secretary|deputy|letter|message|note|gift|present|reply|thanks"
    r"|dedicated|addressed|introduced|close|similar|belongs?|talk(?:ed|ing)?|listen(?:ed|ing)?"
    r"|write|wrote|written|repl(?:y|ied)|speak(?:ing)?|gave|give|given|pass(?:ed)?|hand(?:ed)?"
    r"|sent|send|sending|forward(?:ed)?|report(?:ed|ing)?|married|engaged|next)\s+to\s$",
    regex.IGNORECASE,
)
_PLACE_BEFORE = regex.compile(r"\b(?:at|in|to|from|near|via|into|of|on)\s$", regex.IGNORECASE)
# company forms written with dots or slashes after a name ("Barros S/A", "Němeček v.o.s.")
# (legal forms: Brazil's S/A, - ME, - EI; Czech s.r.o., v.o.s., a.s., k.s., o.s.; Poland's
# Sp. z o.o., Sp.j., Sp.k., s.c.; Turkey's A.Ş., Ltd. Şti., Tic., San.; Vietnam's Công ty,
# Tập Đoàn, Doanh nghiệp)
_COMPANY_MARK = regex.compile(
    r",? (?:S/A|S\.A\.|s\.r\.o\.|v\.o\.s\.|a\.s\.|k\.s\.|o\.s\.|Sp\. z o\.o\.|Sp\. ?[jk]\.|s\.c\."
    r"|A\.Ş\.|Ltd\. Şti\.|Şti\.|Tic\.|San\.|- (?:ME|EI)\b|& (?:Co|Sons|Partners)|and Sons"
    r"|e Filhos|Công ty|Tập Đoàn|Doanh nghiệp)"
)
# street and company words that, written in lower case after a name, are still one
_LOWER_STREET = frozenset(
    {
        "street",
        "st",
        "str",
        "road",
        "rd",
        "avenue",
        "ave",
        "lane",
        "ln",
        "drive",
        "boulevard",
        "blvd",
        "highway",
        "hwy",
        "ltd",
        "ltda",
        "inc",
        "llc",
        "gmbh",
        "plc",
        "corp",
        "strasse",
        "straße",
        "trail",
        "bridge",
    }
)
_CAPITAL_PARTICLES = frozenset({"mac", "mc", "ó", "o'", "ní", "nic", "uí", "mhic"})


def _capitalised(word: str) -> bool:
    return word[:1].isupper() and (len(word) == 1 or not word[1:].isupper())


def _blocked_after(text: str, end: int) -> bool:
    """A street, building or company word right after ``end`` ("Russell Street 5")."""
    if _COMPANY_MARK.match(text, end):
        return True
    m = _WORD.match(text, end + 1) if text[end : end + 1] == " " else None
    # (an "Apt." or "Suite" after a name is the next line of an address on one line)
    if m is None or m.group().lower() in ("apt", "suite"):
        return False
    word = m.group()
    if word.islower():
        # ("Karl Persson as a beneficiary": "as" is a Norwegian company form only as "AS")
        return word in _LOWER_STREET
    return word.lower() in PLACE_OR_COMPANY or word.lower() in COMPANY_AFTER


class NameAnswers:
    """The answers of the name rules about the spans of one text, each worked out once.

    :meth:`place_or_company` and :meth:`not_a_person` depend on the text and the span alone,
    and the same span is asked about several times while one text is analysed: by the
    recognizer's runs and its model-PERSON check, then by ``engine._tidy`` for each PERSON
    result; on the write-check bench's 2,000-character notes 44 % of the calls repeat one
    (issue 19, the write-check latency). One object holds them for one analysis of one text
    (:func:`answers_for`: on the text's NLP artifacts), so they go when it ends: the text is
    a note full of personal data, which no module-level cache may keep."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._answers: dict[tuple[str, int, int], bool] = {}
        self._coordinations: tuple[tuple[tuple[tuple[int, int], ...], bool], ...] | None = None
        self._address_block: (
            tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]] | None
        ) = None

    def place_or_company(self, start: int, end: int) -> bool:
        """Whether the span reads as a street, building or company (:func:`_place_or_company`)."""
        key = ("place_or_company", start, end)
        found = self._answers.get(key)
        if found is None:
            found = self._answers[key] = _place_or_company(self, start, end)
        return found

    def not_a_person(self, start: int, end: int) -> bool:
        """Whether a PERSON result over the span is none (:func:`_not_a_person`)."""
        key = ("not_a_person", start, end)
        found = self._answers.get(key)
        if found is None:
            found = self._answers[key] = _not_a_person(self, start, end)
        return found

    def coordinations(self) -> tuple[tuple[tuple[tuple[int, int], ...], bool], ...]:
        """The text's coordinations of names (:func:`_coordinations`)."""
        if self._coordinations is None:
            self._coordinations = _coordinations(self.text)
        return self._coordinations

    def address_block(self) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
        """The names and places of the text's address block (:func:`_address_block`)."""
        if self._address_block is None:
            self._address_block = _address_block(self)
        return self._address_block


def answers_for(text: str, nlp_artifacts: Any = None) -> NameAnswers:
    """The name rules' answers for ``text``: those its NLP artifacts hold for this analysis
    (our :class:`TextArtifacts`), else a new set."""
    if isinstance(nlp_artifacts, TextArtifacts) and nlp_artifacts.text == text:
        return nlp_artifacts.worked_out(_answers_of)
    return NameAnswers(text)


def _answers_of(artifacts: TextArtifacts) -> NameAnswers:
    return NameAnswers(artifacts.text)


def place_or_company(text: str, start: int, end: int) -> bool:
    """Whether the span ``start:end`` of ``text`` reads as a street, building or company."""
    return NameAnswers(text).place_or_company(start, end)


def not_a_person(text: str, start: int, end: int) -> bool:
    """Whether a PERSON result over ``start:end`` of ``text`` is a street or company, an
    honorific alone, or no name (:func:`_not_a_person`)."""
    return NameAnswers(text).not_a_person(start, end)


def _street_kind_before(text: str, start: int) -> bool:
    """A street kind (:data:`STREET_BEFORE`) is the word before ``start``, past a particle:
    "ulica Cisowa", "al. Cyprysowa", "Lagoa de Sampaio"."""
    head = text[max(0, start - 24) : start]
    if not head[-1:].isspace():
        return False
    words = head.split()
    if words and words[-1] in _STREET_PARTICLES:
        words.pop()
    return bool(words) and words[-1].lstrip("(>,").rstrip(".").lower() in STREET_BEFORE


def _place_or_company(answers: NameAnswers, start: int, end: int) -> bool:
    """Whether the span ``start:end`` of the text reads as a street, building or company:
    a word of it or the word after it is a street or company word, or a house number
    stands before it."""
    text = answers.text
    words = [w.lower() for w in _WORD.findall(text[start:end])]
    if not words:
        return False
    if any(w in PLACE_OR_COMPANY or w in COMPANY_AFTER for w in words[1:]) or (
        words[0] in STREET_FIRST or words[0] in PLACE_OR_COMPANY
    ):
        return True
    if _blocked_after(text, end) or " ".join(words) in countries():
        return True
    # a title, not a name: a function word inside ("Carry Me Back To", "Musicians Of The")
    if any(w in STOP_WORDS and w not in PARTICLES for w in words[1:]):
        return True
    before = text[max(0, start - 12) : start]
    if _HOUSE_NUMBER_BEFORE.search(before):
        return True
    if _street_kind_before(text, start):
        return True
    if _HOUSE_NUMBER_AFTER.match(text, end) or _POSTCODE_AFTER.match(text, end):
        return True
    wide = text[max(0, start - 48) : start]
    if _TRAVEL_BEFORE.search(wide) or _ADMIN_BEFORE.search(text[max(0, start - 16) : start]):
        return True
    if _ORG_BEFORE.search(text[max(0, start - 32) : start]) or _ORG_AFTER.match(text, end):
        return True
    # after a bare preposition of place ("Delivery to Nederweert", "Spoke to Amleto in
    # Grotti", "Adem Sager from Mühlhausen") a word is a place, unless a cue stands there
    # ("spoke to", "note from", "a tribute to"), it opens with a known first name or it
    # owns something ("the verses from Aapo Salomaa's ...")
    if (
        _BARE_PLACE_BEFORE.search(text[max(0, start - 8) : start])
        and (words[0].lower() not in gazetteer().first)
        and text[end : end + 2] not in ("'s", "’s")
        and not _CUE.search(text[max(0, start - _CUE_WINDOW) : start])
        and (not _TO_PERSON.search(text[max(0, start - 24) : start]))
    ):
        return True
    return any(
        s <= start and end <= e
        for elements, company in answers.coordinations()
        if company
        for s, e in elements
    )


# a coordination of capitalised names: "Cezar, Anniina and Rajata", "Shekoni, Olujimi and
# Ayoola is an investment bank", "at Sridhar, Varma and Iyengar"
_ELEMENT = r"\p{Lu}[\p{L}\p{M}'’\-]*+(?:\s(?:\p{Lu}[\p{L}\p{M}'’\-]*+|d[aeo]s?|van|von)){0,2}+"
_COORDINATION = regex.compile(
    rf"(?<![\p{{L}}\p{{M}}])({_ELEMENT}(?:,\s{_ELEMENT})*+,?\s(?:and|&)\s{_ELEMENT}"
    rf"(?:(?:,\s|,?\s(?:and|&)\s){_ELEMENT})*+)"
)
_SEPARATOR = regex.compile(r",?\s(?:and|&)\s|,\s")
# one thing named by names (a company): a singular verb after the coordination, "&", or a
# place preposition before it
_ONE_THING_AFTER = regex.compile(r"(?:'s)?\s+(?:is|was|has)\b")
_PLACE_PREPOSITION = regex.compile(r"\b(?:at|from|joined)\s$", regex.IGNORECASE)


def _coordinations(text: str) -> tuple[tuple[tuple[tuple[int, int], ...], bool], ...]:
    """Each coordination of names in ``text``: its elements' spans, and whether it names one
    company rather than people."""
    out = []
    for m in _COORDINATION.finditer(text):
        start, end = m.span(1)
        elements, pos = [], start
        for sep in _SEPARATOR.finditer(text, start, end):
            elements.append((pos, sep.start()))
            pos = sep.end()
        elements.append((pos, end))
        # (a company among the elements makes them all companies: "Ó Leighinn Inc, Nistor
        # Preda LOC and Gebashe")
        company = (
            "&" in m.group(1)
            or bool(_ONE_THING_AFTER.match(text, end))
            or bool(_PLACE_PREPOSITION.search(text[max(0, start - 8) : start]))
            or any(
                _blocked_after(text, e) or _WORD.findall(text[s:e])[-1].lower() in PLACE_OR_COMPANY
                for s, e in elements
            )
        )
        out.append((tuple(elements), company))
    return tuple(out)


# an address block: lines (or "\\n"-joined lines) with a street line, a house number and
# a word ("27 Willebrandinkuja", "al. Staszica 70"); quoting marks before each line
_LINE_PREFIX = regex.compile(r"[ \t>?*•\-]*")
_STREET_LINE = regex.compile(r"\d[\d/\-]*[a-zA-Z]?,?\s+\p{L}|(?:al|ul|str|rua|av)\.?\s+\p{Lu}")
_NAME_LINE = regex.compile(
    r"\p{Lu}[\p{L}\p{M}'’\-]*+(?:\s(?:\p{Lu}[\p{L}\p{M}'’\-]*+|d[aeo]s?|van|von|bin|al)){0,3}+"
)
_PLACE_LINE = regex.compile(r"[\p{Lu}\d][\p{L}\p{M}\d'’.,/\- ]*")


def _address_block(
    answers: NameAnswers,
) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
    """In a postal address block, the lines of one to four capitalised words before the
    street line name the addressee (its first line) or a person in its care (a line of
    two words), and the lines after it of capitalised words and numbers alone are the
    city, region, postcode and country. Returns (names, places), as spans."""
    text = answers.text
    if not _LINE_BREAK.search(text) or not any(c.isdigit() for c in text):
        return (), ()
    lines, pos = [], 0
    for m in _LINE_BREAK.finditer(text):
        lines.append((pos, m.start()))
        pos = m.end()
    lines.append((pos, len(text)))
    lines = [(_LINE_PREFIX.match(text, s, e).end(), e) for s, e in lines]
    lines = [(s, e) for s, e in lines if text[s:e].strip()]
    street = next((i for i, (s, e) in enumerate(lines) if _STREET_LINE.match(text, s, e)), None)
    if street is None or street == 0 or len(lines) < 3:
        return (), ()
    names: list[tuple[int, int]] = []
    for i, (s, e) in enumerate(lines[:street]):
        e = len(text[:e].rstrip(" ,"))
        m = _NAME_LINE.fullmatch(text, s, e)
        if m and (i == 0 or len(m.group().split()) == 2) and not answers.place_or_company(s, e):
            names.append((s, e))
    places = [(s, e) for s, e in lines[street + 1 :] if _PLACE_LINE.fullmatch(text, s, e)]
    return tuple(names), tuple(places)


def _not_a_person(answers: NameAnswers, start: int, end: int) -> bool:
    """Whether a PERSON result (the model's or ours) is a street or company
    (:func:`_place_or_company`) or an honorific alone ("Mr")."""
    text = answers.text
    words = _WORD.findall(text[start:end])
    if not words or all(w.lower().rstrip(".") in HONORIFICS for w in words):
        return True
    # a number inside ("Cisowa 35", "Box 1", "Bhusawal-248131"): an address, not a name
    # (a digit inside a word, "Taylor2", is a username's)
    if _NUMBER_WORD.search(text, start, end):
        return True
    if _LINE_BREAK.search(text, start, end):  # lines of an address block, not one name
        return True
    if any(s <= start and end <= e for s, e in answers.address_block()[1]):
        return True
    if any(w.lower() in TITLES for w in words):
        return True
    # a title or a thing, not a person: common words only, none of them a name ("Guilty
    # Pleasures", "Cautionary Tales", "Battery")
    names = gazetteer().any_name
    if all(is_english_word(w) and w.lower() not in names for w in words):
        return True
    if _DETERMINER.search(text[max(0, start - 8) : start]):
        return True
    # the model's lower-case "names" ("de laboratório de"); ours follow an introduction
    if words[0].islower() and not _INTRO.search(text[max(0, start - 20) : start]):
        return True
    return answers.place_or_company(start, end)


def _own_line(text: str, start: int, end: int) -> bool:
    """A line to itself, not the text's first: the company, town or country line of an
    address or signature (the addressee's line is found by :func:`_address_block`)."""
    head = text[max(0, start - 8) : start].rstrip(" \t>?*")
    if not head.endswith(("\n", "\\n", "\r")):
        return False
    tail = text[end : end + 4].lstrip(" \t,")
    return not tail or tail.startswith(("\n", "\\n", "\r"))


def _at_a_place(text: str, start: int, end: int, places: set[tuple[int, int]]) -> bool:
    """A word the model reads as a place, after a preposition of place ("arrived at
    Moreira", "Delivery to Paris")."""
    return (start, end) in places and bool(_PLACE_BEFORE.search(text[max(0, start - 8) : start]))


class PersonNameRecognizer(EntityRecognizer):
    """Names by cue, gazetteer and repetition; see the module's docstring."""

    name: str  # set by Presidio's constructor without an annotation; named here for mypy
    ENTITY = "PERSON"

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entities=[self.ENTITY],
            supported_language=supported_language,
            name=type(self).__name__,
        )

    def load(self) -> None:
        self.names = gazetteer()

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None
    ) -> list[RecognizerResult]:
        if not hasattr(self, "names"):
            self.load()
        found: dict[tuple[int, int], float] = {}
        answers = answers_for(text, nlp_artifacts)
        # the model's own labels (Presidio's entities carry its mapped ones: LOCATION, NRP),
        # read from the doc itself
        doc = getattr(nlp_artifacts, "tokens", None)
        ents = list(getattr(doc, "ents", ()))
        places = {(e.start_char, e.end_char) for e in ents if e.label_ in ("GPE", "LOC", "FAC")}
        nationalities = [(e.start_char, e.end_char) for e in ents if e.label_ == "NORP"]
        # what the model calls a product, a work of art, a law ...
        things = [(e.start_char, e.end_char) for e in ents if e.label_ in _THINGS]
        persons = self._model_persons(answers, ents, found)
        runs = self._runs(text)
        for run in runs:
            for start, end, score, cued in self._judge(answers, run):
                # what the model reads as a nationality is one after a copula ("I am
                # Brazilian") or without a cue; after another cue it is a name the model
                # misread ("thanks Andrian!")
                if any(s <= start and end <= e for s, e in nationalities) and (
                    not cued or _COPULA.search(text[max(0, start - 8) : start])
                ):
                    continue
                if score < 0.9 and _at_a_place(text, start, end, places):
                    continue
                if not cued and (
                    _DETERMINER.search(text[max(0, start - 8) : start])
                    or any(s < end and start < e for s, e in things)
                ):
                    continue
                found[(start, end)] = max(score, found.get((start, end), 0.0))
        self._lower_case_intro(text, found)
        speakers = [
            m
            for m in _SPEAKER.finditer(text)
            if m.group(1).lower() not in NOT_NAMES and m.group(1).lower() not in _LABELS
        ]
        named = [m for m in speakers if m.group(1).lower() in self.names.first or m.group(2)]
        for m in speakers if named and len(speakers) > 1 else named:
            found[m.span(1)] = max(0.86, found.get(m.span(1), 0.0))
        self._coordinated(answers, found, persons)
        for s, e in answers.address_block()[0]:
            found[(s, e)] = max(0.86, found.get((s, e), 0.0))
        # words of people found here (ours at 0.86 and above, and the model's) name people
        # elsewhere in the same text
        known = {
            w.lower()
            for (s, e), sc in found.items()
            if sc >= 0.86
            for w in _WORD.findall(text[s:e])
        }
        for s, e in persons:
            known |= {w.lower() for w in _WORD.findall(text[s:e])}
        known -= NOT_NAMES | HONORIFICS
        known = {w for w in known if len(w) > 2}
        if known:
            for run in runs:
                start, end = run[0][0], run[-1][1]
                if (start, end) in found and found[(start, end)] >= 0.86:
                    continue
                if (
                    any(w.lower() in known for _, _, w in run)
                    and not answers.place_or_company(start, end)
                    and not _at_a_place(text, start, end, places)
                    and (not _DETERMINER.search(text[max(0, start - 8) : start]))
                ):
                    found[(start, end)] = max(0.86, found.get((start, end), 0.0))
        return [
            RecognizerResult(
                self.ENTITY,
                s,
                e,
                score,
                recognition_metadata={
                    RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                    RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                },
            )
            for (s, e), score in sorted(found.items())
        ]

    @staticmethod
    def _model_persons(
        answers: NameAnswers, ents: list[Any], found: dict[tuple[int, int], float]
    ) -> list[tuple[int, int]]:
        """The model's PERSON spans that read as people. One that runs over a line break
        ("Bernard Ó Hoireachtaigh\\nLostracı\\nSama" in an address block) is cut to its
        first line, which is reported (0.85, the model's score) in its place; the whole
        span is dropped by :meth:`NameAnswers.not_a_person`."""
        text = answers.text
        out = []
        for ent in ents:
            if ent.label_ not in ("PERSON", "PER"):
                continue
            start, end = ent.start_char, ent.end_char
            cut = _LINE_BREAK.search(text, start, end)
            if cut:
                end = cut.start()
                while end > start and not text[end - 1].isalnum():
                    end -= 1
                if end <= start or answers.not_a_person(start, end):
                    continue
                found[(start, end)] = max(0.85, found.get((start, end), 0.0))
            elif answers.not_a_person(start, end):
                continue
            out.append((start, end))
        return out

    def _coordinated(
        self,
        answers: NameAnswers,
        found: dict[tuple[int, int], float],
        persons: list[tuple[int, int]],
    ) -> None:
        """Names coordinated with names are names: "They had 6: Cezar, Anniina, Jane,
        Dagmar, Roger and Rajata" (the model reads Rajata as a place), when two or half
        the elements are people (ours, the model's or a gazetteer first name) or a cue
        stands before the first ("our 3 founders: Strnad, Slavík and Holmqvist"), and the
        coordination does not name a company (:func:`_coordinations`)."""
        text = answers.text

        def person(s: int, e: int) -> bool:
            first = _WORD.match(text, s)
            return (
                found.get((s, e), 0.0) >= 0.86
                or any(ps < e and s < pe for ps, pe in persons)
                or (first is not None and first.group().lower() in self.names.first)
            )

        for members, company in answers.coordinations():
            if company:
                continue
            cued = found.get(members[0], 0.0) >= 0.9 and bool(
                _CUE.search(text[max(0, members[0][0] - _CUE_WINDOW) : members[0][0]])
            )
            evidence = sum(person(s, e) for s, e in members)
            if not cued and evidence < 2 and 2 * evidence < len(members):
                continue
            for s, e in members:
                if not answers.not_a_person(s, e) and not all(
                    w.lower() in NOT_NAMES for w in _WORD.findall(text[s:e])
                ):
                    found[(s, e)] = max(0.86, found.get((s, e), 0.0))

    def _runs(self, text: str) -> list[list[tuple[int, int, str]]]:
        """Runs of capitalised words (particles inside), one space between words; the
        words that open sentences or are honorifics are left off a run's start."""
        runs: list[list[tuple[int, int, str]]] = []
        current: list[tuple[int, int, str]] = []
        pending: list[tuple[int, int, str]] = []  # particles waiting for a capital after
        last_end = -1
        for m in _WORD.finditer(text):
            word, start, end = m.group(), m.start(), m.end()
            joined = current and text[last_end:start] == " "
            lower = word.lower()
            if lower in ("apt", "suite"):
                if current:
                    runs.append(current)
                current, pending = [], []
            elif _capitalised(word) and lower.rstrip(".") not in HONORIFICS:
                if not (joined or (pending and text[last_end:start] == " ")):
                    if current:
                        runs.append(current)
                    current, pending = [], []
                current += pending + [(start, end, word)]
                pending = []
            elif joined and (lower in PARTICLES or lower in _CAPITAL_PARTICLES):
                pending.append((start, end, word))
            else:
                if current:
                    runs.append(current)
                current, pending = [], []
            last_end = end
        if current:
            runs.append(current)
        out = []
        for run in runs:
            while run and run[0][2].lower() in NOT_NAMES:
                run = run[1:]
            while run and run[-1][2].lower() in PARTICLES:
                run = run[:-1]
            if run:
                out.append(run[:4])
        return out

    def _judge(
        self, answers: NameAnswers, run: list[tuple[int, int, str]]
    ) -> list[tuple[int, int, float, bool]]:
        text = answers.text
        start, end = run[0][0], run[-1][1]
        if answers.place_or_company(start, end):
            return []
        words = [w.lower() for _, _, w in run]
        cue = bool(_CUE.search(text[max(0, start - _CUE_WINDOW) : start])) or bool(
            _AFTER.match(text, end)
        )
        first = words[0] in self.names.first
        if cue and not all(w in NOT_NAMES for w in words):
            return [(start, end, 0.9, True)]
        if first and len(run) > 1:
            return [(start, end, 0.9, False)]
        if first:
            return [(start, end, 0.8, False)]
        # by its shape: two capitalised words or more, none a common English word (nor a
        # street or company word, checked above), none written in capitals ("Oladimeji
        # Makinde listed ...", "Tapani Blomqvist"); below the model's 0.85, so that where
        # the model reads a place over the same words the place stands
        if (
            len(run) > 1
            and all(
                w in PARTICLES
                or w in _CAPITAL_PARTICLES
                or (len(w) > 1 and not is_english_word(w) and not text[s:e].isupper())
                for (s, e, _), w in zip(run, words, strict=True)
            )
            and not _own_line(text, start, end)
        ):
            return [(start, end, 0.75, False)]
        return []

    def _lower_case_intro(self, text: str, found: dict[tuple[int, int], float]) -> None:
        """ "hi this is richard smith", "hi this is arja kärkkäinen": after an
        introduction, a gazetteer first name, and the word after it when that is a name or
        no common English word; or two words that are no common words ("hi this is urgent"
        names nobody)."""
        for intro in _INTRO_AT.finditer(text):
            m = _WORD.match(text, intro.end())
            if m is None:
                continue
            word = m.group()
            known = word in self.names.first
            if not word.islower() or word in NOT_NAMES or (not known and is_english_word(word)):
                continue
            end = m.end()
            nxt = _WORD.match(text, end + 1) if text[end : end + 1] == " " else None
            if (
                nxt
                and nxt.group().islower()
                and nxt.group() not in NOT_NAMES
                and (nxt.group() in self.names.any_name or not is_english_word(nxt.group()))
            ):
                end = nxt.end()
            elif not known:  # a word no dictionary has, alone, may be any word
                continue
            found[(m.start(), end)] = max(0.86, found.get((m.start(), end), 0.0))
