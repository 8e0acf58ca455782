"""The demo CRM generator, against a real migrated SQLite store per test."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from demo.generator import DemoDataMapError, DemoGenerator
from demo.store import fill_demo_store
from demo.world import COLLECTIONS, FIELDS, HISTORY_DAYS, REFERENCE_TIME
from governance.db import make_engine, make_session_factory, unit_of_work
from governance.settings import PACKAGED_POLICY_DIR
from governance.store.schema import CrmTables
from governance.store.services import RecordStore
from policies.loader import load_policy_set
from policies.types import CREATED_COLUMN, UPDATED_COLUMN, DataMap
from tests.migrated import migrated

CUSTOMERS = 60
BATCH = 25  # three batches: 25, 25 and 10 customers
SEED = 7


@pytest.fixture(scope="module")
def datamap() -> DataMap:
    return load_policy_set(PACKAGED_POLICY_DIR).datamap


@pytest.fixture
def new_store(tmp_path: Path):
    """Call with a name to get the session factory of a freshly migrated SQLite database."""
    engines = []

    def make(name: str = "crm"):
        url = f"sqlite:///{tmp_path / name}.db"
        migrated(url)
        engine = make_engine(url)
        engines.append(engine)
        return make_session_factory(engine)

    yield make
    for engine in engines:
        engine.dispose()


def dump(session_factory, datamap: DataMap, crypto) -> dict[str, list[tuple]]:
    """Every row of every CRM collection, ordered by id, as plain values: clear columns as
    stored (without engine timestamps), encrypted ones as the read path opens them (the
    ciphertexts themselves differ between two stores: fresh nonces and data keys)."""
    tables = CrmTables(datamap)
    result = {}
    for name, collection in datamap.collections.items():
        table = tables[name]
        clear = [
            c
            for c in table.c
            if c.name not in (CREATED_COLUMN, UPDATED_COLUMN)
            and not (c.name in collection.fields and collection.fields[c.name].encrypted)
        ]
        with unit_of_work(session_factory) as session:
            rows = [tuple(r) for r in session.execute(select(*clear).order_by(table.c.id))]
        opened = records(session_factory, datamap, name, crypto)
        encrypted = [f for f, spec in collection.fields.items() if spec.encrypted]
        result[name] = [
            row + tuple(rec[f] for f in encrypted) for row, rec in zip(rows, opened, strict=True)
        ]
    return result


def records(session_factory, datamap: DataMap, collection: str, crypto) -> list[dict]:
    """All records of a collection as the store's read path returns them (JSON values)."""
    found: list[dict] = []
    with unit_of_work(session_factory) as session:
        store = RecordStore(session, datamap, CrmTables(datamap), crypto)
        after = None
        while True:
            page = store.list(collection, after=after, limit=500)
            found += [r.as_json() for r in page.items]
            if page.next_after is None:
                return found
            after = page.next_after


def counts(session_factory, datamap: DataMap) -> dict[str, int]:
    tables = CrmTables(datamap)
    with unit_of_work(session_factory) as session:
        return {
            name: len(session.execute(select(tables[name].c.id)).all())
            for name in datamap.collections
        }


# -- determinism -------------------------------------------------------------------------------


def test_the_same_seed_writes_identical_rows_and_ids_into_two_databases(new_store, datamap, crypto):
    first, second = new_store("first"), new_store("second")
    fill_demo_store(first, datamap, crypto, customers=CUSTOMERS, seed=SEED, batch_size=BATCH)
    fill_demo_store(second, datamap, crypto, customers=CUSTOMERS, seed=SEED, batch_size=BATCH)

    a, b = dump(first, datamap, crypto), dump(second, datamap, crypto)
    assert a == b
    assert len(a["customers"]) == CUSTOMERS
    assert all(a[name] for name in COLLECTIONS), "every collection gets rows"


def test_another_seed_writes_other_people_under_other_ids(new_store, datamap, crypto):
    first, second = new_store("first"), new_store("second")
    fill_demo_store(first, datamap, crypto, customers=CUSTOMERS, seed=SEED, batch_size=BATCH)
    fill_demo_store(second, datamap, crypto, customers=CUSTOMERS, seed=SEED + 1, batch_size=BATCH)

    a, b = dump(first, datamap, crypto), dump(second, datamap, crypto)
    assert not {r[0] for r in a["customers"]} & {r[0] for r in b["customers"]}
    assert [r[1:] for r in a["customers"]] != [r[1:] for r in b["customers"]]


