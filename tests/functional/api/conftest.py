"""Fixtures the API tests share: an app whose jobs run in the caller, and an officer's key."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from governance.runtime import Runtime
from tests.conftest import bearer


@pytest.fixture
def inline_http(runtime: Runtime) -> FlaskClient:
    """The API with the inline task runner: a 202's job has run when the answer arrives."""
    from api import create_app

    settings = dataclasses.replace(runtime.settings, task_runner="inline")
    inline = dataclasses.replace(runtime, settings=settings, task_runner=None)
    return create_app(runtime=inline, background_integrator=False).test_client()


@pytest.fixture
def officer(issue_key: Callable[..., str]) -> dict[str, str]:
    return bearer(issue_key("compliance_officer"))
