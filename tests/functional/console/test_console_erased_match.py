"""An erased person's e-mail written again is told to the compliance officer, in the queue
and on the subject's page, and never to the application that wrote it (issue 26 item 4)."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.conftest import bearer
from tests.functional.console.conftest import Browser

RETURNED = "came.back@mail.example"


def test_the_queue_and_the_subject_page_show_a_subject_matching_an_erased_person(
    runtime, session, app, make_user, issue_key
) -> None:
    from governance.requests.models import ErasureSuppression

    index = runtime.crypto.blind_index("customers", "email", RETURNED)
    session.add(ErasureSuppression(email_bidx=index, created_at=datetime.now(UTC)))
    session.commit()
    http = app.test_client()
    support = bearer(issue_key("application", "customer_support"))
    created = http.post(
        "/v1/data/customers?purpose=customer_support",
        headers=support,
        json={"first_name": "Ada", "last_name": "Fictional", "email": RETURNED},
    )
    assert created.status_code == 201 and set(created.get_json()) == {"id"}
    sid = created.get_json()["id"]
    browser = Browser(http)
    assert browser.login(make_user("compliance_officer").name).status_code == 302

    queue = browser.http.get("/console/requests").get_data(as_text=True)
    subject = browser.http.get(f"/console/subjects/{sid}").get_data(as_text=True)

    assert 'id="returned"' in queue and sid in queue
    assert 'id="matches-erased"' in subject
    assert "came.back" not in queue + subject
