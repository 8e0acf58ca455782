"""The service refuses to start on a key file others can read, and on a fresh key file
beside a key store full of keys another KEK wrapped."""

from __future__ import annotations

import pytest

from governance.db import unit_of_work
from governance.keys.errors import KeyFileError
from governance.runtime import open_runtime


def test_the_service_refuses_to_start_when_the_key_file_is_readable_by_others(own_runtime) -> None:  # noqa: ANN001
    rt = own_runtime()
    rt.settings.key_file.chmod(0o644)

    with pytest.raises(KeyFileError, match="chmod 600"):
        open_runtime(rt.settings)


def test_a_lost_key_file_is_not_silently_replaced_by_a_new_one(own_runtime) -> None:  # noqa: ANN001
    rt = own_runtime()
    with unit_of_work(rt.sessions) as session:
        rt.record_store(session).create(
            "customers",
            {"first_name": "Ada", "last_name": "Fictional", "email": "ada@mail.example"},
        )
    rt.settings.key_file.unlink()

    with pytest.raises(KeyFileError, match="holds 1 data keys wrapped by another"):
        open_runtime(rt.settings)
    assert not rt.settings.key_file.exists()  # the wrong new file is not left behind
