"""Fill the independent templates with values and record the spans of personal data."""

from __future__ import annotations

import datetime
import random
import re
from collections.abc import Callable
from pathlib import Path

from faker import Faker

from governance.pii.evaluation import Document, _Builder
from governance.pii.recognizers.credit_card import luhn_ok

HERE = Path(__file__).parent
# Faker locales none of governance.pii.evaluation.LOCALES: names of many cultures
FILL_LOCALES = (
    "pl_PL",
    "pt_BR",
    "tr_TR",
    "en_IN",
    "vi_VN",
    "cs_CZ",
    "sv_SE",
    "fi_FI",
    "ro_RO",
    "yo_NG",
    "ga_IE",
    "zu_ZA",
    "tw_GH",
    "en_NZ",
)
IBAN_LOCALES = ("pl_PL", "pt_BR", "tr_TR", "cs_CZ", "sv_SE", "fi_FI", "ro_RO")
PERSON_SLOTS = {
    "person",
    "name",
    "first_name",
    "last_name",
    "name_female",
    "name_male",
    "first_name_male",
    "first_name_female",
    "first_name_nonbinary",
    "last_name_male",
    "last_name_female",
}
_START, _END = datetime.datetime(1950, 1, 1), datetime.datetime(2024, 12, 31)
_SLOT = re.compile(r"\{\{(\w+)\}\}")


class _Filler:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - test data
        self.fakers = {loc: Faker(loc) for loc in FILL_LOCALES}
        for i, f in enumerate(self.fakers.values()):
            f.seed_instance(seed * 1000 + i)
        self.us = Faker("en_CA")  # NANP numbers (+1), not the generator's en_US lists
        self.us.seed_instance(seed)
        self.ssn = Faker("en_US")
        self.ssn.seed_instance(seed + 1)

    def fake(self) -> Faker:
        return self.fakers[self.rng.choice(FILL_LOCALES)]

    def value(self, slot: str) -> tuple[str, str | None]:
        f, rng = self.fake(), self.rng
        if slot in ("person", "name", "name_female", "name_male"):
            return f"{f.first_name()} {f.last_name()}", "PERSON"
        if slot.startswith("first_name"):
            return f.first_name(), "PERSON"
        if slot.startswith("last_name"):
            return f.last_name(), "PERSON"
        if slot == "email":
            return self.fake().email(), "EMAIL_ADDRESS"
        if slot == "phone_number":
            return self.us.phone_number(), "PHONE_NUMBER"
        if slot == "credit_card_number":
            return self.ssn.credit_card_number(), "CREDIT_CARD"
        if slot == "iban":
            return self.fakers[rng.choice(IBAN_LOCALES)].iban(), "IBAN_CODE"
        if slot == "ssn":
            return self.ssn.ssn(), "US_SSN"
        simple: dict[str, Callable[[], str]] = {
            "organization": f.company,
            "city": f.city,
            "country": f.country,
            "address": lambda: f.address().replace("\n", ", "),
            "street_name": f.street_name,
            "building_number": f.building_number,
            "age": lambda: str(rng.randint(18, 90)),
            "secondary_address": lambda: f"Apt. {rng.randint(1, 300)}",
            "year": lambda: str(rng.randint(1950, 2024)),
            "postcode": f.postcode,
            "zipcode": f.postcode,
            "job": f.job,
            "url": f.url,
            # fixed ranges: Faker's defaults end at today, which would change the set daily
            "date_time": lambda: str(f.date_time_between(_START, _END).replace(microsecond=0)),
            "date_of_birth": lambda: f.date_between(_START, _END).isoformat(),
            "state_abbr": lambda: rng.choice(("CA", "NY", "TX", "WA")),
            "ip_address": f.ipv4,
            "day_of_week": f.day_of_week,
            "prefix_male": lambda: "Mr.",
            "prefix_female": lambda: "Ms.",
            "prefix": lambda: "Dr.",
            "nationality": lambda: rng.choice(("Polish", "Brazilian", "Turkish", "Indian")),
            "nation_woman": lambda: "Brazilian woman",
            "nation_plural": lambda: "Brazilians",
            "us_driver_license": lambda: f"D{rng.randrange(10**7):07d}",
        }
        return simple[slot](), None

    def fill(self, template: str, kind: str) -> Document:
        b = _Builder()
        pos = 0
        for m in _SLOT.finditer(template):
            b.text(template[pos : m.start()])
            value, entity = self.value(m.group(1))
            if entity:
                b.pii(entity, value)
            else:
                b.text(value)
            pos = m.end()
        b.text(template[pos:])
        return b.build(kind)


def presidio_templates(seed: int = 19, rounds: int = 3) -> list[Document]:
    """Every template of presidio-evaluator's ``templates.txt``, filled ``rounds`` times."""
    lines = (HERE / "presidio_evaluator_templates.txt").read_text(encoding="utf-8").splitlines()
    filler = _Filler(seed)
    return [
        filler.fill(t.strip(), "presidio_template")
        for _ in range(rounds)
        for t in lines
        if t.strip()
    ]