def test_the_batch_size_does_not_change_the_data(new_store, datamap, crypto):
    coarse, fine = new_store("coarse"), new_store("fine")
    fill_demo_store(coarse, datamap, crypto, customers=CUSTOMERS, seed=SEED, batch_size=BATCH)
    fill_demo_store(fine, datamap, crypto, customers=CUSTOMERS, seed=SEED, batch_size=7)

    assert dump(coarse, datamap, crypto) == dump(fine, datamap, crypto)


# -- idempotent and resumable ------------------------------------------------------------------


def test_a_second_run_inserts_nothing_and_skips_every_batch(new_store, datamap, crypto):
    store = new_store()
    first = fill_demo_store(
        store, datamap, crypto, customers=CUSTOMERS, seed=SEED, batch_size=BATCH
    )
    before = dump(store, datamap, crypto)

    second = fill_demo_store(
        store, datamap, crypto, customers=CUSTOMERS, seed=SEED, batch_size=BATCH
    )

    assert first.batches == 3 and first.skipped_batches == 0
    assert first.inserted["customers"] == CUSTOMERS
    assert first.rows_inserted == sum(len(rows) for rows in before.values())
    assert second.batches == 3 and second.skipped_batches == 3
    assert second.skipped_customers == CUSTOMERS
    assert second.rows_inserted == 0
    assert dump(store, datamap, crypto) == before


class Crash(Exception):
    pass


def test_a_run_that_crashed_after_its_first_batch_resumes_to_the_full_data_without_duplicates(
    new_store, datamap, crypto
):
    reference, crashed = new_store("reference"), new_store("crashed")
    fill_demo_store(reference, datamap, crypto, customers=CUSTOMERS, seed=SEED, batch_size=BATCH)

    def crash_after_first_batch(done: int, total: int) -> None:
        raise Crash

    with pytest.raises(Crash):
        fill_demo_store(
            crashed,
            datamap,
            crypto,
            customers=CUSTOMERS,
            seed=SEED,
            batch_size=BATCH,
            progress=crash_after_first_batch,
        )
    assert counts(crashed, datamap)["customers"] == BATCH  # the first batch was committed

    resumed = fill_demo_store(
        crashed, datamap, crypto, customers=CUSTOMERS, seed=SEED, batch_size=BATCH
    )

    assert resumed.skipped_batches == 1
    assert resumed.inserted["customers"] == CUSTOMERS - BATCH
    full = dump(reference, datamap, crypto)
    assert dump(crashed, datamap, crypto) == full  # same rows, none twice (ids are primary keys)
    assert all(len(rows) == len({r[0] for r in rows}) for rows in full.values())


def test_a_larger_count_adds_only_the_missing_customers(new_store, datamap, crypto):
    grown, direct = new_store("grown"), new_store("direct")
    fill_demo_store(grown, datamap, crypto, customers=40, seed=SEED, batch_size=BATCH)

    more = fill_demo_store(grown, datamap, crypto, customers=CUSTOMERS, seed=SEED, batch_size=BATCH)
    fill_demo_store(direct, datamap, crypto, customers=CUSTOMERS, seed=SEED, batch_size=BATCH)

    assert more.skipped_batches == 1  # customers 0-24; the batch 25-49 was half there
    assert more.skipped_customers == 40
    assert more.inserted["customers"] == CUSTOMERS - 40
    assert dump(grown, datamap, crypto) == dump(direct, datamap, crypto)


def test_progress_reports_only_the_counts_of_customers_done_and_total(new_store, datamap, crypto):
    calls = []
    fill_demo_store(
        new_store(),
        datamap,
        crypto,
        customers=CUSTOMERS,
        seed=SEED,
        batch_size=BATCH,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(25, CUSTOMERS), (50, CUSTOMERS), (60, CUSTOMERS)]


# -- what the data looks like ------------------------------------------------------------------


@pytest.fixture(scope="module")
def filled(tmp_path_factory, datamap, crypto):
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'crm.db'}"
    migrated(url)
    engine = make_engine(url)
    session_factory = make_session_factory(engine)
    fill_demo_store(
        session_factory, datamap, crypto, customers=CUSTOMERS, seed=SEED, batch_size=BATCH
    )
    yield session_factory
    engine.dispose()


