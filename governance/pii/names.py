"""What the person-name recognizer knows about names: a first- and last-name gazetteer, the
words that are never a name, and the words that make a capitalised run a street or a company.

The gazetteer is built, once per process, from the name lists of Faker (MIT licence, already
a dependency; nothing is downloaded): about 26,000 first names and 22,000 last names of
the locales in :data:`GAZETTEER_LOCALES`, about 0.8 s to build from the installed package
(once, when the analyzer is built). Those are
the Faker locales that neither labelled evaluation set fills its names from (the project's
generator, ``evaluation.LOCALES``, and the independent sources, ``FILL_LOCALES``), so the
evaluation measures names the gazetteer was not built from; a unit test holds the two apart.
That costs the English lists of en_US and en_GB (their common names are in en_IE, en_KE,
en_NG, en_PK ... anyway), and leaves Yoruba, Zulu, Twi and Turkish names, which no kept
locale lists, to the cues and the model: what a gazetteer does for a culture it lacks.

Common English words (``english_words.txt.gz`` beside this file, 30,000 words, 85 kB, about
20 ms to load): the lower-case words of spaCy's en_core_web_sm vocabulary (MIT) whose word or
stem is a lower-case entry of Webster's Second International Dictionary (1934, public domain;
FreeBSD's ``share/dict/web2``). That dictionary capitalises proper nouns, so names are not in
it unless they are also words ("grace", "smith"). Two capitalised words that are neither
common words nor place or company words are a name by their shape ("Oladimeji Makinde"),
and a "person" of common words only, none a name, is a title ("Guilty Pleasures").

Other gazetteers on PyPI were weighed and not taken: ``gender-guesser``'s name dictionary is
GPL (this project is Apache-2.0), and ``names-dataset`` is built from a leak of Facebook
users' data, which a privacy gateway should not ship.
"""

from __future__ import annotations

import gzip
import importlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from spacy.lang.en.stop_words import STOP_WORDS

# Faker locales with person providers, less those either evaluation fills names from.
GAZETTEER_LOCALES = (
    "ar_AA",
    "ar_DZ",
    "ar_PS",
    "ar_SA",
    "az_AZ",
    "bg_BG",
    "bn_BD",
    "da_DK",
    "de_AT",
    "de_CH",
    "de_LI",
    "de_LU",
    "el_GR",
    "en",
    "en_IE",
    "en_KE",
    "en_NG",
    "en_PK",
    "en_TH",
    "es",
    "es_AR",
    "es_CA",
    "es_CL",
    "es_CO",
    "es_MX",
    "et_EE",
    "fa_IR",
    "fr_BE",
    "fr_CA",
    "fr_CH",
    "fr_DZ",
    "fr_QC",
    "gu_IN",
    "ha_NG",
    "he_IL",
    "hi_IN",
    "hr_HR",
    "hu_HU",
    "hy_AM",
    "id_ID",
    "ig_NG",
    "is_IS",
    "ja_JP",
    "ka_GE",
    "ko_KR",
    "lt_LT",
    "lv_LV",
    "mk_MK",
    "mr_IN",
    "ne_NP",
    "nl_BE",
    "no_NO",
    "or_IN",
    "pt_PT",
    "ru_RU",
    "si_LK",
    "sk_SK",
    "sl_SI",
    "sw",
    "ta_IN",
    "th_TH",
    "uk_UA",
    "uz_UZ",
    "zh_CN",
    "zh_TW",
)

