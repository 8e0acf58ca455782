"""``DemoGenerator``: the rows of demo customer ``i`` (and its company), a pure function of
the seed and ``i``; the package's docstring says what the rows are like and how ids are made.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from demo.dice import Dice, ascii_fold, money, stable_int
from demo.pools import POOL_FIELDS, faker_pools
from demo.world import (
    AGENTS,
    CAMPAIGN_CHANNEL_DRAW,
    CAMPAIGN_CHANNELS,
    CAMPAIGN_SEASONS,
    CAMPAIGN_TOKENS,
    CAMPAIGNS_PER_CUSTOMER,
    CARD_BRAND_DRAW,
    CHOICE_FIELDS,
    CLICK_RATE,
    COLLECTIONS,
    COMPANY_SIZE_DRAW,
    COMPANY_WINDOW,
    COUNTRY_DRAW,
    CUSTOMERS_PER_COMPANY,
    EMAIL_DOMAINS,
    EMAIL_PATTERNS,
    EXCHANGE_RATES,
    EXTRA_LINES_PER_ORDER,
    FEEDBACK,
    FIELDS,
    FIRST_RESPONSE_MEDIAN,
    FREE_SHIPPING_CENTS,
    GENDER_DRAW,
    HISTORY_DAYS,
    IBAN_SENTENCES,
    INDUSTRIES,
    INTERACTION_KIND_DRAW,
    INTERACTION_SENTENCES,
    INTERACTION_SUMMARIES,
    INTERACTIONS_PER_CUSTOMER,
    IPV4_DOC_NETS,
    MAX_ORDERS,
    ONLINE_PAYMENT_METHODS,
    OPEN_RATE,
    ORDER_CHANNEL_DRAW,
    ORDER_NUMBER_FACTOR,
    ORDERS_PER_CUSTOMER,
    OUTCOMES,
    PAYMENT_DETAILS_PER_CUSTOMER,
    PII_SENTENCES,
    PRIORITY_DRAW,
    PRODUCT_ADJECTIVES,
    PRODUCT_COLOURS,
    PRODUCT_LINES,
    REFERENCE_TIME,
    REFERENCES,
    REFERRERS,
    SATISFACTION_DRAW,
    SEARCH_TERMS,
    SETTLED_ORDER_STATUS,
    SETTLED_TICKET_STATUS,
    SHIPPING_CENTS,
    STATIC_PAGES,
    SUBJECT,
    TICKET_DESCRIPTIONS,
    TICKET_PII_SENTENCES,
    TICKET_RESOLUTIONS,
    TICKET_TYPE_DRAW,
    TICKETS_PER_CUSTOMER,
    US_AREA_CODES,
    US_PAYMENT_METHODS,
    WEB_EVENTS_PER_CUSTOMER,
)
from policies.types import ID_COLUMN, SUBJECT_COLUMN, DataMap, FieldType

Rows = dict[str, list[dict[str, Any]]]


class DemoDataMapError(ValueError):
    """The data map cannot hold the demo data (names the collection and field, no value)."""


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    noun: str
    slug: str
    price_cents: dict[str, int]


def without_order_number(template: str) -> str:
    """The template for a customer with no order: "the order" instead of a number."""
    return (
        template.replace("your order {order}", "your order")
        .replace("Order {order}", "The order")
        .replace("order {order}", "the order")
        .replace("of {order}", "of the order")
    )


class DemoGenerator:
    """Rows of demo customer ``i`` (and its company), a pure function of (seed, i)."""

    def __init__(self, datamap: DataMap, seed: int) -> None:
        self.seed = seed
        self.collections = self._check(datamap)
        self._shapes = self._shape(datamap, self.collections)
        self._limits = {
            (c.name, f.name): f.max_length
            for c in datamap.collections.values()
            for f in c.fields.values()
            if f.max_length
        }
        self._dice = Dice()
        self._key = stable_int("demo", seed) << 32
        # UUIDv7 "milliseconds": a per-seed block of 2**30 counts, so seeds do not interleave
        self._id_base = (int(REFERENCE_TIME.timestamp()) * 1000 - 2**40) + (
            stable_int("ids", seed) % 1024
        ) * 2**30
        self._order_offset = stable_int("orders", seed) % 10**8
        seed_key = str(seed).encode()[:64]
        self._customer_hasher = hashlib.blake2b(digest_size=8, key=seed_key, person=b"customers")
        self._company_hasher = hashlib.blake2b(digest_size=8, key=seed_key, person=b"companies")
        self._ref_s = int(REFERENCE_TIME.timestamp())
        self._start_s = self._ref_s - HISTORY_DAYS * 86400
        self._pools = {code: pool.cut(self._pool_limit) for code, pool in faker_pools(seed).items()}
        self._products = self._build_products(seed)
        self._campaigns = self._build_campaigns()

    # -- set-up ------------------------------------------------------------------------
    @staticmethod
    def _check(datamap: DataMap) -> tuple[str, ...]:
        """The collections to fill; refuse a map that cannot take the demo rows."""
        if datamap.subject_collection != SUBJECT or SUBJECT not in datamap.collections:
            raise DemoDataMapError(f"the demo data needs the subject collection {SUBJECT!r}")
        present = [c for c in COLLECTIONS if c in datamap.collections]
        for (collection, ref_field), target in REFERENCES.items():
            if collection in present and target not in present:
                ref = datamap.collections[collection].fields.get(ref_field)
                if ref is not None and ref.required:
                    present.remove(collection)
        for name in present:
            declared = datamap.collections[name].fields
            for fname, spec in declared.items():
                if spec.required and fname not in FIELDS[name]:
                    raise DemoDataMapError(
                        f"the demo data does not fill required field {name}.{fname}"
                    )
            for fname in FIELDS[name]:
                found = declared.get(fname)
                if found is None:
                    continue
                used = CHOICE_FIELDS.get((name, fname))
                if used and found.choices and not set(used) <= set(found.choices):
                    raise DemoDataMapError(f"{name}.{fname} does not allow every demo value")
                if (name, fname) in REFERENCES and found.type is not FieldType.REF:
                    raise DemoDataMapError(f"{name}.{fname} must be a reference")
        return tuple(present)

    @staticmethod
    def _shape(datamap: DataMap, present: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
        """Per collection whose map differs from FIELDS, the generated fields to keep.

        Fields the map does not declare are dropped, and so is a reference to a collection
        the map lacks (the reference is then left empty).
        """
        shapes = {}
        for name in present:
            declared = datamap.collections[name].fields
            keep = tuple(
                f
                for f in FIELDS[name]
                if f in declared and REFERENCES.get((name, f), name) in present
            )
            if keep != FIELDS[name]:
                owned = datamap.collections[name].has_subject_column
                shapes[name] = (ID_COLUMN, *((SUBJECT_COLUMN,) if owned else ()), *keep)
        return shapes

    def _cut(self, collection: str, fname: str, value: str) -> str:
        limit = self._limits.get((collection, fname))
        return value[:limit].rstrip() if limit else value

    def _pool_limit(self, kind: str) -> int | None:
        limits = [self._limits[f] for f in POOL_FIELDS[kind] if f in self._limits]
        return min(limits) if limits else None

    def _build_products(self, seed: int) -> list[Product]:
        rng = random.Random(stable_int("products", seed))  # noqa: S311 - demo data
        products = []
        for code, category, nouns, low, high in PRODUCT_LINES:
            for noun in nouns:
                for adjective in rng.sample(PRODUCT_ADJECTIVES, 3):
                    colour = rng.choice(PRODUCT_COLOURS)
                    name = f"{adjective} {noun}, {colour}"
                    eur = rng.randrange(low * 100, high * 100) // 100 * 100 - 1  # x.99 prices
                    prices = {
                        cur: max(99, eur * rate // 100 // 100 * 100 + 99)
                        for cur, rate in EXCHANGE_RATES.items()
                    }
                    prices["EUR"] = eur
                    sku = f"SKU-{code}-{rng.randrange(10000, 99999)}"
                    words = "-".join(ascii_fold(w) for w in noun.split())
                    slug = f"{category}/{ascii_fold(adjective)}-{words}"
                    products.append(
                        Product(
                            self._cut("order_lines", "product_sku", sku),
                            self._cut("order_lines", "product_name", name),
                            noun.lower(),
                            slug,
                            prices,
                        )
                    )
        return products

    def _build_campaigns(self) -> dict[str, list[tuple[int, str]]]:
        """Per channel, (start second, code) of the campaigns of the demo's history, by start."""
        campaigns: dict[str, list[tuple[int, str]]] = {ch: [] for ch in CAMPAIGN_CHANNELS}
        for year in range(REFERENCE_TIME.year - 4, REFERENCE_TIME.year + 1):
            for season, month, day in CAMPAIGN_SEASONS:
                start = int(datetime(year, month, day, 8, tzinfo=UTC).timestamp())
                if not self._start_s - 60 * 86400 <= start < self._ref_s - 3 * 86400:
                    continue
                for channel in CAMPAIGN_CHANNELS:
                    code = f"CMP-{year}-{season}-{CAMPAIGN_TOKENS[channel]}"
                    code = self._cut("campaign_responses", "campaign_code", code)
                    campaigns[channel].append((start, code))
        for entries in campaigns.values():
            entries.sort()
        return campaigns

    # -- ids ---------------------------------------------------------------------------
    def _uuid7(self, tick: int, counter: int, tail: int) -> str:
        value = (
            ((self._id_base + tick) & (2**48 - 1)) << 80
            | 0x7 << 76
            | (counter & 0xFFF) << 64
            | 0b10 << 62
            | (tail & (2**62 - 1))
        )
        return f"{value:032x}"

    def _tail(self, hasher: Any, n: int) -> int:
        h = hasher.copy()
        h.update(n.to_bytes(8, "big"))
        return int.from_bytes(h.digest(), "big")

    def customer_id(self, i: int) -> str:
        return self._uuid7(i, 0, self._tail(self._customer_hasher, i))

    def company_id(self, j: int) -> str:
        return self._uuid7(j * CUSTOMERS_PER_COMPANY, 0, self._tail(self._company_hasher, j))

    # -- rows --------------------------------------------------------------------------
    def rows_for(self, indices: Sequence[int]) -> Rows:
        """The rows of the given customers (with their companies), by collection."""
        out: dict[str, list[dict[str, Any]]] = {c: [] for c in COLLECTIONS}
        for i in indices:
            self._customer(i, out)
        shaped = {c: out[c] for c in self.collections}
        for name, keep in self._shapes.items():
            shaped[name] = [{k: row.get(k) for k in keep} for row in shaped[name]]
        return shaped

    def _customer(self, i: int, out: Mapping[str, list[dict[str, Any]]]) -> None:  # noqa: C901
        dice = self._dice
        dice.seed(self._key | i)
        rand, pick, below, weighted = dice.random, dice.pick, dice.below, dice.weighted
        getrandbits = dice.getrandbits
        stamp = datetime.fromtimestamp
        uuid7 = self._uuid7
        ref_s = self._ref_s
        products = self._products

        if i % CUSTOMERS_PER_COMPANY == 0:
            self._company(i // CUSTOMERS_PER_COMPANY, out)

        # -- the customer
        country = weighted(COUNTRY_DRAW)
        pool = self._pools[country.code]
        gender = weighted(GENDER_DRAW)
        female = gender == "female" or (gender != "male" and rand() < 0.5)
        first, first_ascii = pick(pool.female if female else pool.male)
        last, last_ascii = pick(pool.last)
        street = pick(pool.streets)
        city, postal_code = pick(pool.places)
        local = pick(EMAIL_PATTERNS).format(first=first_ascii, last=last_ascii)[:48]
        email = f"{local}{i}@{pick(EMAIL_DOMAINS)}"  # the number keeps every address unique
        if country.code == "US":
            phone = f"+1{pick(US_AREA_CODES)}55501{below(100):02d}"
        else:
            digits = country.subscriber_digits
            phone = f"{pick(country.mobile_prefixes)}{below(10**digits):0{digits}d}"
        age = min(92, max(18, int(dice.gauss(44, 15))))
        dob = date(REFERENCE_TIME.year - age - 1, 1, 1) + timedelta(days=below(365))
        company_id = None
        if rand() < 0.6:
            newest = i // CUSTOMERS_PER_COMPANY
            company_id = self.company_id(newest - below(min(newest + 1, COMPANY_WINDOW)))
        customer_id = self.customer_id(i)
        out["customers"].append(
            {
                ID_COLUMN: customer_id,
                "first_name": first,
                "last_name": last,
                "email": email,
                "phone": phone if rand() < 0.85 else None,
                "street": street,
                "city": city,
                "postal_code": postal_code,
                "country": country.code,
                "date_of_birth": dob if rand() < 0.8 else None,
                "gender": gender,
                "language": country.language,
                "job_title": pick(pool.jobs) if company_id or rand() < 0.3 else None,
                "company_id": company_id,
            }
        )

        # -- when things happen: after the customer became known (more of them recently)
        since = ref_s - int(HISTORY_DAYS * 86400 * rand() ** 1.25) - 3600
        span = ref_s - since

        def when() -> int:
            return since + int(span * rand())

        iban = pick(pool.ibans) if country.sepa else None
        currency = country.currency
        ctx: dict[str, Any] = {
            "first": first,
            "last": last,
            "email": email,
            "phone": phone,
            "city": city,
            "street": street,
            "postal_code": postal_code,
            "iban": iban,
            "currency": currency,
            "dob": dob.isoformat(),
            "country_name": country.name,
        }

        def fill(template: str) -> str:
            if "{product}" in template:
                ctx["product"] = pick(products).noun
            if "{amount}" in template:
                ctx["amount"] = money(500 + below(24500))
            if "{colleague}" in template:
                given = pick(pool.female if rand() < 0.5 else pool.male)[0]
                ctx["colleague"] = f"{given} {pick(pool.last)[0]}"
            if "{date}" in template:
                ctx["date"] = stamp(ref_s + below(30 * 86400), UTC).date().isoformat()
            if "{qty}" in template:
                ctx["qty"] = 10 * (1 + below(50))
            if "{order}" in template and ctx["order"] is None:
                template = without_order_number(template)
            return template.format_map(ctx)

        # -- orders and their lines (first: notes, tickets and page views mention them)
        order_numbers: list[str] = []
        orders, lines = out["orders"], out["order_lines"]
        line_n = 0
        for n in range(weighted(ORDERS_PER_CUSTOMER)):
            at = when()
            age_days = (ref_s - at) // 86400
            order_id = uuid7(i, n, getrandbits(62))
            serial = (i * MAX_ORDERS + n) * ORDER_NUMBER_FACTOR + self._order_offset
            number = f"ORD-{serial % 10**8:08d}"
            order_numbers.append(number)
            total = 0
            for _ in range(1 + weighted(EXTRA_LINES_PER_ORDER)):
                product = pick(products)
                quantity = 1 if rand() < 0.8 else 2 + below(4)
                price = product.price_cents[currency]
                total += price * quantity
                lines.append(
                    {
                        ID_COLUMN: uuid7(i, line_n, getrandbits(62)),
                        SUBJECT_COLUMN: customer_id,
                        "order_id": order_id,
                        "product_sku": product.sku,
                        "product_name": product.name,
                        "quantity": quantity,
                        "unit_price": money(price),
                    }
                )
                line_n += 1
            channel = weighted(ORDER_CHANNEL_DRAW)
            if channel == "store":
                method = "card" if rand() < 0.6 else "cash"
            else:
                method = pick(ONLINE_PAYMENT_METHODS if country.sepa else US_PAYMENT_METHODS)
                if total < FREE_SHIPPING_CENTS:
                    total += SHIPPING_CENTS
            if age_days < 2:
                status = "placed" if rand() < 0.5 else "paid"
            elif age_days < 6:
                status = "paid" if rand() < 0.3 else "shipped"
            else:
                status = weighted(SETTLED_ORDER_STATUS)
            shipping = (street, city, postal_code)
            if rand() < 0.1:  # a gift, or to the office
                shipping = (pick(pool.streets), *pick(pool.places))
            store = channel == "store"
            orders.append(
                {
                    ID_COLUMN: order_id,
                    SUBJECT_COLUMN: customer_id,
                    "order_number": number,
                    "ordered_at": stamp(at, UTC),
                    "status": status,
                    "channel": channel,
                    "payment_method": method,
                    "currency": currency,
                    "total_amount": money(total),
                    "shipping_city": None if store else shipping[1],
                    "shipping_postal_code": None if store else shipping[2],
                }
            )
        # A note or ticket names one of the customer's own orders, or none: a number that is
        # not theirs would be another customer's order in their access export.
        ctx["order"] = pick(order_numbers) if order_numbers else None

        # -- interactions: notes, some of which name a phone number, email, IBAN or person
        rows = out["interactions"]
        for n in range(weighted(INTERACTIONS_PER_CUSTOMER)):
            kind = weighted(INTERACTION_KIND_DRAW)
            sentences = [fill(s) for s in dice.some(INTERACTION_SENTENCES, 1 + below(3))]
            roll = rand()
            if roll < 0.12:
                sentences.insert(below(len(sentences) + 1), fill(pick(PII_SENTENCES)))
            elif roll < 0.17 and iban:
                sentences.append(fill(pick(IBAN_SENTENCES)))
            if rand() < 0.4:
                sentences.append(f"- {pick(AGENTS)}")
            conversation = kind in ("email", "chat")  # mostly the customer writes first
            rows.append(
                {
                    ID_COLUMN: uuid7(i, n, getrandbits(62)),
                    SUBJECT_COLUMN: customer_id,
                    "kind": kind,
                    "direction": "inbound"
                    if rand() < (0.7 if conversation else 0.2)
                    else "outbound",
                    "occurred_at": stamp(when(), UTC),
                    "summary": self._cut(
                        "interactions", "summary", fill(pick(INTERACTION_SUMMARIES[kind]))
                    ),
                    "body": " ".join(sentences),
                    "outcome": pick(OUTCOMES[kind]) if rand() < 0.9 else None,
                }
            )

        # -- payment details: cards everywhere, SEPA direct debit where there is SEPA
        rows = out["payment_details"]
        for n in range(weighted(PAYMENT_DETAILS_PER_CUSTOMER)):
            sepa = iban is not None and rand() < 0.4
            expiry = 12 * (REFERENCE_TIME.year - 1) + below(72)
            billing = (street, city, postal_code)
            if rand() < 0.08:
                billing = (pick(pool.streets), *pick(pool.places))
            rows.append(
                {
                    ID_COLUMN: uuid7(i, n, getrandbits(62)),
                    SUBJECT_COLUMN: customer_id,
                    "method": "sepa_debit" if sepa else "card",
                    "card_brand": None if sepa else weighted(CARD_BRAND_DRAW),
                    "card_last4": None if sepa else f"{below(10000):04d}",
                    "card_expiry": None if sepa else f"{expiry // 12}-{expiry % 12 + 1:02d}",
                    "iban": (iban if n == 0 else pick(pool.ibans)) if sepa else None,
                    "billing_street": billing[0],
                    "billing_city": billing[1],
                    "billing_postal_code": billing[2],
                    "billing_country": country.code,
                }
            )

        # -- support tickets
        rows = out["support_tickets"]
        for n in range(weighted(TICKETS_PER_CUSTOMER)):
            at = when()
            ticket_type = weighted(TICKET_TYPE_DRAW)
            priority = weighted(PRIORITY_DRAW)
            text = fill(pick(TICKET_DESCRIPTIONS[ticket_type]))
            if rand() < 0.2:
                text = f"{text} {fill(pick(TICKET_PII_SENTENCES))}"
            if (ref_s - at) < 3 * 86400:
                status = "open" if rand() < 0.7 else "pending"
            else:
                status = weighted(SETTLED_TICKET_STATUS)
            done = status in ("resolved", "closed")
            answered = status != "open" or rand() < 0.3
            rows.append(
                {
                    ID_COLUMN: uuid7(i, n, getrandbits(62)),
                    SUBJECT_COLUMN: customer_id,
                    "ticket_type": ticket_type,
                    "priority": priority,
                    "opened_at": stamp(at, UTC),
                    "description": text,
                    "first_response_minutes": (
                        max(
                            1,
                            int(FIRST_RESPONSE_MEDIAN[priority] * math.exp(0.8 * dice.gauss(0, 1))),
                        )
                        if answered
                        else None
                    ),
                    "status": status,
                    "resolution": fill(pick(TICKET_RESOLUTIONS[ticket_type])) if done else None,
                    "satisfaction": weighted(SATISFACTION_DRAW) if done and rand() < 0.65 else None,
                }
            )

        # -- campaign responses: to campaigns sent after the customer became known
        rows = out["campaign_responses"]
        n = 0
        for _ in range(weighted(CAMPAIGNS_PER_CUSTOMER)):
            channel = weighted(CAMPAIGN_CHANNEL_DRAW)
            campaigns = self._campaigns[channel]
            first_eligible = bisect.bisect_left(campaigns, (since,))
            if first_eligible >= len(campaigns):
                continue
            start, code = campaigns[first_eligible + below(len(campaigns) - first_eligible)]
            if channel == "direct_mail":
                opened = clicked = None  # whether a letter was read is not known
            else:
                opened = rand() < OPEN_RATE[channel]
                clicked = opened and rand() < CLICK_RATE[channel]
            rows.append(
                {
                    ID_COLUMN: uuid7(i, n, getrandbits(62)),
                    SUBJECT_COLUMN: customer_id,
                    "campaign_code": code,
                    "channel": channel,
                    "sent_at": stamp(start + below(3 * 86400), UTC),
                    "opened": opened,
                    "clicked": clicked,
                    "feedback": fill(pick(FEEDBACK)) if opened and rand() < 0.08 else None,
                }
            )
            n += 1

        # -- web events: from a device or two, over an address or two
        rows = out["web_events"]
        views = weighted(WEB_EVENTS_PER_CUSTOMER)
        if views:
            devices = [f"{getrandbits(128):032x}" for _ in range(2 if rand() < 0.35 else 1)]
            addresses = [self._ip(dice) for _ in range(1 + below(3))]
        for n in range(views):
            roll = rand()
            if roll < 0.4:
                page = f"/products/{pick(products).slug}"
            elif roll < 0.5:
                page = f"/search?q={pick(SEARCH_TERMS)}"
            elif roll < 0.55 and order_numbers:
                page = f"/account/orders/{pick(order_numbers)}"
            else:
                page = pick(STATIC_PAGES)
            if rand() < 0.08:
                page += ("&" if "?" in page else "?") + "utm_source=newsletter"
            rows.append(
                {
                    ID_COLUMN: uuid7(i, n, getrandbits(62)),
                    SUBJECT_COLUMN: customer_id,
                    "occurred_at": stamp(when(), UTC),
                    "page": page,
                    "duration_seconds": max(1, int(math.exp(3.3 + dice.gauss(0, 1)))),
                    "device_id": pick(devices),
                    "ip_address": pick(addresses),
                    "referrer": pick(REFERRERS),
                }
            )

    @staticmethod
    def _ip(dice: Dice) -> str:
        # documentation ranges only (RFC 5737, RFC 3849): addresses no real device has
        if dice.random() < 0.7:
            return f"{dice.pick(IPV4_DOC_NETS)}.{1 + dice.below(254)}"
        return "2001:db8:" + ":".join(f"{dice.getrandbits(16):x}" for _ in range(6))

    def _company(self, j: int, out: Mapping[str, list[dict[str, Any]]]) -> None:
        dice = self._dice
        country = dice.weighted(COUNTRY_DRAW)
        low, high = dice.weighted(COMPANY_SIZE_DRAW)
        employees = low + dice.below(high - low + 1)
        revenue_cents = employees * (40_000 + dice.below(360_000)) * 100
        out["companies"].append(
            {
                ID_COLUMN: self.company_id(j),
                "name": dice.pick(self._pools[country.code].companies),
                "industry": dice.pick(INDUSTRIES),
                "employee_count": employees,
                "annual_revenue": money(revenue_cents) if dice.random() < 0.8 else None,
                "country": country.code,
            }
        )