def test_every_email_is_on_an_example_domain(filled, datamap, crypto):
    emails = [c["email"] for c in records(filled, datamap, "customers", crypto)]
    assert len(emails) == CUSTOMERS
    assert all(re.fullmatch(r"[a-z0-9._]+@([a-z0-9-]+\.)*example", e) for e in emails)
    assert len(set(emails)) == CUSTOMERS


def test_every_order_number_has_the_crm_format_and_is_unique(filled, datamap, crypto):
    numbers = [o["order_number"] for o in records(filled, datamap, "orders", crypto)]
    assert numbers
    assert all(re.fullmatch(r"ORD-\d{8}", n) for n in numbers)
    assert len(set(numbers)) == len(numbers)


def test_every_related_row_belongs_to_an_existing_customer(filled, datamap, crypto):
    customers = {c["id"]: c for c in records(filled, datamap, "customers", crypto)}
    companies = {c["id"] for c in records(filled, datamap, "companies", crypto)}
    orders = {o["id"]: o for o in records(filled, datamap, "orders", crypto)}
    for collection in datamap.collections.values():
        if collection.has_subject_column:
            rows = records(filled, datamap, collection.name, crypto)
            assert rows and all(r["subject_id"] in customers for r in rows), collection.name
    for line in records(filled, datamap, "order_lines", crypto):
        assert orders[line["order_id"]]["subject_id"] == line["subject_id"]
    assert {c["company_id"] for c in customers.values()} - {None} <= companies
    assert 0.3 < sum(c["company_id"] is not None for c in customers.values()) / CUSTOMERS < 0.9


def test_a_click_implies_an_open(filled, datamap, crypto):
    responses = records(filled, datamap, "campaign_responses", crypto)
    assert any(r["clicked"] for r in responses)
    assert all(r["opened"] for r in responses if r["clicked"])


def test_contact_data_phone_language_and_currency_match_the_country(filled, datamap, crypto):
    customers = {c["id"]: c for c in records(filled, datamap, "customers", crypto)}
    codes = {
        "DE": "+49",
        "FR": "+33",
        "GB": "+44",
        "US": "+1",
        "NL": "+31",
        "ES": "+34",
        "IT": "+39",
    }
    currencies = {"GB": "GBP", "US": "USD"}
    languages = {"GB": "en", "US": "en"}
    assert customers and any(c["phone"] for c in customers.values())
    for c in customers.values():
        country = c["country"]
        assert c["language"] == f"{languages.get(country, country.lower())}-{country}"
        assert c["phone"] is None or (
            re.fullmatch(r"\+[1-9]\d{7,14}", c["phone"]) and c["phone"].startswith(codes[country])
        )
    for order in records(filled, datamap, "orders", crypto):
        country = customers[order["subject_id"]]["country"]
        assert order["currency"] == currencies.get(country, "EUR")


def test_every_moment_lies_in_the_three_years_before_the_reference_date(filled, datamap, crypto):
    earliest = REFERENCE_TIME - timedelta(days=HISTORY_DAYS + 60)
    for collection, field in [
        ("interactions", "occurred_at"),
        ("orders", "ordered_at"),
        ("support_tickets", "opened_at"),
        ("campaign_responses", "sent_at"),
        ("web_events", "occurred_at"),
    ]:
        rows = records(filled, datamap, collection, crypto)
        assert rows, collection
        for row in rows:
            moment = datetime.fromisoformat(row[field].replace("Z", "+00:00"))
            assert earliest <= moment <= REFERENCE_TIME, (collection, field)
            assert moment.tzinfo == UTC


def test_card_details_and_sepa_details_are_complete_and_well_formed(filled, datamap, crypto):
    details = records(filled, datamap, "payment_details", crypto)
    assert details
    for d in details:
        if d["method"] == "card":
            assert d["card_brand"] and re.fullmatch(r"\d{4}", d["card_last4"])
            assert re.fullmatch(r"20\d\d-(0[1-9]|1[0-2])", d["card_expiry"]) and d["iban"] is None
        else:
            assert d["card_brand"] is None and iban_is_valid(d["iban"])
            assert d["iban"][:2] == d["billing_country"]