# English words that Faker's lists also hold as names ("Will", "May", "Rose", "Grant"): a
# capitalised one still counts after a cue, never on its own. Months and days as well.
_ENGLISH = frozenset(
    {
        "about",
        "after",
        "all",
        "also",
        "april",
        "august",
        "baker",
        "bill",
        "bishop",
        "black",
        "brown",
        "bush",
        "can",
        "carpenter",
        "case",
        "chance",
        "christmas",
        "church",
        "clay",
        "cook",
        "cross",
        "day",
        "dean",
        "december",
        "delivery",
        "do",
        "don",
        "early",
        "east",
        "english",
        "faith",
        "fall",
        "february",
        "field",
        "fisher",
        "ford",
        "forest",
        "fox",
        "friday",
        "frost",
        "gay",
        "glass",
        "gold",
        "golden",
        "grace",
        "grant",
        "gray",
        "green",
        "grey",
        "guy",
        "hall",
        "happy",
        "hay",
        "heath",
        "hill",
        "holly",
        "honey",
        "hope",
        "house",
        "hunt",
        "hunter",
        "ivy",
        "jack",
        "january",
        "joy",
        "july",
        "june",
        "justice",
        "king",
        "lake",
        "lane",
        "law",
        "lee",
        "little",
        "long",
        "love",
        "lucky",
        "major",
        "march",
        "mark",
        "marsh",
        "mason",
        "may",
        "miles",
        "miller",
        "monday",
        "moon",
        "moore",
        "morning",
        "new",
        "north",
        "november",
        "october",
        "order",
        "page",
        "park",
        "parker",
        "pat",
        "patience",
        "penny",
        "pearl",
        "pierce",
        "pope",
        "post",
        "price",
        "ray",
        "read",
        "reed",
        "rich",
        "river",
        "rock",
        "rose",
        "ruby",
        "saturday",
        "september",
        "shepherd",
        "short",
        "sky",
        "smart",
        "snow",
        "south",
        "spring",
        "star",
        "stone",
        "street",
        "summer",
        "sunday",
        "sunny",
        "sweet",
        "taylor",
        "thursday",
        "tuesday",
        "turner",
        "victory",
        "wade",
        "walker",
        "ward",
        "warren",
        "wednesday",
        "west",
        "white",
        "will",
        "winter",
        "wood",
        "young",
    }
)
# roles and titles: before a name they are a cue, in a "name" they make it no person's
TITLES = frozenset(
    {
        "answer",
        "question",
        "awarded",
        "producer",
        "director",
        "manager",
        "princess",
        "prince",
        "king",
        "queen",
        "lord",
        "lady",
        "royal",
        "president",
        "minister",
        "ceo",
        "captain",
        "officer",
        "ranger",
        "salesperson",
        "songwriter",
        "singer",
        "player",
        "founder",
        "author",
        "editor",
        "chairman",
        "chair",
        "professor",
        "senator",
        "governor",
        "mayor",
    }
)
OPENERS = TITLES | frozenset(
    {
        "i'm",
        "i'd",
        "i'll",
        "i've",
        "im",
        "hi",
        "hello",
        "hey",
        "hiya",
        "dear",
        "thanks",
        "thank",
        "thx",
        "cheers",
        "regards",
        "sure",
        "ok",
        "okay",
        "yes",
        "yeah",
        "yep",
        "sorry",
        "bye",
        "goodbye",
        "welcome",
        "great",
        "fine",
        "alright",
        "please",
        "pls",
        "customer",
        "agent",
        "user",
        "bot",
        "chat",
        "note",
        "name",
        "kind",
        "best",
        "team",
        "service",
        "support",
    }
)
NOT_NAMES = frozenset(STOP_WORDS) | _ENGLISH | OPENERS

