"""Console intake by an e-mail that several subjects hold shows their ids to choose from,
never picks one (issue 26 item 3)."""

from __future__ import annotations

import dataclasses
import re

from tests.functional.api.test_identity_uniqueness import stored_duplicates
from tests.functional.console.conftest import Browser

SHARED = "console.shared@mail.example"


def test_console_intake_by_an_ambiguous_email_shows_the_ids_to_choose_from(
    runtime, session, make_user
) -> None:
    from api import create_app

    duplicates = stored_duplicates(runtime, session, SHARED)

    settings = dataclasses.replace(runtime.settings, task_runner="inline")
    app = create_app(
        runtime=dataclasses.replace(runtime, settings=settings, task_runner=None),
        background_integrator=False,
    )
    browser = Browser(app.test_client())
    assert browser.login(make_user("compliance_officer").name).status_code == 302

    response = browser.post(
        "/console/requests/new",
        "/console/requests/new",
        {"type": "access", "regulation": "gdpr", "email": SHARED},
    )

    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert all(sid in page for sid in duplicates)
    assert not re.search(r"console\.shared", page)


def test_console_lookup_by_an_ambiguous_email_lists_every_subject_holding_it(
    runtime, session, make_user
) -> None:
    from api import create_app

    duplicates = stored_duplicates(runtime, session, SHARED)
    browser = Browser(create_app(runtime=runtime, background_integrator=False).test_client())
    assert browser.login(make_user("compliance_officer").name).status_code == 302

    response = browser.post("/console/subjects", "/console/subjects", {"email": SHARED})

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="several"' in page and all(sid in page for sid in duplicates)
    assert not re.search(r"console\.shared", page)
