"""Demo consent histories: per customer, drawn from (seed, i) alone (see the comment below)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from audit.events import Actor
from demo.dice import stable_int
from demo.generator import DemoGenerator
from demo.resources import load
from demo.store import ProgressCallback, existing_ids
from demo.world import DEFAULT_SEED, HISTORY_DAYS, REFERENCE_TIME, SUBJECT
from governance.consent.models import ConsentEvent
from governance.consent.services import (
    ConsentAction,
    ConsentService,
    ConsentSource,
    NewConsentEvent,
)
from governance.db import unit_of_work
from governance.runtime import Runtime
from governance.store.schema import CrmTables
from policies.types import ID_COLUMN

# -- consent histories ---------------------------------------------------------------------
#
# Per customer, a history drawn from (seed, i) alone, oldest event first: about half grant
# email marketing at sign-up and some of them withdraw (by the unsubscribe link or the
# preference page) and a few grant it again; fewer agree to recommendations and to partner
# sharing; some browsers send a Global Privacy Control signal (an opt-out of every purpose
# that sells or shares); a few object to analytics, churn prediction or direct marketing;
# about one in 170 has processing restricted by the compliance officer, a third of them
# lifted since. Written through ConsentService.import_events (validated like any event),
# one transaction per batch; a customer who has any consent event already is skipped, so a
# run resumes where it stopped and a second run writes nothing.

NOTICE_VERSIONS: tuple[tuple[str, datetime], ...] = tuple(  # (version label, in force from)
    (notice["version"], datetime.fromisoformat(notice["in_force_from"]))
    for notice in load("consent")["notice_versions"]
)


@dataclass(frozen=True)
class ConsentDemoSummary:
    customers: int  # customers of the range found in the store
    skipped: int  # of those, customers that had consent events already
    events: int  # events written by this call


def _notice(at: datetime) -> str:
    """The notice in force at ``at`` (the first one before it existed)."""
    in_force = [label for label, start in NOTICE_VERSIONS if start <= at]
    return in_force[-1] if in_force else NOTICE_VERSIONS[0][0]


def demo_consent_history(
    customer_id: str, i: int, seed: int, selling: Sequence[str]
) -> list[NewConsentEvent]:
    """The consent events of demo customer ``i`` (a pure function of seed and i)."""
    A, S = ConsentAction, ConsentSource  # noqa: N806 - short names keep the story readable
    dice = random.Random(stable_int("consent", seed, i))  # noqa: S311 - demo data
    end = REFERENCE_TIME - timedelta(days=1)
    signup = end - timedelta(seconds=int(HISTORY_DAYS * 86400 * dice.random() ** 1.25))

    def after(moment: datetime) -> datetime:
        room = max(60, int((end - moment).total_seconds()))
        return moment + timedelta(seconds=60 + int(room * dice.random() ** 2))

    def form() -> str:
        return f"form:{dice.getrandbits(48):012x}"

    events: list[NewConsentEvent] = []

    def add(
        at: datetime,
        action: ConsentAction,
        source: ConsentSource,
        purpose: str | None,
        evidence: str | None = None,
    ) -> None:
        events.append(
            NewConsentEvent(customer_id, action, source, purpose, _notice(at), evidence, at)
        )

    if dice.random() < 0.55:
        at = signup + timedelta(seconds=dice.randrange(5, 600))
        add(at, A.GRANT, S.WEB_FORM, "email_marketing", form())
        if dice.random() < 0.18:
            at = after(at)
            add(at, A.WITHDRAW, S.API if dice.random() < 0.6 else S.WEB_FORM, "email_marketing")
            if dice.random() < 0.3:
                add(after(at), A.GRANT, S.WEB_FORM, "email_marketing", form())
    if dice.random() < 0.35:
        at = signup + timedelta(seconds=dice.randrange(5, 900))
        add(at, A.GRANT, S.WEB_FORM, "personalised_recommendations", form())
        if dice.random() < 0.1:
            add(after(at), A.WITHDRAW, S.WEB_FORM, "personalised_recommendations")
    if dice.random() < 0.12:
        at = signup + timedelta(seconds=dice.randrange(5, 900))
        add(at, A.GRANT, S.WEB_FORM, "third_party_sharing", form())
        if dice.random() < 0.15:
            add(after(at), A.WITHDRAW, S.WEB_FORM, "third_party_sharing")
    if dice.random() < 0.07:  # a browser sending Sec-GPC: 1 on a later visit
        at = after(signup)
        for purpose in selling:
            add(at, A.WITHDRAW, S.GPC, purpose)
    for purpose, chance in (
        ("analytics", 0.03),
        ("churn_prediction", 0.02),
        ("email_marketing", 0.015),
    ):
        if dice.random() < chance:
            add(after(signup), A.OBJECT, S.WEB_FORM if dice.random() < 0.7 else S.OFFICER, purpose)
    if dice.random() < 0.006:
        at = after(signup)
        add(at, A.RESTRICT, S.OFFICER, None, f"request:{dice.getrandbits(32):08x}")
        if dice.random() < 0.33:
            add(after(at), A.LIFT_RESTRICTION, S.OFFICER, None)
    events.sort(key=lambda e: e.occurred_at or end)  # stable: same-moment events keep order
    return events


def fill_demo_consents(
    runtime: Runtime,
    *,
    customers: int = 2000,
    seed: int = DEFAULT_SEED,
    batch_size: int = 1000,
    actor: Actor | None = None,
    progress: ProgressCallback | None = None,
) -> ConsentDemoSummary:
    """Write the consent histories of demo customers ``0 .. customers-1`` that are in the
    store and have no consent event yet (see the section comment above)."""
    actor = actor or Actor(id="demo", role="operator")
    generator = DemoGenerator(runtime.policy.datamap, seed)
    subject_ids = CrmTables(runtime.policy.datamap)[SUBJECT].c[ID_COLUMN]
    selling = [p.id for p in runtime.policy.purposes.selling_or_sharing()]
    found = skipped = written = 0
    for start in range(0, customers, batch_size):
        stop = min(start + batch_size, customers)
        with unit_of_work(runtime.sessions) as session:
            wanted = {generator.customer_id(i): i for i in range(start, stop)}
            present = existing_ids(session, subject_ids, list(wanted))
            done = existing_ids(session, ConsentEvent.subject_id, sorted(present))
            found += len(present)
            skipped += len(done)
            events = [
                event
                for customer_id, i in wanted.items()
                if customer_id in present and customer_id not in done
                for event in demo_consent_history(customer_id, i, seed, selling)
            ]
            written += ConsentService(session, runtime, actor).import_events(events)
        if progress is not None:
            progress(stop, customers)
    return ConsentDemoSummary(customers=found, skipped=skipped, events=written)
