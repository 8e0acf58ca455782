"""The console in a real browser: headless Chromium (Debian's package, driven by Playwright)
against `governance serve` under gunicorn on a demo store.

An officer and an auditor do their day's work through the pages; then the run checks that
no page and no server log line carried a customer's e-mail. Screenshots of the queue, a
request, a subject and the audit verification are written to docs/console/ (linked from the
README). Chromium missing is a failure that says how to install it, not a silent skip
(GOVERNANCE_TEST_SKIP_BROWSER=1 skips, and says so).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from governance.db import unit_of_work
from governance.runtime import open_runtime
from governance.settings import Settings
from tests.functional.serving import embedded_env, served

CHROMIUM = os.environ.get("GOVERNANCE_CHROMIUM", "/usr/bin/chromium")
# The screenshots the README links: every run refreshes them, so they show the pages as
# they are (GOVERNANCE_TEST_SCREENSHOTS puts them elsewhere, e.g. to keep a checkout clean).
SHOTS = Path(
    os.environ.get("GOVERNANCE_TEST_SCREENSHOTS")
    or Path(__file__).resolve().parents[3] / "docs" / "console"
)
NEW_PASSWORD = "browser test password 1"  # noqa: S105 - a test account's


def _need_chromium() -> None:
    if os.environ.get("GOVERNANCE_TEST_SKIP_BROWSER") == "1":
        pytest.skip("browser tests skipped: GOVERNANCE_TEST_SKIP_BROWSER=1")
    if os.environ.get("GOVERNANCE_TEST_DATABASE_URL"):
        pytest.skip("the browser tests run on the embedded store, in the SQLite pass")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.fail(
            f"chromium is missing at {CHROMIUM}: install Debian's package "
            "(apt-get install -y chromium; scripts/test does this), set "
            "GOVERNANCE_CHROMIUM, or GOVERNANCE_TEST_SKIP_BROWSER=1 to skip these tests"
        )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    _need_chromium()
    var = tmp_path_factory.mktemp("console-site")
    env = embedded_env(var)
    demo = subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "cli", "demo", "--no-serve", "--customers", "40"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    passwords = dict(
        re.findall(r"^\s+(demo-(?:admin|officer|auditor))\s+\S+\s+(\S+)$", demo.stdout, re.M)
    )
    assert set(passwords) == {"demo-admin", "demo-officer", "demo-auditor"}, demo.stdout
    rt = open_runtime(Settings.from_env(env))
    with unit_of_work(rt.sessions) as session:
        customers = rt.record_store(session).list("customers", ["email"], limit=100).items
    rt.dispose()
    emails = {c.id: c.values["email"] for c in customers}
    log = (var / "server.log").open("wb")
    with served(env, stdout=log, stderr=log) as (port, _):
        yield {
            "url": f"http://127.0.0.1:{port}",
            "passwords": passwords,
            "emails": emails,
            "log": var / "server.log",
            "demo_output": demo.stdout,
        }
    log.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    _need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


class Visit:
    """One person's browser context; keeps the HTML of every page it saw."""

    def __init__(self, chromium: Any, site: dict[str, Any], width: int = 1280) -> None:
        self.site = site
        self.context = chromium.new_context(
            viewport={"width": width, "height": 900}, accept_downloads=True
        )
        self.page = self.context.new_page()
        self.seen: list[str] = []
        self.page.on("load", lambda page: self.seen.append(page.content()))

    def go(self, path: str) -> Any:
        response = self.page.goto(self.site["url"] + path)
        return response

    def sign_in(self, name: str, password: str) -> None:
        self.go("/console/login")
        self.page.get_by_label("User name").fill(name)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()

    def first_sign_in(self, name: str) -> None:
        self.sign_in(name, self.site["passwords"][name])
        self.page.wait_for_url("**/console/password")
        self.page.get_by_label("Current password").fill(self.site["passwords"][name])
        self.page.get_by_label("New password").fill(NEW_PASSWORD)
        self.page.get_by_role("button", name="Change password").click()
        self.page.wait_for_load_state()

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.seen.append(self.page.content())
        self.context.close()


@pytest.fixture(scope="module")
def pages_seen() -> list[str]:
    return []


