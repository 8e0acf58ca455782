"""The key-store database down: reads answer 503 problems (not 500s, and not "the change
could not be stored"), and /readyz says not ready."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from api import create_app
from governance.db import make_engine
from governance.keys.keystore import KeyStore
from governance.keys.services import FieldCrypto, KeyService
from governance.runtime import Runtime
from tests.conftest import bearer

CUSTOMER = {
    "first_name": "Ada",
    "last_name": "Fictional",
    "email": "ada.ks@mail.example",
    "city": "Exampleville",
    "country": "US",
    "language": "en",
}


@pytest.fixture
def keystore_down(runtime: Runtime, session) -> Iterator[tuple[Any, str]]:  # noqa: ANN001
    ada = runtime.record_store(session).create("customers", CUSTOMER).id
    session.commit()
    dead = make_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2}
    )
    keys = KeyService(runtime.keys.provider, KeyStore(dead))
    broken = Runtime(
        settings=runtime.settings,
        engine=runtime.engine,
        sessions=runtime.sessions,
        policy=runtime.policy,
        tables=runtime.tables,
        audit=runtime.audit,
        keys=keys,
        crypto=FieldCrypto(keys, runtime.policy.datamap),
    )
    app = create_app(runtime=broken, background_integrator=False)
    yield app.test_client(), ada
    dead.dispose()


def test_a_read_with_the_key_store_down_is_a_503_problem_that_claims_no_failed_change(
    keystore_down,
    issue_key,  # noqa: ANN001
) -> None:
    client, ada = keystore_down
    support = bearer(issue_key("application", "customer_support"))

    response = client.get(f"/v1/data/customers/{ada}?purpose=customer_support", headers=support)

    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = json.loads(response.get_data(as_text=True))
    assert body["type"].endswith("/unavailable")
    assert "could not be stored" not in body["detail"]
    assert "nobody" not in response.get_data(as_text=True)


def test_readyz_is_503_when_the_key_store_is_unreachable(keystore_down) -> None:  # noqa: ANN001
    client, _ = keystore_down

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.get_json()["type"].endswith("/unavailable")