def iban_is_valid(iban: str) -> bool:
    digits = "".join(str(int(ch, 36)) for ch in iban[4:] + iban[:4])
    return bool(re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", iban)) and int(digits) % 97 == 1


# -- the generator without a database ----------------------------------------------------------


def test_free_text_mentions_personal_data_for_the_scans_to_find(datamap):
    rows = DemoGenerator(datamap, SEED).rows_for(range(400))
    people = {c["id"]: c for c in rows["customers"]}
    texts = [
        (r["subject_id"], r[field] or "")
        for collection, fields in [
            ("interactions", ("body",)),
            ("support_tickets", ("description", "resolution")),
            ("campaign_responses", ("feedback",)),
        ]
        for r in rows[collection]
        for field in fields
    ]
    assert any(people[s]["email"] in t for s, t in texts)
    assert any(people[s]["phone"] and people[s]["phone"] in t for s, t in texts)
    ibans = [m for _, t in texts for m in re.findall(r"\b[A-Z]{2}\d{2}[A-Z0-9]{10,30}\b", t)]
    assert ibans and all(iban_is_valid(i) for i in ibans)
    written = [(s, t) for s, t in texts if t]
    plain = [t for s, t in written if people[s]["email"] not in t and "+" not in t]
    assert len(plain) > len(written) / 2  # most notes name no one


def test_an_order_number_in_a_note_or_ticket_is_one_of_the_subjects_own_orders(datamap):
    rows = DemoGenerator(datamap, SEED).rows_for(range(400))
    owned: dict[str, set[str]] = {}
    for order in rows["orders"]:
        owned.setdefault(order["subject_id"], set()).add(order["order_number"])
    mentions = [
        (r["subject_id"], number)
        for collection, fields in [
            ("interactions", ("summary", "body")),
            ("support_tickets", ("description", "resolution")),
            ("web_events", ("page",)),
        ]
        for r in rows[collection]
        for field in fields
        for number in re.findall(r"ORD-\d{8}", r[field] or "")
    ]
    assert mentions, "notes and tickets mention orders"
    assert all(number in owned.get(subject, set()) for subject, number in mentions)
    without_orders = {c["id"] for c in rows["customers"]} - set(owned)
    assert without_orders, "some customers have no order, and their notes name none"


def test_generated_rows_carry_exactly_the_declared_fields_and_fit_the_data_map(datamap):
    rows = DemoGenerator(datamap, SEED).rows_for(range(200))
    for name in COLLECTIONS:
        collection = datamap.collections[name]
        system = {"id", "subject_id"} if collection.has_subject_column else {"id"}
        assert rows[name], name
        assert all(set(r) == system | set(FIELDS[name]) for r in rows[name]), name
        assert set(FIELDS[name]) <= set(collection.fields), name
        for r in rows[name]:
            assert re.fullmatch(r"[0-9a-f]{32}", r["id"])
            for field_name, spec in collection.fields.items():
                value = r[field_name]
                if spec.choices and value is not None:
                    assert value in spec.choices, (name, field_name)
                if spec.max_length and isinstance(value, str):
                    assert len(value) <= spec.max_length, (name, field_name)


def test_ids_grow_with_the_customer_so_inserts_append_to_the_indexes(datamap):
    generator = DemoGenerator(datamap, SEED)
    ids = [generator.customer_id(i) for i in range(5000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(i[12] == "7" for i in ids)  # UUIDv7 layout


def test_a_data_map_without_a_generated_field_gets_rows_without_it(datamap):
    web = datamap.collections["web_events"]
    fields = {k: v for k, v in web.fields.items() if k != "referrer"}
    smaller = dataclasses.replace(
        datamap,
        collections={**datamap.collections, "web_events": dataclasses.replace(web, fields=fields)},
    )
    rows = DemoGenerator(smaller, SEED).rows_for(range(20))["web_events"]
    assert rows and all("referrer" not in r and "page" in r for r in rows)


def test_a_data_map_that_forbids_a_generated_value_is_refused(datamap):
    orders = datamap.collections["orders"]
    status = dataclasses.replace(orders.fields["status"], choices=("placed", "paid"))
    narrower = dataclasses.replace(
        datamap,
        collections={
            **datamap.collections,
            "orders": dataclasses.replace(orders, fields={**orders.fields, "status": status}),
        },
    )
    with pytest.raises(DemoDataMapError, match="orders.status"):
        DemoGenerator(narrower, SEED)
