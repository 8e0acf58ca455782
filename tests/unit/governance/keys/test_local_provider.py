"""The local KEK provider: an owner-only key file, versions, env injection, and no key
material in any error."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from governance.keys.errors import (
    CiphertextIntegrityError,
    KeyFileError,
    ReadOnlyKeyProvider,
    UnknownKekVersion,
)
from governance.keys.local import LocalKeyProvider, open_local_provider


def test_the_first_run_creates_an_owner_only_key_file(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "kek.json"
    provider, created = open_local_provider(path, None)

    assert created and path.exists()
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert provider.current_version() == 1
    _, again = open_local_provider(path, None)
    assert not again  # the second start loads it


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_file_readable_or_writable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "kek.json"
    open_local_provider(path, None)
    path.chmod(mode)

    with pytest.raises(KeyFileError, match=r"chmod 600"):
        LocalKeyProvider(path=path)


def test_a_wrapped_key_unwraps_only_with_its_associated_data(tmp_path: Path) -> None:
    provider, _ = open_local_provider(tmp_path / "kek.json", None)
    wrapped = provider.wrap(1, b"k" * 32, b"subject-1")

    assert provider.unwrap(1, wrapped, b"subject-1") == b"k" * 32
    with pytest.raises(CiphertextIntegrityError):
        provider.unwrap(1, wrapped, b"subject-2")


def test_a_new_version_becomes_current_and_the_old_one_still_unwraps_until_retired(
    tmp_path: Path,
) -> None:
    path = tmp_path / "kek.json"
    provider, _ = open_local_provider(path, None)
    old = provider.wrap(1, b"k" * 32, b"a")

    assert provider.create_version() == 2
    assert provider.current_version() == 2
    assert provider.unwrap(1, old, b"a") == b"k" * 32

    provider.retire(1)
    with pytest.raises(UnknownKekVersion):
        provider.unwrap(1, old, b"a")
    document = json.loads(path.read_text())
    assert document["versions"]["1"]["key"] is None and document["versions"]["1"]["retired_at"]
    assert path.stat().st_mode & 0o777 == 0o600  # rewritten with the same protection


def test_the_current_version_cannot_be_retired(tmp_path: Path) -> None:
    provider, _ = open_local_provider(tmp_path / "kek.json", None)
    with pytest.raises(ValueError):
        provider.retire(1)


def test_another_process_sees_a_rotation_done_through_the_file(tmp_path: Path) -> None:
    path = tmp_path / "kek.json"
    worker, _ = open_local_provider(path, None)
    operator = LocalKeyProvider(path=path)

    operator.create_version()

    assert worker.current_version() == 2  # re-read because the file changed
    wrapped = operator.wrap(2, b"k" * 32, b"a")
    assert worker.unwrap(2, wrapped, b"a") == b"k" * 32


def test_a_key_set_from_the_environment_is_used_and_read_only(tmp_path: Path) -> None:
    path = tmp_path / "kek.json"
    open_local_provider(path, None)
    provider, created = open_local_provider(tmp_path / "unused.json", path.read_text())

    assert not created and not (tmp_path / "unused.json").exists()
    assert provider.current_version() == 1
    with pytest.raises(ReadOnlyKeyProvider):
        provider.create_version()


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "{}",
        '{"format": "crm-privacy-gateway/keyset/v1", "current": 1}',
        '{"format": "crm-privacy-gateway/keyset/v1", "current": 1, "index_key": "AAAA", '
        '"versions": {"1": {"key": "c2hvcnQ="}}}',
    ],
)
def test_a_malformed_key_set_stops_the_start_without_quoting_it(
    tmp_path: Path, content: str
) -> None:
    path = tmp_path / "kek.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, content.encode())
    os.close(fd)

    with pytest.raises(KeyFileError) as caught:
        LocalKeyProvider(path=path)
    assert "c2hvcnQ" not in str(caught.value) and "AAAA" not in str(caught.value)


def test_errors_never_contain_key_bytes(tmp_path: Path) -> None:
    path = tmp_path / "kek.json"
    provider, _ = open_local_provider(path, None)
    secrets_in_file = [v["key"] for v in json.loads(path.read_text())["versions"].values()]
    secrets_in_file.append(json.loads(path.read_text())["index_key"])

    messages = []
    for attempt in (
        lambda: provider.unwrap(1, b"x" * 40, b"a"),
        lambda: provider.unwrap(9, b"x", b"a"),
        lambda: provider.retire(1),
    ):
        try:
            attempt()
        except Exception as exc:  # noqa: BLE001 - collecting every message
            messages.append(str(exc))
    assert len(messages) == 3
    assert not any(secret in message for secret in secrets_in_file for message in messages)
