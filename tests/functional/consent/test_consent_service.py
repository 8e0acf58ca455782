"""The consent service on a real database: history, state, GPC, objection, restriction,
append-only guard, erasure, bulk import, the SQL filter, and the audit trail."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from audit.models import audit_entries
from governance.consent.errors import (
    ConsentChangeForbidden,
    ConsentNotApplicable,
    InvalidConsentEvent,
    NotObjected,
    NotRestricted,
    ObjectionNotApplicable,
    UnknownPurpose,
    UnknownSubject,
)
from governance.consent.models import ConsentEvent, ConsentRestriction, ConsentState
from governance.consent.services import (
    EVENTS,
    ConsentAction,
    ConsentService,
    ConsentSource,
    NewConsentEvent,
    processable_clause,
    rebuild_state,
    state_differences,
)
from governance.runtime import Runtime
from policies.consent import ConsentStatus, may_process
from tests.functional.consent.conftest import APP, OFFICER, add_subjects

GRANT, WITHDRAW = ConsentAction.GRANT, ConsentAction.WITHDRAW
WEB = ConsentSource.WEB_FORM
NOTICE = "notice-2026-01"
EXEMPT = {"record_keeping", "legal_claims"}


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model))


def written(session: Session) -> tuple[int, int, int]:
    return (
        count(session, ConsentEvent),
        count(session, ConsentState),
        count(session, ConsentRestriction),
    )


# -- history and state ------------------------------------------------------------------


def test_latest_event_wins(consent: ConsentService, subjects) -> None:  # noqa: ANN001
    (sid,) = subjects(1)
    consent.record_consent(sid, "email_marketing", GRANT, WEB, NOTICE)
    consent.record_consent(sid, "email_marketing", WITHDRAW, ConsentSource.API, NOTICE)

    current = consent.state(sid).of("email_marketing")

    assert current.status is ConsentStatus.WITHDRAWN
    assert current.source == "api"
    assert [e.action for e in consent.history(sid)] == ["grant", "withdraw"]


def test_withdrawing_then_granting_again_grants(
    consent: ConsentService,
    subjects,  # noqa: ANN001
) -> None:
    (sid,) = subjects(1)
    for action in (GRANT, WITHDRAW, GRANT):
        consent.record_consent(sid, "personalised_recommendations", action, WEB, NOTICE)

    purpose = consent.purposes.get("personalised_recommendations")
    assert consent.state(sid).of(purpose.id).status is ConsentStatus.GRANTED
    assert may_process(purpose, consent.state(sid)).allowed


def test_a_consent_purpose_without_a_grant_is_not_granted(
    consent: ConsentService,
    subjects,  # noqa: ANN001
) -> None:
    (sid,) = subjects(1)

    assert consent.state(sid).of("email_marketing").status is ConsentStatus.NONE
    assert not may_process(consent.purposes.get("email_marketing"), consent.state(sid)).allowed


def test_an_event_keeps_source_notice_version_evidence_time_and_actor(
    consent: ConsentService,
    subjects,  # noqa: ANN001
) -> None:
    (sid,) = subjects(1)
    before = datetime.now(UTC)

    event = consent.record_consent(
        sid, "email_marketing", GRANT, WEB, NOTICE, "form-submission:8f2a"
    ).event

    assert (event.subject_id, event.purpose, event.action, event.source) == (
        sid,
        "email_marketing",
        "grant",
        "web_form",
    )
    assert (event.policy_version, event.evidence, event.actor_id) == (
        NOTICE,
        "form-submission:8f2a",
        OFFICER.id,
    )
    assert event.occurred_at >= before and event.recorded_at >= before


# -- append-only -------------------------------------------------------------------------


def test_an_update_of_the_history_is_refused(
    consent: ConsentService,
    subjects,
    session: Session,  # noqa: ANN001
) -> None:
    (sid,) = subjects(1)
    consent.record_consent(sid, "email_marketing", GRANT, WEB, NOTICE)

    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(update(EVENTS).where(EVENTS.c.subject_id == sid).values(action="withdraw"))

    assert [e.action for e in consent.history(sid)] == ["grant"]


def test_a_delete_of_the_history_is_refused_outside_erasure(
    consent: ConsentService,
    subjects,
    session: Session,  # noqa: ANN001
) -> None:
    (sid,) = subjects(1)
    consent.record_consent(sid, "email_marketing", GRANT, WEB, NOTICE)

    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text("DELETE FROM consent_events WHERE subject_id = :s"), {"s": sid})

    assert len(consent.history(sid)) == 1


@pytest.mark.postgres_only
def test_truncating_the_history_is_refused(session: Session, is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("TRUNCATE exists on PostgreSQL only")
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text("TRUNCATE consent_events"))


def test_erasure_deletes_exactly_the_subjects_history_and_state(
    consent: ConsentService,
    subjects,
    session: Session,  # noqa: ANN001
) -> None:
    erased, kept = subjects(2)
    for sid in (erased, kept):
        consent.record_consent(sid, "email_marketing", GRANT, WEB, NOTICE)
        consent.restrict(sid, ConsentSource.OFFICER)

    assert consent.erase_subject(erased) == 2
    assert consent.erase_subject(erased) == 0  # a repeated step is harmless

    assert consent.history(erased) == []
    assert consent.state(erased).of("email_marketing").status is ConsentStatus.NONE
    assert not consent.state(erased).restricted
    assert len(consent.history(kept)) == 2 and consent.state(kept).restricted
    # the permit is gone with the erasure: a later plain delete is refused again
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text("DELETE FROM consent_events WHERE subject_id = :s"), {"s": kept})


# -- the state is derived from the history ----------------------------------------------


def test_materialised_state_agrees_with_a_rebuild_from_history(
    session: Session,
    runtime: Runtime,  # noqa: ANN001
) -> None:
    dice = random.Random(5)  # noqa: S311 - a fixed sequence of operations
    ids = add_subjects(session, runtime, 12)
    consent = ConsentService(session, runtime, OFFICER)
    for _ in range(150):
        sid = dice.choice(ids)
        roll = dice.random()
        try:
            if roll < 0.5:
                purpose = dice.choice(
                    ["email_marketing", "personalised_recommendations", "third_party_sharing"]
                )
                consent.record_consent(
                    sid,
                    purpose,
                    dice.choice([GRANT, WITHDRAW]),
                    WEB,
                    NOTICE,
                    gpc=dice.random() < 0.1,
                )
            elif roll < 0.7:
                purpose = dice.choice(["analytics", "churn_prediction", "email_marketing"])
                consent.object(sid, purpose, ConsentSource.OFFICER)
            elif roll < 0.8:
                consent.lift_objection(sid, dice.choice(["analytics", "churn_prediction"]), WEB)
            elif roll < 0.9:
                consent.restrict(sid, ConsentSource.OFFICER)
            else:
                consent.lift_restriction(sid, ConsentSource.OFFICER)
        except (NotObjected, NotRestricted):
            pass
    snapshot = {sid: consent.state(sid) for sid in ids}

    assert state_differences(session) == []
    rebuild_state(session)
    assert state_differences(session) == []
    assert {sid: consent.state(sid) for sid in ids} == snapshot


def test_a_drifted_state_is_reported_and_rebuilt(
    consent: ConsentService,
    subjects,
    session,  # noqa: ANN001
) -> None:
    (sid,) = subjects(1)
    consent.record_consent(sid, "email_marketing", GRANT, WEB, NOTICE)
    session.execute(update(ConsentState.__table__).values(status="withdrawn"))

    (difference,) = state_differences(session)
    assert difference.key == f"{sid}/email_marketing"
    rebuild_state(session)

    assert state_differences(session) == []
    assert consent.state(sid).of("email_marketing").status is ConsentStatus.GRANTED


def test_imported_history_gives_the_same_state_as_recording_it(
    session: Session,
    runtime: Runtime,  # noqa: ANN001
) -> None:
    a, b = add_subjects(session, runtime, 2)
    consent = ConsentService(session, runtime, OFFICER)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    history = [
        NewConsentEvent(a, GRANT, ConsentSource.IMPORT, "email_marketing", NOTICE, None, start),
        NewConsentEvent(
            a,
            WITHDRAW,
            ConsentSource.IMPORT,
            "email_marketing",
            NOTICE,
            None,
            start + timedelta(days=3),
        ),
        NewConsentEvent(
            b,
            ConsentAction.RESTRICT,
            ConsentSource.OFFICER,
            None,
            None,
            None,
            start + timedelta(days=4),
        ),
        NewConsentEvent(
            a,
            GRANT,
            ConsentSource.IMPORT,
            "email_marketing",
            NOTICE,
            None,
            start + timedelta(days=9),
        ),
    ]

    assert consent.import_events(history) == 4

    assert consent.state(a).of("email_marketing").status is ConsentStatus.GRANTED
    assert consent.state(a).of("email_marketing").at == start + timedelta(days=9)
    assert consent.state(b).restricted
    assert state_differences(session) == []


# -- GPC, objection, restriction --------------------------------------------------------


def test_gpc_opts_out_of_exactly_the_purposes_that_sell_or_share(
    consent: ConsentService,
    subjects,  # noqa: ANN001
) -> None:
    (sid,) = subjects(1)
    for purpose in ("third_party_sharing", "email_marketing"):
        consent.record_consent(sid, purpose, GRANT, WEB, NOTICE)

    written_ = consent.record_consent(
        sid, "personalised_recommendations", GRANT, WEB, NOTICE, gpc=True
    )

    selling = {p.id for p in consent.purposes if p.sells_or_shares}
    assert {e.purpose for e in written_.gpc_opt_outs} == selling
    assert all(e.source == "gpc" and e.action == "withdraw" for e in written_.gpc_opt_outs)
    state = consent.state(sid)
    assert state.of("third_party_sharing").status is ConsentStatus.WITHDRAWN
    assert state.of("email_marketing").status is ConsentStatus.GRANTED
    assert state.of("personalised_recommendations").status is ConsentStatus.GRANTED


def test_gpc_again_records_nothing_new(consent: ConsentService, subjects) -> None:  # noqa: ANN001
    (sid,) = subjects(1)
    consent.record_consent(sid, "email_marketing", GRANT, WEB, NOTICE, gpc=True)

    again = consent.record_consent(sid, "email_marketing", GRANT, WEB, NOTICE, gpc=True)

    assert again.gpc_opt_outs == []


def test_an_explicit_grant_in_a_gpc_request_is_the_customers_choice(
    consent: ConsentService,
    subjects,  # noqa: ANN001
) -> None:
    (sid,) = subjects(1)

    written_ = consent.record_consent(sid, "third_party_sharing", GRANT, WEB, NOTICE, gpc=True)

    assert written_.gpc_opt_outs == []
    assert consent.state(sid).of("third_party_sharing").status is ConsentStatus.GRANTED


def test_an_objection_stops_a_legitimate_interest_purpose_until_lifted(
    consent: ConsentService,
    subjects,  # noqa: ANN001
) -> None:
    (sid,) = subjects(1)
    analytics = consent.purposes.get("analytics")

    consent.object(sid, "analytics", WEB)
    assert not may_process(analytics, consent.state(sid)).allowed
    consent.lift_objection(sid, "analytics", WEB)

    assert may_process(analytics, consent.state(sid)).allowed


def test_an_objection_to_direct_marketing_stops_it_despite_earlier_consent(
    consent: ConsentService,
    subjects,  # noqa: ANN001
) -> None:
    (sid,) = subjects(1)
    consent.record_consent(sid, "email_marketing", GRANT, WEB, NOTICE)

    consent.object(sid, "email_marketing", WEB)

    decision = may_process(consent.purposes.get("email_marketing"), consent.state(sid))
    assert not decision.allowed and decision.denial == "objection"


def test_a_restricted_subject_is_processable_by_no_purpose_but_the_exempt_ones(
    consent: ConsentService,
    subjects,  # noqa: ANN001
) -> None:
    (sid,) = subjects(1)
    for p in consent.purposes:
        if p.requires_consent:
            consent.record_consent(sid, p.id, GRANT, WEB, NOTICE)

    consent.restrict(sid, ConsentSource.OFFICER)
    restricted = {p.id for p in consent.purposes if may_process(p, consent.state(sid)).allowed}
    consent.lift_restriction(sid, ConsentSource.OFFICER)
    lifted = {p.id for p in consent.purposes if may_process(p, consent.state(sid)).allowed}

    assert restricted == EXEMPT
    assert lifted == set(consent.purposes.ids())


# -- bad input: a clear error, nothing written ------------------------------------------


@pytest.mark.parametrize(
    ("call", "error"),
    [
        pytest.param(
            lambda c, s: c.record_consent(s, "no_such_purpose", GRANT, WEB, NOTICE),
            UnknownPurpose,
            id="unknown-purpose",
        ),
        pytest.param(
            lambda c, s: c.record_consent("0" * 32, "email_marketing", GRANT, WEB, NOTICE),
            UnknownSubject,
            id="unknown-subject",
        ),
        pytest.param(
            lambda c, s: c.record_consent("a@b.example", "email_marketing", GRANT, WEB, NOTICE),
            UnknownSubject,
            id="subject-id-not-an-id",
        ),
        pytest.param(
            lambda c, s: c.record_consent(s, "email_marketing", ConsentAction.OBJECT, WEB, NOTICE),
            InvalidConsentEvent,
            id="consent-write-that-objects",
        ),
        pytest.param(
            lambda c, s: c.record_consent(s, "billing", GRANT, WEB, NOTICE),
            ConsentNotApplicable,
            id="grant-for-contract-purpose",
        ),
        pytest.param(
            lambda c, s: c.record_consent(s, "analytics", WITHDRAW, WEB, NOTICE),
            ConsentNotApplicable,
            id="withdraw-for-legitimate-interest",
        ),
        pytest.param(
            lambda c, s: c.object(s, "billing", WEB),
            ObjectionNotApplicable,
            id="object-to-contract-purpose",
        ),
        pytest.param(
            lambda c, s: c.object(s, "legal_claims", WEB),
            ObjectionNotApplicable,
            id="object-to-legal-claims",
        ),
        pytest.param(
            lambda c, s: c.object(s, "personalised_recommendations", WEB),
            ObjectionNotApplicable,
            id="object-to-consent-purpose",
        ),
        pytest.param(
            lambda c, s: c.lift_objection(s, "analytics", WEB),
            NotObjected,
            id="lift-absent-objection",
        ),
        pytest.param(
            lambda c, s: c.lift_restriction(s, ConsentSource.OFFICER),
            NotRestricted,
            id="lift-absent-restriction",
        ),
        pytest.param(
            lambda c, s: c.record_consent(s, "email_marketing", GRANT, WEB, None),
            InvalidConsentEvent,
            id="grant-without-notice-version",
        ),
        pytest.param(
            lambda c, s: c.record_consent(
                s, "email_marketing", GRANT, WEB, NOTICE, "ana@mail.example"
            ),
            InvalidConsentEvent,
            id="evidence-that-is-an-email",
        ),
        pytest.param(
            lambda c, s: c.record_consent(s, "email_marketing", GRANT, ConsentSource.GPC, NOTICE),
            InvalidConsentEvent,
            id="claimed-gpc-source",
        ),
        pytest.param(
            lambda c, s: c.record_consent(s, "no_such_purpose", GRANT, WEB, NOTICE, gpc=True),
            UnknownPurpose,
            id="bad-body-with-gpc-writes-no-opt-out",
        ),
        pytest.param(
            lambda c, s: c.record(
                NewConsentEvent(
                    s,
                    GRANT,
                    WEB,
                    "email_marketing",
                    NOTICE,
                    occurred_at=datetime.now(UTC) + timedelta(days=1),
                )
            ),
            InvalidConsentEvent,
            id="event-in-the-future",
        ),
        pytest.param(
            lambda c, s: c.record(
                NewConsentEvent(s, ConsentAction.RESTRICT, ConsentSource.OFFICER, "analytics")
            ),
            InvalidConsentEvent,
            id="restriction-of-one-purpose",
        ),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    consent: ConsentService,
    subjects,
    session: Session,
    call,
    error,  # noqa: ANN001
) -> None:
    (sid,) = subjects(1)
    before = written(session), count_audit(session)

    with pytest.raises(error) as caught:
        call(consent, sid)

    assert written(session) == before[0]
    assert count_audit(session) == before[1]
    assert "@" not in caught.value.detail and sid not in caught.value.detail


def test_an_application_cannot_claim_officer_source(session: Session, runtime: Runtime) -> None:
    (sid,) = add_subjects(session, runtime, 1)
    app = ConsentService(session, runtime, APP)

    with pytest.raises(InvalidConsentEvent) as caught:
        app.record_consent(sid, "email_marketing", GRANT, ConsentSource.OFFICER, NOTICE)

    assert "source" in caught.value.extra["errors"]


def test_an_application_records_only_the_source_api(session: Session, runtime: Runtime) -> None:
    (sid,) = add_subjects(session, runtime, 1)
    app = ConsentService(session, runtime, APP, held_purposes={"email_marketing"})
    before = written(session)

    with pytest.raises(InvalidConsentEvent) as caught:
        app.record_consent(sid, "email_marketing", GRANT, WEB, NOTICE, "form-8841")

    assert "source" in caught.value.extra["errors"]
    assert written(session) == before


def test_an_applications_loosening_is_judged_against_the_latest_protected_event(
    session: Session, runtime: Runtime
) -> None:
    (sid,) = add_subjects(session, runtime, 1)
    app = ConsentService(session, runtime, APP, held_purposes={"third_party_sharing"})
    app.record_consent(sid, "third_party_sharing", GRANT, ConsentSource.API, NOTICE)
    ConsentService(session, runtime, OFFICER).opt_out(sid, ConsentSource.REQUEST)
    app.record_consent(sid, "third_party_sharing", WITHDRAW, ConsentSource.API, NOTICE)
    before = written(session)

    with pytest.raises(ConsentChangeForbidden) as caught:
        app.record_consent(sid, "third_party_sharing", GRANT, ConsentSource.API, NOTICE)

    assert "data-subject request" in caught.value.detail
    assert written(session) == before
    assert app.state(sid).of("third_party_sharing").status is ConsentStatus.WITHDRAWN


def test_an_application_records_nothing_for_a_purpose_it_does_not_hold(
    session: Session, runtime: Runtime
) -> None:
    (sid,) = add_subjects(session, runtime, 1)
    app = ConsentService(session, runtime, APP, held_purposes={"email_marketing"})
    before = written(session)

    with pytest.raises(ConsentChangeForbidden):
        app.record_consent(sid, "third_party_sharing", WITHDRAW, ConsentSource.API, NOTICE)
    with pytest.raises(ConsentChangeForbidden):
        app.object(sid, "analytics", ConsentSource.API)

    assert written(session) == before


# -- audit --------------------------------------------------------------------------------


def count_audit(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(audit_entries))


def test_every_event_is_audited_with_ids_and_purpose_only(
    consent: ConsentService,
    subjects,
    session: Session,  # noqa: ANN001
) -> None:
    (sid,) = subjects(1)
    consent.record_consent(sid, "email_marketing", GRANT, WEB, NOTICE, "form:77", gpc=True)
    consent.object(sid, "analytics", WEB)
    consent.restrict(sid, ConsentSource.OFFICER)

    rows = session.execute(
        select(audit_entries.c.action, audit_entries.c.data)
        .where(audit_entries.c.subject_id == sid)
        .order_by(audit_entries.c.id)
    ).all()

    assert [a for a, _ in rows] == [
        "consent.withdrawn",
        "consent.granted",
        "consent.objected",
        "consent.restricted",
    ]
    leaves = [bytes(d).decode() for _, d in rows]
    assert '"purpose":"third_party_sharing"' in leaves[0] and '"source":"gpc"' in leaves[0]
    assert '"purpose":"email_marketing"' in leaves[1]
    assert all("form:77" not in leaf and NOTICE not in leaf for leaf in leaves)
    event_ids = {e.id for e in consent.history(sid)}
    assert all(any(i in leaf for i in event_ids) for leaf in leaves)


# -- filtering many subjects in SQL agrees with the one-subject rule -----------------------


def test_the_sql_filter_agrees_with_the_rule_for_every_purpose(
    session: Session,
    runtime: Runtime,  # noqa: ANN001
) -> None:
    ids = add_subjects(session, runtime, 9)
    consent = ConsentService(session, runtime, OFFICER)
    granted, withdrawn, objected, restricted, restricted_granted, li_objected, lifted, gpc, _ = ids
    for sid in (granted, restricted_granted, gpc):
        for p in consent.purposes:
            if p.requires_consent:
                consent.record_consent(sid, p.id, GRANT, WEB, NOTICE)
    consent.record_consent(withdrawn, "email_marketing", GRANT, WEB, NOTICE)
    consent.record_consent(withdrawn, "email_marketing", WITHDRAW, WEB, NOTICE)
    consent.object(objected, "email_marketing", WEB)
    consent.restrict(restricted, ConsentSource.OFFICER)
    consent.restrict(restricted_granted, ConsentSource.OFFICER)
    consent.object(li_objected, "analytics", WEB)
    consent.object(li_objected, "churn_prediction", WEB)
    consent.object(lifted, "analytics", WEB)
    consent.lift_objection(lifted, "analytics", WEB)
    consent.opt_out(gpc, ConsentSource.GPC, NOTICE)
    table = runtime.tables[runtime.policy.datamap.subject_collection]
    states = consent.states(ids)

    # both SQL forms are valid on both backends: each must give the rule's answers
    for form in ("sqlite", "postgresql"):
        for purpose in consent.purposes:
            clause = processable_clause(table.c.id, purpose, dialect=form)
            in_sql = set(session.scalars(select(table.c.id).where(table.c.id.in_(ids), clause)))
            by_rule = {sid for sid in ids if may_process(purpose, states[sid]).allowed}
            assert in_sql == by_rule, (form, purpose.id)
    marketing = consent.purposes.get("email_marketing")
    assert {s for s in ids if may_process(marketing, states[s]).allowed} == {granted, gpc}