# A capitalised run ending in, or followed by, one of these is a street, a building or a
# company, not a person ("Russell Street", "Gillian Trail Suite 449", "Macedo Ltda").
PLACE_OR_COMPANY = frozenset(
    {
        "street",
        "st",
        "str",
        "road",
        "rd",
        "avenue",
        "ave",
        "av",
        "lane",
        "ln",
        "drive",
        "way",
        "court",
        "ct",
        "boulevard",
        "blvd",
        "place",
        "pl",
        "square",
        "sq",
        "trail",
        "suite",
        "apt",
        "apartment",
        "highway",
        "hwy",
        "terrace",
        "crescent",
        "close",
        "parkway",
        "plaza",
        "alley",
        "row",
        "rest",
        "rue",
        "via",
        "viale",
        "strasse",
        "straße",
        "gasse",
        "weg",
        "ltd",
        "ltda",
        "limited",
        "inc",
        "llc",
        "llp",
        "plc",
        "gmbh",
        "ag",
        "kg",
        "ab",
        "hb",
        "oy",
        "oyj",
        "osk",
        "as",
        "asa",
        "sa",
        "sas",
        "sarl",
        "srl",
        "spa",
        "bv",
        "nv",
        "corp",
        "corporation",
        "co",
        "company",
        "group",
        "holdings",
        "partners",
        "associates",
        "bank",
        "hotel",
        "airport",
        "station",
        "university",
        "school",
        "hospital",
        "church",
        "museum",
        "bridge",
        "ry",
        "pty",
        "pvt",
        "sro",
        "vos",
        "kft",
        "zrt",
        "ky",
        "tmi",
        "snc",
        "scs",
        "sca",
        "pfa",
        "bhd",
        "sdn",
        "pte",
        "sprl",
        "bvba",
        "eurl",
        "ohg",
        "ug",
        "aps",
        "sl",
        "slu",
    }
)
# the same at a run's start: street words that come before the name in many languages
# ("Strada Ion Creangă", "Rua Augusta", "Phố Lê Lợi"), and place-name words
STREET_FIRST = frozenset(
    {
        "strada",
        "str",
        "soseaua",
        "șoseaua",
        "drumul",
        "aleea",
        "calea",
        "bulevardul",
        "splaiul",
        "intrarea",
        "piata",
        "piața",
        "rua",
        "avenida",
        "av",
        "travessa",
        "largo",
        "praça",
        "praca",
        "rodovia",
        "trevo",
        "estrada",
        "vila",
        "via",
        "viale",
        "piazza",
        "calle",
        "carrer",
        "paseo",
        "plaza",
        "ulica",
        "ul",
        "ulice",
        "náměstí",
        "namesti",
        "sokak",
        "sokağı",
        "cadde",
        "caddesi",
        "phố",
        "đường",
        "hẻm",
        "xã",
        "phường",
        "tỉnh",
        "quận",
        "huyện",
        "thành",
        "tp",
        "số",
        "apt",
        "suite",
        "mount",
        "mt",
        "port",
        "fort",
        "lake",
        "cape",
        "gate",
        "north",
        "south",
        "east",
        "west",
        "upper",
        "lower",
        "new",
        "old",
        "saint",
        "san",
        "santa",
        "são",
        "route",
        "rue",
        "avenue",
        "boulevard",
        "chemin",
        "impasse",
        "allée",
        "place",
        "platz",
        "gata",
        "gatan",
        "vägen",
        "katu",
        "tie",
        # Polish and Brazilian street kinds (issue 26 item 18: "aleja Wiosenna 86/82", "Lagoa de
        # Sampaio, 65"; Brazil's logradouro kinds)
        "aleja",
        "al",
        "plac",
        "osiedle",
        "os",
        "alameda",
        "favela",
        "feira",
        "setor",
        "lagoa",
        "vale",
        "loteamento",
        "núcleo",
        "nucleo",
        "recanto",
        "viela",
        "parque",
        "conjunto",
        "chácara",
        "colônia",
        "colonia",
        "distrito",
        "jardim",
        "quadra",
        "residencial",
        "sítio",
        "vereda",
        "ladeira",
        "passarela",
        "pátio",
        "trecho",
        "condomínio",
        "esplanada",
        "fazenda",
    }
)
# the street kinds of STREET_FIRST that, right before a capitalised run, make it a street's
# name ("ulica Cisowa 35", "pl. Floriana 31/01", "Strada Doriana Eftimie"); not the words
# that also open names or phrases ("New", "Saint", "Santa", "Port", "via", "apt")
STREET_BEFORE = STREET_FIRST - frozenset(
    {
        "mount",
        "mt",
        "port",
        "fort",
        "lake",
        "cape",
        "gate",
        "north",
        "south",
        "east",
        "west",
        "upper",
        "lower",
        "new",
        "old",
        "saint",
        "san",
        "santa",
        "são",
        "via",
        "tie",
        "apt",
        "suite",
        "place",
        "route",
        "vila",
        "thành",
        "số",
        "tp",
        "xã",
        "phường",
        "tỉnh",
        "quận",
        "huyện",
        "vale",
        "campo",
    }
)
# company words (besides PLACE_OR_COMPANY) that follow a name in many languages
COMPANY_AFTER = frozenset(
    {
        "công",
        "ty",
        "tnhh",
        "nr",
        "and sons",
        "s/a",
        "sa",
        "ltd",
        "cia",
        "hnos",
        "e filhos",
        "ve",
        "ortakları",
        "group",
        "con",
    }
)


