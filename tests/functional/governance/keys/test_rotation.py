"""KEK rotation: every data key is rewrapped under the new version, old versions are
retired only when nothing refers to them, and a rotation killed half-way resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from audit.events import Actor
from governance.db import unit_of_work
from governance.keys.events import KeyEvents
from governance.keys.rotation import begin_rotation, rotate, run_rotation
from governance.runtime import Runtime, open_runtime
from tests.functional.governance.keys.conftest import environment

CUSTOMER = {"first_name": "Ada", "last_name": "Fictional", "city": "Exampleville", "country": "US"}


def fill(rt: Runtime, count: int) -> dict[str, str]:
    """``count`` customers; returns id -> email."""
    emails: dict[str, str] = {}
    with unit_of_work(rt.sessions) as session:
        store = rt.record_store(session)
        rows = [
            {"id": f"{n:032x}", **CUSTOMER, "email": f"person{n}@mail.example"}
            for n in range(count)
        ]
        store.insert_many("customers", rows)
        emails = {r["id"]: r["email"] for r in rows}
    return emails


def readable(rt: Runtime, emails: dict[str, str]) -> bool:
    with unit_of_work(rt.sessions) as session:
        store = rt.record_store(session)
        seen: dict[str, str] = {}
        after = None
        while True:
            page = store.list("customers", ["email"], after=after, limit=500)
            seen.update({r.id: r.values["email"] for r in page.items})
            if page.next_after is None:
                break
            after = page.next_after
    return seen == emails


def events(rt: Runtime) -> KeyEvents:
    return KeyEvents(rt.sessions, rt.audit, Actor("cli:test", "operator"))


def test_rotation_rewraps_every_data_key_and_retires_the_old_version(own_runtime) -> None:  # noqa: ANN001
    rt = own_runtime()
    emails = fill(rt, 300)

    report = rotate(rt.keys, events(rt), batch_size=64)

    assert report.kek_version == 2 and report.rewrapped == 300 and report.retired == [1]
    assert rt.keys.keystore.count_by_version() == {2: 300}
    assert json.loads(rt.settings.key_file.read_text())["versions"]["1"]["key"] is None
    # a fresh process (no cached keys) reads everything under the new version
    fresh = open_runtime(rt.settings)
    try:
        assert readable(fresh, emails)
    finally:
        fresh.dispose()


def test_rotation_is_audited_with_versions_and_counts_only(own_runtime) -> None:  # noqa: ANN001
    rt = own_runtime()
    fill(rt, 20)
    old_key = json.loads(rt.settings.key_file.read_text())["versions"]["1"]["key"]

    rotate(rt.keys, events(rt))

    with unit_of_work(rt.sessions) as session:
        rt.audit.integrate(session)
        documents = [e.document for e in rt.audit.events(session, limit=100)]
        leaves = b"".join(e.leaf for e in rt.audit.events(session, limit=100))
    actions = [d["action"] for d in documents]
    assert actions == ["key.kek.created", "key.rotation.started", "key.rotated"]
    assert documents[-1]["details"]["kek_version"] == 2
    assert documents[-1]["details"]["count"] == 20
    assert documents[-1]["details"]["kek_versions"] == [1]
    new_key = json.loads(rt.settings.key_file.read_text())["versions"]["2"]["key"]
    assert old_key.encode() not in leaves and new_key.encode() not in leaves


def test_a_rotation_killed_half_way_resumes_and_every_record_still_decrypts(own_runtime) -> None:  # noqa: ANN001
    rt = own_runtime()
    emails = fill(rt, 400)
    env = {**os.environ, **environment(rt)}
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "keys", "rotate", "--batch-size", "10", "--pause-ms", "30"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if rt.keys.keystore.count_by_version().get(2, 0) >= 50:
                break
            time.sleep(0.02)
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait()

    by_version = rt.keys.keystore.count_by_version()
    assert by_version.get(1, 0) > 0 and by_version.get(2, 0) > 0, by_version  # really half-way
    job = rt.keys.keystore.running_job("rotation")
    assert job is not None and job.target_version == 2
    assert readable(rt, emails)  # mid-rotation, every record opens (two live versions)

    job, resumed = begin_rotation(rt.keys, events(rt))
    report = run_rotation(rt.keys, job, events(rt), resumed=resumed)

    assert resumed and report.kek_version == 2  # no third version was made
    assert rt.keys.keystore.count_by_version() == {2: 400}
    assert report.retired == [1]
    assert rt.keys.keystore.running_job("rotation") is None
    fresh = open_runtime(rt.settings)
    try:
        assert readable(fresh, emails)
    finally:
        fresh.dispose()


def test_a_crash_between_the_new_version_and_its_job_is_finished_not_repeated(own_runtime) -> None:  # noqa: ANN001
    rt = own_runtime()
    emails = fill(rt, 30)
    rt.keys.provider.create_version()  # the crash: version 2 exists, no job row, keys on 1

    report = rotate(rt.keys, events(rt))

    assert report.resumed and report.kek_version == 2
    assert rt.keys.keystore.count_by_version() == {2: 30}
    assert readable(rt, emails)


def test_a_key_shredded_during_rotation_stays_shredded(own_runtime) -> None:  # noqa: ANN001
    rt = own_runtime()
    fill(rt, 30)
    job, _ = begin_rotation(rt.keys, None)
    victim = f"{7:032x}"
    rt.keys.shred(victim)

    run_rotation(rt.keys, job, None, batch_size=8)

    assert rt.keys.keystore.fetch([victim])[victim].shredded
    assert rt.keys.keystore.counts() == {"live": 29, "shredded": 1}


def test_no_key_material_reaches_the_logs_during_rotation_and_shredding(
    own_runtime,
    caplog,  # noqa: ANN001
) -> None:
    import logging

    rt = own_runtime()
    fill(rt, 20)
    caplog.set_level(logging.DEBUG)
    rotate(rt.keys, events(rt), batch_size=5)
    rt.keys.shred(f"{3:032x}")

    document = json.loads(rt.settings.key_file.read_text())
    secrets_ = [document["index_key"]] + [
        v["key"] for v in document["versions"].values() if v["key"]
    ]
    wrapped = [
        k.wrapped
        for k in rt.keys.keystore.fetch([f"{n:032x}" for n in range(20)]).values()
        if k.wrapped
    ]
    text_ = caplog.text
    assert not any(s in text_ for s in secrets_)
    assert not any(w.hex() in text_ or repr(w) in text_ for w in wrapped)


def test_a_kek_given_by_environment_never_shows_in_the_settings_repr(own_runtime) -> None:  # noqa: ANN001
    from dataclasses import replace

    rt = own_runtime()
    injected = replace(rt.settings, kek_value=rt.settings.key_file.read_text())
    assert injected.kek_value and injected.kek_value not in repr(injected)
    assert json.loads(injected.kek_value)["index_key"] not in repr(injected)
