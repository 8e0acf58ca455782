"""Signing in and out of the console, cookies, CSRF, throttling, roles and error pages."""

from __future__ import annotations

import re

from sqlalchemy import select

from audit.models import audit_entries
from governance.users.models import ConsoleUser
from tests.functional.console.conftest import PASSWORD, Browser, csrf_of


def test_the_console_sends_unsigned_visitors_to_the_sign_in_page(http) -> None:  # noqa: ANN001
    response = http.get("/console/requests")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/login?next=/console/requests")


def test_signing_in_sets_an_httponly_samesite_lax_cookie_and_opens_the_queue(
    browser, make_user
) -> None:  # noqa: ANN001
    user = make_user("compliance_officer")
    response = browser.login(user.name)
    assert response.status_code == 302 and response.headers["Location"] == "/console/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    home = browser.http.get("/console/")
    assert home.headers["Location"] == "/console/requests"
    queue = browser.http.get("/console/requests")
    assert queue.status_code == 200 and "Data-subject requests" in queue.get_data(as_text=True)


def test_the_cookie_is_secure_when_served_over_https(browser, make_user) -> None:  # noqa: ANN001
    user = make_user("auditor")
    page = browser.http.get("/console/login", base_url="https://console.example")
    response = browser.http.post(
        "/console/login",
        base_url="https://console.example",
        data={
            "name": user.name,
            "password": PASSWORD,
            "csrf_token": csrf_of(page.get_data(as_text=True)),
        },
        headers={"Referer": "https://console.example/console/login"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert "Secure" in response.headers["Set-Cookie"]


def test_every_page_is_no_store_under_a_strict_csp(browser, signed_in) -> None:  # noqa: ANN001
    signed_in("compliance_officer")
    for path in ("/console/login", "/console/requests", "/console/requests/new"):
        response = browser.http.get(path)
        assert response.headers["Cache-Control"] == "no-store"
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp
        assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp


def test_a_form_posted_without_its_csrf_token_is_refused_and_changes_nothing(
    browser, signed_in, session
) -> None:  # noqa: ANN001
    signed_in("admin")
    response = browser.http.post("/console/users", data={"name": "mallory", "role": "admin"})
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    assert session.scalar(select(ConsoleUser).where(ConsoleUser.name == "mallory")) is None


def test_a_sign_in_without_its_csrf_token_is_refused(http, make_user) -> None:  # noqa: ANN001
    user = make_user("auditor")
    response = http.post("/console/login", data={"name": user.name, "password": PASSWORD})
    assert response.status_code == 400


def _from(app, address: str) -> Browser:  # noqa: ANN001
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return Browser(client)


def test_wrong_passwords_from_one_network_do_not_lock_the_account_out_from_another(
    app, make_user
) -> None:  # noqa: ANN001
    user = make_user("compliance_officer")
    attacker = _from(app, "203.0.113.7")
    for _ in range(6):
        assert attacker.login(user.name, "not the password!").status_code in (401, 429)
    # the guessing source is slowed down, even with the right password...
    refused = attacker.login(user.name)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    # ...but the person, from their own network, signs in
    assert _from(app, "198.51.100.20").login(user.name).status_code == 302


def test_an_unknown_and_a_known_name_get_the_same_answers(app, make_user) -> None:  # noqa: ANN001
    user = make_user("compliance_officer")
    answers = {}
    for name in (user.name, "nobody-here"):
        guesser = _from(app, "203.0.113.7")
        seen = []
        for _ in range(7):
            response = guesser.login(name, "not the password!")
            page = response.get_data(as_text=True).replace(name, "NAME")
            page = page.replace(csrf_of(page), "TOKEN")
            # the wait depends on when the first failure fell, not on the name
            seen.append((response.status_code, re.sub(r"again in \d+ s", "again in N s", page)))
        answers[name] = seen
    assert answers[user.name] == answers["nobody-here"]
    assert [status for status, _ in answers[user.name]] == [401] * 5 + [429] * 2


def test_changing_the_password_ends_the_persons_other_sessions(app, make_user) -> None:  # noqa: ANN001
    user = make_user("auditor")
    here, elsewhere = Browser(app.test_client()), Browser(app.test_client())
    assert here.login(user.name).status_code == 302
    assert elsewhere.login(user.name).status_code == 302
    assert elsewhere.http.get("/console/audit").status_code == 200
    changed = here.post(
        "/console/password",
        "/console/password",
        {"current_password": PASSWORD, "new_password": "a brand new passphrase"},
    )
    assert changed.status_code == 302
    assert elsewhere.http.get("/console/audit").headers["Location"].startswith("/console/login")
    assert here.http.get("/console/audit").status_code == 200


def test_a_weak_new_password_is_refused_on_the_password_page(browser, signed_in) -> None:  # noqa: ANN001
    signed_in("auditor")
    refused = browser.post(
        "/console/password",
        "/console/password",
        {"current_password": PASSWORD, "new_password": "aaaaaaaaaaaa"},
    )
    assert refused.status_code == 422
    assert browser.http.get("/console/audit").status_code == 200


def test_a_next_with_a_line_break_is_ignored_at_sign_in(browser, make_user) -> None:  # noqa: ANN001
    user = make_user("auditor")
    token = csrf_of(browser.http.get("/console/login").get_data(as_text=True))
    response = browser.http.post(
        "/console/login",
        data={
            "name": user.name,
            "password": PASSWORD,
            "csrf_token": token,
            "next": "/console/audit\r\nSet-Cookie: x=1",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/"
    assert "x=1" not in response.headers.get("Set-Cookie", "")


def test_logout_ends_the_session_on_the_server(browser, signed_in) -> None:  # noqa: ANN001
    signed_in("auditor")
    cookie = browser.http.get_cookie("gateway_console", path="/console")
    assert browser.post("/console/audit", "/console/logout").status_code == 302
    assert browser.http.get("/console/audit").status_code == 302
    # The old cookie, replayed, opens nothing either: the session ended on the server.
    browser.http.set_cookie("gateway_console", cookie.value, path="/console")
    assert browser.http.get("/console/audit").status_code == 302


def test_an_auditor_gets_a_403_page_for_officer_pages_and_it_is_audited(
    browser, signed_in, session
) -> None:  # noqa: ANN001
    user = signed_in("auditor")
    response = browser.http.get("/console/requests")
    assert response.status_code == 403 and response.mimetype == "text/html"
    assert "Not allowed" in response.get_data(as_text=True)
    denied = session.scalars(
        select(audit_entries.c.actor_id).where(audit_entries.c.action == "auth.denied")
    ).all()
    assert f"user:{user.id}" in denied


def test_an_officer_cannot_reach_user_management(browser, signed_in) -> None:  # noqa: ANN001
    signed_in("compliance_officer")
    assert browser.http.get("/console/users").status_code == 403
    response = browser.post(
        "/console/requests/new", "/console/users", {"name": "eve", "role": "admin"}
    )
    assert response.status_code == 403


def test_an_admin_creates_a_user_whose_one_time_password_must_be_changed(
    browser, signed_in, http, app
) -> None:  # noqa: ANN001
    signed_in("admin")
    created = browser.post(
        "/console/users", "/console/users", {"name": "new-officer", "role": "compliance_officer"}
    )
    assert created.status_code == 201
    html = created.get_data(as_text=True)
    password = html.split('id="one-time-password">')[1].split("<")[0]
    other = app.test_client()
    from tests.functional.console.conftest import Browser

    newcomer = Browser(other)
    assert newcomer.login("new-officer", password).headers["Location"] == "/console/password"
    assert other.get("/console/requests").headers["Location"] == "/console/password"
    changed = newcomer.post(
        "/console/password",
        "/console/password",
        {"current_password": password, "new_password": "my own long password"},
    )
    assert changed.status_code == 302
    assert other.get("/console/requests").status_code == 200


def test_an_unknown_console_page_is_a_page_and_the_api_keeps_problem_json(
    browser, signed_in, http
) -> None:  # noqa: ANN001
    signed_in("auditor")
    page = browser.http.get("/console/nowhere")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert http.get("/v1/nowhere").mimetype == "application/problem+json"


def test_console_actions_are_audited_with_the_person_as_the_actor(
    browser, signed_in, session
) -> None:  # noqa: ANN001
    user = signed_in("compliance_officer")
    browser.http.get("/console/requests")
    actors = session.scalars(
        select(audit_entries.c.actor_id).where(audit_entries.c.action == "request.listed")
    ).all()
    assert actors == [f"user:{user.id}"]
