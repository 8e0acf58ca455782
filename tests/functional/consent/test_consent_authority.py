"""governance.consent.authority under concurrency: an officer's withdrawal committed while an
application's grant of the same purpose is being judged is seen, never overtaken."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import text

from governance.consent.errors import ConsentChangeForbidden
from governance.consent.services import ConsentAction, ConsentService, ConsentSource
from governance.runtime import Runtime
from policies.consent import ConsentStatus
from tests.conftest import _server_url
from tests.functional.consent.conftest import APP, OFFICER, add_subjects
from tests.functional.governance.keys.conftest import own_runtime  # noqa: F401 - fixture

NOTICE = "notice-2026-01"
MARKETING = "email_marketing"


def _waiting_on_a_lock(rt: Runtime) -> bool:
    with rt.engine.connect() as conn:
        return bool(
            conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            )
        )


def test_an_officers_withdrawal_committed_while_an_applications_grant_waits_is_seen(
    own_runtime: Callable[..., Runtime],  # noqa: F811
) -> None:  # noqa: F811
    if _server_url() is None:
        pytest.skip("row locks are PostgreSQL's; SQLite admits one writer at a time")
    rt = own_runtime()
    with rt.sessions() as s:
        (sid,) = add_subjects(s, rt, 1)
        ConsentService(s, rt, APP, held_purposes={MARKETING}).record_consent(
            sid, MARKETING, ConsentAction.GRANT, ConsentSource.API, NOTICE
        )
        s.commit()
    officer = rt.sessions()
    # Flushed, not committed: the officer's transaction holds the purpose's state row.
    ConsentService(officer, rt, OFFICER).record_consent(
        sid, MARKETING, ConsentAction.WITHDRAW, ConsentSource.OFFICER, NOTICE
    )
    outcome: list[BaseException | str] = []

    def application_grants() -> None:
        with rt.sessions() as s:
            try:
                ConsentService(s, rt, APP, held_purposes={MARKETING}).record_consent(
                    sid, MARKETING, ConsentAction.GRANT, ConsentSource.API, NOTICE
                )
                s.commit()
                outcome.append("granted")
            except Exception as error:  # noqa: BLE001 - handed to the test thread
                s.rollback()
                outcome.append(error)

    app = threading.Thread(target=application_grants)
    app.start()
    for _ in range(400):  # until the application's transaction waits on the officer's lock
        if _waiting_on_a_lock(rt) or not app.is_alive():
            break
        time.sleep(0.025)
    officer.commit()
    officer.close()
    app.join(30)

    assert not app.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], ConsentChangeForbidden), outcome
    with rt.sessions() as s:
        state = ConsentService(s, rt, OFFICER).state(sid).of(MARKETING)
    assert (state.status, state.source) == (ConsentStatus.WITHDRAWN, "officer")
