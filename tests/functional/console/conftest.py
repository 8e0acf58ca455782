"""Console tests through the Flask test client: real users (Argon2), real sessions and CSRF
tokens taken from the served forms, the real database and audit log."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from audit.events import Actor
from governance.users.services import UserService

PASSWORD = "a console test password"  # noqa: S105 - a test account's
_CSRF = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|'
    r'type="hidden" name="csrf_token" value="([^"]+)"|'
    r'name="csrf_token" value="([^"]+)"'
)


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no form with a CSRF token"
    return next(g for g in match.groups() if g)


@pytest.fixture
def make_user(sessions, runtime) -> Callable[[str], Any]:  # noqa: ANN001
    def make(role: str, name: str | None = None, password: str = PASSWORD) -> Any:
        with sessions() as s:
            created = UserService(
                s, runtime.audit, Actor(id="cli:test", role="operator"), runtime.policy.version
            ).create(name or f"{role.split('_')[0]}-{uuid.uuid4().hex[:6]}", role, password)
            s.commit()
            return created.user

    return make


class Browser:
    """A test client that signs in and posts forms with the token the page gave it."""

    def __init__(self, http: FlaskClient) -> None:
        self.http = http

    def login(self, name: str, password: str = PASSWORD) -> Any:
        token = csrf_of(self.http.get("/console/login").get_data(as_text=True))
        return self.http.post(
            "/console/login", data={"name": name, "password": password, "csrf_token": token}
        )

    def post(self, form_page: str, url: str, data: dict[str, str] | None = None) -> Any:
        token = csrf_of(self.http.get(form_page).get_data(as_text=True))
        return self.http.post(url, data={**(data or {}), "csrf_token": token})


@pytest.fixture
def browser(http) -> Browser:  # noqa: ANN001
    return Browser(http)


@pytest.fixture
def signed_in(browser, make_user) -> Callable[[str], Any]:  # noqa: ANN001
    def sign_in(role: str) -> Any:
        user = make_user(role)
        response = browser.login(user.name)
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    return sign_in