@lru_cache(maxsize=1)
def countries() -> frozenset[str]:
    """Country names in English (Faker's list; a place, not a person)."""
    from faker.providers.address.en_US import Provider

    return frozenset(c.lower() for c in Provider.countries)


# lower-case particles inside a name ("Lucas da Luz", "Ana de la Cruz", "Mark Mac mBriartaigh")
PARTICLES = frozenset(
    {
        "da",
        "de",
        "del",
        "della",
        "der",
        "den",
        "di",
        "do",
        "dos",
        "das",
        "du",
        "la",
        "le",
        "van",
        "von",
        "ter",
        "ten",
        "bin",
        "ibn",
        "al",
        "el",
    }
)
# honorifics: a cue, never a name by themselves
HONORIFICS = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam", "dame"})


@dataclass(frozen=True)
class Gazetteer:
    first: frozenset[str]  # lower-cased
    last: frozenset[str]
    # every first and last name of the lists, the common words among them too ("grace")
    any_name: frozenset[str] = frozenset()

    def knows(self, word: str) -> bool:
        w = word.lower()
        return w in self.first or w in self.last


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    """First and last names of :data:`GAZETTEER_LOCALES`, lower-cased, less common words."""
    first: set[str] = set()
    last: set[str] = set()
    for locale in GAZETTEER_LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for attr in dir(provider):
            into = (
                first
                if attr.startswith("first_names")
                else (last if attr.startswith("last_names") else None)
            )
            values = getattr(provider, attr) if into is not None else None
            if into is not None and isinstance(values, (dict, tuple, list, set, frozenset)):
                into.update(v.lower() for v in values if isinstance(v, str) and len(v) > 1)
    # "Mac", "Mc", "Ó" and "Ní" open Irish and Scottish surnames (and company names built
    # from them): a particle, not a first name
    not_first = NOT_NAMES | {"mac", "mc", "ó", "ní", "nic", "van", "von", "de", "da"}
    return Gazetteer(
        frozenset(first - not_first), frozenset(last - NOT_NAMES), frozenset(first | last)
    )


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Common English words, lower-cased (``english_words.txt.gz``; see the module's
    docstring for where they come from)."""
    path = Path(__file__).with_name("english_words.txt.gz")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return frozenset(w for w in f.read().split("\n") if w and not w.startswith("#"))


_INFLECTIONS = (
    ("ies", "y"),
    ("es", ""),
    ("s", ""),
    ("ied", "y"),
    ("ed", ""),
    ("ed", "e"),
    ("ing", ""),
    ("ing", "e"),
    ("'s", ""),
    ("’s", ""),
)


def is_english_word(word: str) -> bool:
    """Whether ``word`` (any case) is a common English word or an inflection of one."""
    words = english_words()
    w = word.lower()
    return w in words or any(
        w.endswith(suffix) and w[: -len(suffix)] + stem in words
        for suffix, stem in _INFLECTIONS
        if len(w) > len(suffix) + 2
    )
