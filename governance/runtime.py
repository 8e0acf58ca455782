"""Everything a process builds once from the settings and shares: engine, sessions, the
loaded policy set, the CRM tables and the audit log. The HTTP app and the CLI both start here,
so a malformed policy file or setting stops either one before it serves anything.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from audit.checkpoint import NoteSigner, generate_signing_key, load_signing_key
from audit.events import Actor
from audit.log import AuditLog
from governance.db import make_engine, make_session_factory
from governance.errors import SettingsError
from governance.settings import Settings
from governance.store.schema import CrmTables
from policies.loader import PolicySet, load_policy_set


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    policy: PolicySet
    tables: CrmTables
    audit: AuditLog
    task_runner: Any = field(default=None)  # set from settings.task_runner in __post_init__

    def __post_init__(self) -> None:
        if self.task_runner is None:
            from governance.pii.services import InlineRunner, ThreadRunner

            inline = self.settings.task_runner == "inline"
            self.task_runner = InlineRunner() if inline else ThreadRunner()

    def dispose(self) -> None:
        self.engine.dispose()

    # -- PII: one analyzer per process, built on first use from the settings ---------------
    def pii_engine(self) -> Any:
        from governance.pii.engine import engine_for

        return engine_for(self.settings.pii_config_file, self.settings.pii_model)

    def pii_analysis(self) -> Any:
        from governance.pii.services import PiiAnalysis, load_hash_key

        return PiiAnalysis(
            self.pii_engine(),
            max_chars=self.settings.pii_max_text_chars,
            hash_key=load_hash_key(self.settings.key_file.parent),
        )

    def pii_write_checker(self) -> Any:
        from governance.pii.services import WriteChecker

        analysis = self.pii_analysis()
        return WriteChecker(analysis.engine, self.policy.datamap, analysis)

    def pii_scans(self) -> Any:
        from governance.pii.services import ScanService

        return ScanService(self.sessions, self.policy.datamap, self.tables, self.pii_engine,
                           self.audit, self.policy.version)


def open_runtime(settings: Settings, *, engine: Engine | None = None) -> Runtime:
    policy = load_policy_set(settings.policy_dir)
    _require_pii_model(settings)
    engine = engine or make_engine(settings.database_url)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        policy=policy,
        tables=CrmTables(policy.datamap),
        audit=AuditLog(_audit_signer(settings), settings.audit_log_origin),
    )


def _require_pii_model(settings: Settings) -> None:
    """Stop the start if the configured NLP model is missing (cheap: no model is loaded)."""
    from governance.pii.engine import PiiConfig, require_models

    require_models(PiiConfig.load(settings.pii_config_file, settings.pii_model))


def _audit_signer(settings: Settings) -> NoteSigner:
    """Load the checkpoint signing key, creating it (0600) on the embedded default's first run."""
    path = settings.audit_signing_key_file
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                generate_signing_key(path)
            except FileExistsError:
                pass  # another worker created it first; load theirs
        key = load_signing_key(path)
    except (OSError, ValueError) as exc:
        raise SettingsError(
            f"GOVERNANCE_AUDIT_SIGNING_KEY_FILE: cannot load or create the key ({type(exc).__name__})"
        ) from None
    return NoteSigner(settings.audit_key_name, key)


def cli_actor() -> Actor:
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (e.g. a container): still an actor
        user = "unknown"
    safe = "".join(ch for ch in user if ch.isalnum() or ch in "_.-")[:64] or "unknown"
    return Actor(id=f"cli:{safe}", role="operator")