def _lookalike(rng: random.Random) -> dict[str, str]:
    """Digit runs that are not personal data; the tracking number is 16 digits passing Luhn
    (card-shaped, and not a card)."""

    def luhn16() -> str:
        while True:
            body = "9" + "".join(str(rng.randrange(10)) for _ in range(15))
            if luhn_ok(body):
                return body

    return {
        "order": f"{rng.randrange(10**7, 10**8)}",
        "ticket": f"#{rng.randrange(10**5, 10**6)}",
        "sku": f"SKU {rng.randrange(10**3, 10**4)}-{rng.randrange(10**3, 10**4)}",
        "po": f"PO {rng.randrange(4500000000, 4600000000)}",
        "tracking": luhn16(),
        "ups": f"1Z{rng.randrange(10**15):015d}",
        "amount": f"${rng.randrange(10, 5000):,}.{rng.randrange(100):02d}",
        "date": f"{rng.randint(1, 12)}/{rng.randint(1, 28)}/2025",
        "gate": f"{rng.randrange(1000, 10000)}#",
        "qty": str(rng.randint(2, 40)),
        "invoice": f"INV-{rng.randrange(2020, 2026)}-{rng.randrange(10**4, 10**5)}",
    }


CRM_NOTES = (
    "called {person} re order {order}, she wants a refund of {amount}. cb {phone}",
    "hey its {first} here, my order {order} still hasnt shipped?? tracking {tracking}",
    "{person} ({email}) asked about invoice {invoice} from {date}",
    "left vm for {person} at {phone} about ticket {ticket}",
    "per {person}: gate code {gate}, leave parcel at back door. qty {qty}",
    "PO {po_bare} approved by {person}, total {amount}",
    "customer says sku {sku_bare} arrived damaged, pls ship replacement. "
    "{first} will be home after 5",
    "tracking no. {tracking} shows delivered on {date} but {first} never got it",
    "chat: hi this is {first_lower} {last_lower}, can u check order {order}",
    "chat: ok thx, my number is {phone} and email {email}",
    "{person}2 is the username, real name {person}",
    "ssn on file {ssn} verified with {person} over the phone",
    "refund {amount} to card {card}, approved by {first}",
    "ups {ups} lost in transit, opened ticket {ticket} for {person}",
    "wire from {iban} received, {amount}, ref {invoice}",
    "Account owner: {person}. Phone: {phone}. Email: {email}.",
    "{first} mentioned her husband {person} will pick up the {qty} boxes",
    "note from {person} re SKU {sku_bare}: colour was wrong. reorder {order}",
    "thanks {first}! your ticket {ticket} is closed. total charged {amount}",
    "escalated to {person} (team lead). customer cb number {phone}",
    "Kind regards,\n{person}\n{phone}",
    "{email} wrote in: order {order} for {amount} was charged twice on {date}",
    "po {po_bare} / invoice {invoice} / amount {amount} - all matched, no action",
    "tracking {tracking} and order {order} both refer to the same shipment",
    "gate {gate} and suite {qty} for delivery on {date}, contact {first} {phone}",
)


def crm_notes(count: int = 300, seed: int = 23) -> list[Document]:
    """CRM-style notes from the templates above, filled with other locales' names."""
    filler = _Filler(seed)
    rng = filler.rng
    docs = []
    for n in range(count):
        template = CRM_NOTES[n % len(CRM_NOTES)]
        f = filler.fake()
        first, last = f.first_name(), f.last_name()
        look = _lookalike(rng)
        values: dict[str, tuple[str, str | None]] = {
            "person": (f"{first} {last}", "PERSON"),
            "first": (first, "PERSON"),
            "first_lower": (first.lower(), "PERSON"),
            "last_lower": (last.lower(), "PERSON"),
            "email": (f.email(), "EMAIL_ADDRESS"),
            "phone": (filler.us.phone_number(), "PHONE_NUMBER"),
            "ssn": (filler.ssn.ssn(), "US_SSN"),
            "card": (filler.ssn.credit_card_number(), "CREDIT_CARD"),
            "iban": (filler.fakers[rng.choice(IBAN_LOCALES)].iban(), "IBAN_CODE"),
            "po_bare": (look["po"][3:], None),
            "sku_bare": (look["sku"][4:], None),
        }
        values.update({k: (v, None) for k, v in look.items() if k not in values})
        b = _Builder()
        b.fill(template, values)
        docs.append(b.build("crm_note"))
    return docs


SOURCES: dict[str, Callable[..., list[Document]]] = {
    "presidio_templates": presidio_templates,
    "crm_notes": crm_notes,
}
# The held-out figures are the mean and the worst over several splits, each the held-out half
# of the source filled afresh (issue 26 item 18: on one half of one filling, a single split's
# luck decided whether a type met its target). The first split is the one tuned beside (the
# source's own fill seed, split seed 2026); the others fill the templates with their split
# seed, so their names, numbers and addresses were never seen while tuning, and only their
# tune halves may be read one by one.
SPLIT_SEEDS = (2026, 2027, 2028, 2029, 2030, 2031)


def split(docs: list[Document], part: str, seed: int = 2026) -> list[Document]:
    """The seeded half ``tune`` (to look at while tuning) or ``held_out`` (to report on)."""
    rng = random.Random(seed)  # noqa: S311
    marks = [rng.random() < 0.5 for _ in docs]
    want = part == "tune"
    return [d for d, m in zip(docs, marks, strict=True) if m == want]


def split_documents(source: str, split_seed: int, part: str = "held_out") -> list[Document]:
    """One split's half of ``source``: filled with its own seed (the source's default for the
    first of :data:`SPLIT_SEEDS`), halved with the split seed."""
    make = SOURCES[source]
    docs = make() if split_seed == SPLIT_SEEDS[0] else make(seed=split_seed)
    return split(docs, part, split_seed)