def _wait_for_status(visit: Visit, wanted: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        visit.page.reload()
        status = visit.page.locator("#status").inner_text()
        if status == wanted:
            return
        assert time.monotonic() < deadline, f"status stayed {status}"
        time.sleep(0.5)


def _intake(visit: Visit, kind: str, email: str, regulation: str = "gdpr") -> str:
    visit.go("/console/requests/new")
    visit.page.get_by_label("Type").select_option(kind)
    visit.page.get_by_label("Regulation").select_option(regulation)
    visit.page.get_by_label("Subject's e-mail").fill(email)
    visit.page.get_by_role("button", name="Record the request").click()
    visit.page.wait_for_url(re.compile(r".*/console/requests/[0-9a-f]{32}$"))
    return visit.page.url.rsplit("/", 1)[1]


def _verify_and_execute(visit: Visit) -> None:
    visit.page.get_by_label("Verified by").select_option("id_document")
    visit.page.get_by_role("button", name="Record verification").click()
    visit.page.wait_for_load_state()
    assert visit.page.locator("#status").inner_text() == "verified"
    visit.page.get_by_role("button", name="Execute").click()
    visit.page.wait_for_load_state()


def test_an_officers_day_in_the_browser(chromium, site, pages_seen) -> None:  # noqa: ANN001
    officer = Visit(chromium, site)
    officer.first_sign_in("demo-officer")
    officer.page.wait_for_url("**/console/requests")
    assert int(officer.page.locator("#count-overdue").inner_text()) >= 1
    officer.page.get_by_label("Due").select_option("overdue")
    officer.page.get_by_role("button", name="Filter").click()
    officer.page.wait_for_load_state()
    assert officer.page.locator("tr.overdue").count() >= 1
    officer.go("/console/requests")
    officer.shot("queue")

    ids = sorted(site["emails"])
    access_subject, erased_subject, extended_subject = ids[-1], ids[-2], ids[-3]
    # An access request: verified, executed, the ZIP downloaded and opened.
    _intake(officer, "access", site["emails"][access_subject])
    _verify_and_execute(officer)
    _wait_for_status(officer, "completed")
    with officer.page.expect_download() as download:
        officer.page.locator("#download-export").click()
    content = Path(download.value.path()).read_bytes()
    data = json.loads(zipfile.ZipFile(io.BytesIO(content)).read("data.json"))
    assert json.dumps(data).count(site["emails"][access_subject]) >= 1
    officer.shot("request")

    # An erasure: it completes, and the subject is then nowhere to be found.
    _intake(officer, "erasure", site["emails"][erased_subject])
    _verify_and_execute(officer)
    _wait_for_status(officer, "completed")
    officer.go("/console/subjects")
    officer.page.get_by_label("E-mail").fill(site["emails"][erased_subject])
    officer.page.get_by_role("button", name="Find").click()
    officer.page.wait_for_load_state()
    assert officer.page.locator("#not-found").is_visible()

    # An extension of a GDPR request shows the new due date.
    _intake(officer, "restriction", site["emails"][extended_subject])
    before = officer.page.locator("#due-date").inner_text()
    officer.page.get_by_label("Ground").select_option("complexity")
    officer.page.get_by_role("button", name="Extend the deadline").click()
    officer.page.wait_for_load_state()
    assert officer.page.locator("#due-date").inner_text() > before

    # The subject page of the access request's subject, at 768 px too.
    officer.go(f"/console/subjects/{access_subject}")
    assert "export downloaded" in officer.page.content()
    officer.shot("subject")
    officer.page.set_viewport_size({"width": 768, "height": 900})
    officer.go("/console/requests")
    width = officer.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 768, f"the queue needs {width} px at 768"

    # An officer cannot reach user management; a form without its token changes nothing.
    assert officer.go("/console/users").status == 403
    queue_before = officer.go("/console/requests?status=all").text()
    forged = officer.page.request.post(
        site["url"] + "/console/requests/new",
        form={"type": "access", "regulation": "gdpr", "subject_id": access_subject},
    )
    assert forged.status == 400
    assert officer.go("/console/requests?status=all").text().count("<tr") == queue_before.count(
        "<tr"
    )
    officer.close()
    pages_seen.extend(officer.seen)


def test_an_auditor_verifies_the_log_in_the_browser_and_sees_tampering(
    chromium, site, pages_seen
) -> None:  # noqa: ANN001
    auditor = Visit(chromium, site)
    auditor.first_sign_in("demo-auditor")
    auditor.page.wait_for_url("**/console/audit")
    subject = sorted(site["emails"])[-1]
    auditor.page.get_by_label("Subject id").fill(subject)
    auditor.page.get_by_role("button", name="Filter").click()
    auditor.page.wait_for_load_state()
    assert auditor.page.locator("tr.event").count() >= 1
    auditor.page.get_by_role("button", name="Verify in my browser").click()
    result = auditor.page.locator("#verify-result")
    result.get_by_text("Verified in your browser.").wait_for(timeout=30_000)
    assert auditor.page.locator("td.inclusion", has_text="included").count() >= 1
    auditor.shot("audit-verification")
    # A second visit checks consistency with the checkpoint this browser remembered.
    auditor.page.reload()
    auditor.page.get_by_role("button", name="Verify in my browser").click()
    result.get_by_text("Consistent with the checkpoint").wait_for(timeout=30_000)

    # The server lies about the checkpoint: the signature no longer holds.
    def tamper(route: Any) -> None:
        body = route.fetch().json()
        lines = body["note"].split("\n")
        lines[1] = str(int(lines[1]) + 1)
        body["note"] = "\n".join(lines)
        route.fulfill(json=body)

    auditor.page.route("**/console/audit/checkpoint.json", tamper)
    auditor.page.get_by_role("button", name="Verify in my browser").click()
    result.get_by_text("Verification FAILED in your browser.").wait_for(timeout=30_000)
    assert "signature does not verify" in result.inner_text()
    auditor.page.unroute("**/console/audit/checkpoint.json")

    # A wrong pinned key fails too.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from audit.checkpoint import verifier_key

    served_name = auditor.page.locator("#served-key").inner_text().split("+")[0]
    other = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    auditor.page.get_by_label("Pinned verifier key").fill(verifier_key(served_name, other))
    auditor.page.get_by_role("button", name="Verify in my browser").click()
    result.get_by_text("Verification FAILED in your browser.").wait_for(timeout=30_000)
    assert "another key" in result.inner_text()

    # An auditor cannot reach officer actions.
    response = auditor.go("/console/requests")
    assert response.status == 403 and "Not allowed" in auditor.page.content()
    auditor.close()
    pages_seen.extend(auditor.seen)


def test_an_officer_runs_a_pii_scan_and_reads_the_data_map_in_the_browser(
    chromium, site, pages_seen
) -> None:  # noqa: ANN001
    officer = Visit(chromium, site)
    officer.sign_in("demo-officer", NEW_PASSWORD)
    officer.page.wait_for_url("**/console/requests")
    officer.page.get_by_role("link", name="PII scans").click()
    officer.page.get_by_label("Records sampled per collection").fill("20")
    officer.page.get_by_role("button", name="Start a scan").click()
    officer.page.wait_for_url(re.compile(r".*/console/pii/scans/[0-9a-f]{32}$"))
    # The page refreshes itself while the scan runs (a meta refresh, no script).
    officer.page.locator("#scan-state", has_text="completed").wait_for(timeout=180_000)
    assert officer.page.get_by_text("Where the data and the data map disagree").is_visible()
    officer.shot("pii-scan")
    officer.page.get_by_role("link", name="Jobs").click()
    officer.page.get_by_label("Kind").select_option("pii.scan")
    officer.page.get_by_role("button", name="Filter").click()
    officer.page.wait_for_load_state()
    assert officer.page.locator("table.jobs td.outcome-succeeded").count() >= 1
    assert officer.page.get_by_role("link", name="Keys").count() == 0  # admins only
    officer.page.set_viewport_size({"width": 768, "height": 900})
    officer.go("/console/datamap")
    width = officer.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 768, f"the data map needs {width} px at 768"
    officer.close()
    pages_seen.extend(officer.seen)


def test_five_wrong_passwords_slow_their_network_down_in_the_browser(  # noqa: ANN001
    chromium, site, pages_seen
) -> None:
    """The guesser's network is refused for that name, even with the right password; the
    account itself is not locked (another network still signs in: test_console_auth)."""
    visitor = Visit(chromium, site)
    for _ in range(5):
        visitor.sign_in("demo-admin", "wrong password guess")
    visitor.sign_in("demo-admin", site["passwords"]["demo-admin"])
    assert (
        "too many failed sign-ins from your network"
        in visitor.page.locator("#password-error").inner_text()
    )
    visitor.close()
    pages_seen.extend(visitor.seen)


def test_no_page_and_no_server_log_line_carried_a_customers_email(site, pages_seen) -> None:  # noqa: ANN001
    assert pages_seen, "the browser tests above ran first"
    server_log = site["log"].read_text(errors="replace")
    for email in site["emails"].values():
        assert not any(email in html for html in pages_seen), "an e-mail reached a page"
        assert email not in server_log, "an e-mail reached the server log"
