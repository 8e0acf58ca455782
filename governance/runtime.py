"""Everything a process builds once from the settings and shares: engine, sessions, the
loaded policy set, the CRM tables and the audit log. The HTTP app and the CLI both start here,
so a malformed policy file or setting stops either one before it serves anything.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, func, literal, or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from audit.checkpoint import NoteSigner, generate_signing_key, load_signing_key
from audit.events import Actor, AuditEvent
from audit.log import AuditLog
from governance.access.masks import Masker
from governance.access.services import Caller, DataAccessService
from governance.consent.services import ConsentService
from governance.db import make_engine, make_session_factory, unit_of_work
from governance.errors import SettingsError
from governance.jobs.handlers import JobHandlers
from governance.jobs.models import Job
from governance.jobs.runners import make_runner
from governance.jobs.service import JobKind
from governance.keys import jobs as key_jobs
from governance.keys.errors import KeyFileError
from governance.keys.keystore import KeyStore
from governance.keys.local import open_local_provider
from governance.keys.provider import KeyProvider
from governance.keys.services import FieldCrypto, KeyService
from governance.naming import naming
from governance.requests import jobs as request_jobs
from governance.requests.suppression import SuppressionList
from governance.retention import jobs as retention_jobs
from governance.retention.rules import RetentionFilter
from governance.settings import Settings
from governance.store.schema import CrmTables
from governance.store.services import RecordStore
from policies.engine import PolicyEngine
from policies.loader import PolicySet, load_policy_set

if TYPE_CHECKING:  # built on first use: importing them loads Presidio and spaCy
    from governance.pii.engine import PiiEngine
    from governance.pii.services import PiiAnalysis, ScanService, WriteChecker


def job_handlers() -> JobHandlers:
    """Each domain registers the jobs it owns, here where a process is put together: the
    jobs package runs them without importing any domain service."""
    handlers = JobHandlers()
    request_jobs.register(handlers)
    key_jobs.register(handlers)
    retention_jobs.register(handlers)
    handlers.register(JobKind.PII_SCAN, _scan_store)
    handlers.register(JobKind.AUDIT_INTEGRATE, _integrate_audit)
    return handlers


def _scan_store(runtime: Runtime, job: Job) -> None:
    runtime.pii_scans().run(job.target_id or "")


def _integrate_audit(runtime: Runtime, job: Job) -> None:
    with unit_of_work(runtime.sessions) as session:
        runtime.audit.integrate(session, checkpoint=True)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    policy: PolicySet
    tables: CrmTables
    audit: AuditLog
    keys: KeyService
    crypto: FieldCrypto
    # The job runner (governance.jobs.runners), made from settings.task_runner in __post_init__
    task_runner: Any = field(default=None)
    job_handlers: JobHandlers = field(default_factory=job_handlers)
    decisions: PolicyEngine | None = None  # built from the policy set in __post_init__
    # Sessions for read-only requests: on SQLite their transactions take no write lock at
    # BEGIN (see api.auth.read_only); elsewhere the same sessions as writes.
    read_sessions: sessionmaker[Session] | None = None
    _masker: Masker | None = field(default=None, repr=False)
    _retention: RetentionFilter | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.read_sessions is None:
            self.read_sessions = self.sessions
        if self.decisions is None:
            self.decisions = PolicyEngine(
                self.policy.access, self.policy.purposes, self.policy.version
            )
        if self.task_runner is None:
            self.task_runner = make_runner(self)

    def record_store(self, session: Session) -> RecordStore:
        return RecordStore(session, self.policy.datamap, self.tables, self.crypto)

    def data_access(
        self,
        session: Session,
        caller: Caller,
        *,
        record_audit: Callable[[AuditEvent], None],
        request_id: str | None = None,
    ) -> DataAccessService:
        """The policy read/write path for one unit of work."""
        consent = ConsentService(session, self, caller.actor, request_id=request_id)

        def suppressed(collection: str, values: Mapping[str, Any], record_id: str) -> bool:
            # Built only for the writes that ask (creates), not on every read.
            return SuppressionList(
                session,
                self.policy.datamap,
                self.crypto,
                self.audit,
                caller.actor,
                policy_version=self.policy.version,
                request_id=request_id,
            ).check(collection, values, record_id)

        assert self.decisions is not None
        return DataAccessService(
            session=session,
            store=self.record_store(session),
            policy=self.policy,
            engine=self.decisions,
            masker=self.masker(),
            consent_states=consent.states,
            write_checker=self.pii_write_checker,
            record_audit=record_audit,
            caller=caller,
            request_id=request_id,
            suppressed=suppressed,
            retention=self.retention_filter(),
            subject_standing=consent.standing,
        )

    def retention_filter(self) -> RetentionFilter:
        """The data map's retention rules as the read path applies them (built once)."""
        if self._retention is None:
            self._retention = RetentionFilter(self.policy.datamap, self.tables)
        return self._retention

    def masker(self) -> Masker:
        if self._masker is None:
            self._masker = Masker(
                self.keys.derived_key("policy-mask-hash"),
                lambda text: self.pii_analysis().redact(text),
            )
        return self._masker

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_sessions is not None and self.read_sessions is not self.sessions:
            bind = self.read_sessions.kw.get("bind")
            if bind is not None:
                bind.dispose()
        self.keys.keystore.engine.dispose()

    # -- PII: one analyzer per process, built on first use from the settings ---------------
    def pii_engine(self) -> PiiEngine:
        from governance.pii.engine import engine_for

        return engine_for(self.settings.pii_config_file, self.settings.pii_model)

    def pii_analysis(self) -> PiiAnalysis:
        from governance.pii.services import PiiAnalysis

        return PiiAnalysis(
            self.pii_engine(),
            max_chars=self.settings.pii_max_text_chars,
            hash_key=self.keys.derived_key("pii-redaction-hash"),
        )

    def pii_write_checker(self) -> WriteChecker:
        from governance.pii.services import WriteChecker

        analysis = self.pii_analysis()
        return WriteChecker(analysis.engine, self.policy.datamap, analysis)

    def pii_scans(self) -> ScanService:
        from governance.pii.engine import EngineSpec
        from governance.pii.services import ScanService

        spec = EngineSpec(self.settings.pii_config_file, self.settings.pii_model)
        return ScanService(
            self.sessions,
            self.policy.datamap,
            self.tables,
            self.crypto,
            spec,
            self.audit,
            self.policy.version,
            processes=self.settings.pii_scan_processes,
            read_sessions=self.read_sessions,
        )


def open_runtime(
    settings: Settings, *, engine: Engine | None = None, create_keys: bool = True
) -> Runtime:
    """Every step names its setting when it fails (``governance.startup.naming``).

    A key file (or the embedded key store) that is missing is created only if nothing in the
    stores says it existed (``check_key_files``), and only with ``create_keys``: the serving
    processes pass False, so only the first-run step (``governance init``, the demo) creates
    keys.
    """
    with naming("GOVERNANCE_POLICY_DIR"):
        policy = load_policy_set(settings.policy_dir)
    with naming("GOVERNANCE_PII_CONFIG"):
        _require_pii_model(settings)
    with naming("GOVERNANCE_DATABASE_URL"):
        engine = engine or make_engine(settings.database_url)
    tables = CrmTables(policy.datamap)
    check_key_files(settings, engine, tables, create_keys=create_keys)
    keys = open_key_service(settings)
    read_sessions = None
    if engine.dialect.name == "sqlite":
        with naming("GOVERNANCE_DATABASE_URL"):
            read_sessions = make_session_factory(
                make_engine(settings.database_url, write_lock_at_begin=False)
            )
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        policy=policy,
        tables=tables,
        audit=AuditLog(_audit_signer(settings), settings.audit_log_origin),
        keys=keys,
        crypto=FieldCrypto(keys, policy.datamap),
        read_sessions=read_sessions,
    )


@dataclass(frozen=True)
class KeyEvidence:
    """What the stores say about keys that existed before: each count is a promise that a
    key file or key store was there, and that a new one would lose what it opened."""

    data_keys: int  # rows of the key store (live or shredded): wrapped by the KEK
    sealed_values: bool  # the CRM store holds ciphertext: sealed under data keys of the KEK
    checkpoints: int  # signed tree heads in the audit log: signed by the signing key

    def kek(self) -> list[str]:
        found = []
        if self.data_keys:
            found.append(
                f"the key store holds {self.data_keys} data keys wrapped by another "
                "key-encryption key (the missing one)"
            )
        if self.sealed_values:
            found.append("the CRM store holds values sealed under it")
        return found

    def keystore(self) -> list[str]:
        return (
            ["the CRM store holds values sealed under its data keys"] if self.sealed_values else []
        )

    def signing_key(self) -> list[str]:
        return (
            [f"the audit log holds {self.checkpoints} signed checkpoints"]
            if self.checkpoints
            else []
        )


def key_evidence(settings: Settings, engine: Engine, tables: CrmTables) -> KeyEvidence:
    """Ask the stores (read only; a store or table that is not there yet counts as empty,
    which is a first run). Only called when a key file is missing, so the scan for one
    sealed value costs nothing on a normal start."""
    from audit.models import audit_checkpoints

    data_keys = 0
    keystore_url = make_url(settings.keystore_url)
    if keystore_url.get_backend_name() != "sqlite" or (
        keystore_url.database and Path(keystore_url.database).exists()
    ):
        probe = create_engine(keystore_url, poolclass=NullPool)
        try:
            data_keys = sum(KeyStore(probe).counts().values())
        except Exception:  # noqa: BLE001 - not reachable or not migrated: no keys to lose here
            data_keys = 0
        finally:
            probe.dispose()
    sealed = False
    checkpoints = 0
    with engine.connect() as conn:
        for collection in tables.datamap.collections.values():
            names = [f.name for f in collection.fields.values() if f.encrypted]
            if not names or sealed:
                continue
            table = tables[collection.name]
            try:
                sealed = (
                    conn.execute(
                        select(literal(1))
                        .select_from(table)
                        .where(or_(*(table.c[n].is_not(None) for n in names)))
                        .limit(1)
                    ).first()
                    is not None
                )
            except Exception:  # noqa: BLE001 - a store not migrated yet holds nothing
                conn.rollback()
        try:
            checkpoints = int(conn.scalar(select(func.count()).select_from(audit_checkpoints)) or 0)
        except Exception:  # noqa: BLE001 - not migrated yet: no checkpoint
            conn.rollback()
        conn.rollback()
    return KeyEvidence(data_keys, sealed, checkpoints)


def check_key_files(
    settings: Settings, engine: Engine, tables: CrmTables, *, create_keys: bool
) -> None:
    """Refuse, in one line naming the file, to go on when a key file (or the embedded key
    store's file) is missing and the stores say it existed: a new one would make every
    sealed value, data key or checkpoint it opened unreadable or unverifiable, and would
    not heal when the original returns (a volume not yet mounted, a restore in progress).
    Without ``create_keys`` a missing key is refused even on a first run. Creates nothing.
    """
    missing: list[tuple[str, Path, Callable[[KeyEvidence], list[str]]]] = []
    if (
        settings.key_provider == "local"
        and not settings.kek_value
        and not settings.key_file.exists()
    ):
        missing.append(("GOVERNANCE_KEY_FILE", settings.key_file, KeyEvidence.kek))
    keystore_url = make_url(settings.keystore_url)
    if (
        keystore_url.get_backend_name() == "sqlite"
        and keystore_url.database
        and keystore_url.database != ":memory:"
        and not Path(keystore_url.database).exists()
    ):
        missing.append(
            ("GOVERNANCE_KEYSTORE_URL", Path(keystore_url.database), KeyEvidence.keystore)
        )
    if not settings.audit_signing_key_file.exists():
        missing.append(
            (
                "GOVERNANCE_AUDIT_SIGNING_KEY_FILE",
                settings.audit_signing_key_file,
                KeyEvidence.signing_key,
            )
        )
    if not missing:
        return
    with naming("GOVERNANCE_DATABASE_URL"):
        evidence = key_evidence(settings, engine, tables)
    # One missing file the stores vouch for means an installation that existed: every
    # missing file of it is lost, not new (the folder holding them all is not mounted).
    vouched = [reason for _, _, said in missing for reason in said(evidence)]
    for setting, path, said in missing:
        reasons = said(evidence) or vouched
        if reasons:
            raise KeyFileError(
                f"{setting} {path} is missing, but {' and '.join(reasons)}: restore it from "
                "its backup (or point the setting at the original); nothing was created"
            )
    if not create_keys:
        setting, path, _ = missing[0]
        raise KeyFileError(
            f"{setting} {path} does not exist: run `governance init` once to "
            "create the keys of a new installation"
        )


def open_key_service(settings: Settings, *, keystore_engine: Engine | None = None) -> KeyService:
    """The KEK provider the settings choose, and the key store beside it.

    A key file created just now beside a key store that already holds wrapped data keys
    means the operator pointed the service at the wrong (or a lost) key file: starting would
    make every encrypted field unreadable, so the start is refused and the new file removed.
    """
    with naming("GOVERNANCE_KEY_FILE"):
        provider, created = _key_provider(settings)
    with naming("GOVERNANCE_KEYSTORE_URL"):
        engine = keystore_engine or make_engine(
            settings.keystore_url, write_lock_at_begin=False, secure_delete=True
        )
    keystore = KeyStore(engine)
    if created:
        try:
            held = keystore.counts()
        except Exception:  # noqa: BLE001 - not migrated yet: a first run, nothing to lose
            held = {"live": 0, "shredded": 0}
        if held["live"]:
            settings.key_file.unlink(missing_ok=True)
            raise KeyFileError(
                f"GOVERNANCE_KEY_FILE {settings.key_file} did not exist, but the key store holds "
                f"{held['live']} data keys wrapped by another key-encryption key; point "
                "GOVERNANCE_KEY_FILE (or GOVERNANCE_KEK) at the original key set"
            )
    return KeyService(provider, keystore)


def _key_provider(settings: Settings) -> tuple[KeyProvider, bool]:
    if settings.key_provider == "local":
        return open_local_provider(settings.key_file, settings.kek_value)
    raise SettingsError(f"GOVERNANCE_KEY_PROVIDER {settings.key_provider!r} is not available")


def _require_pii_model(settings: Settings) -> None:
    """Stop the start if the configured NLP model is missing (cheap: no model is loaded)."""
    from governance.pii.engine import PiiConfig, require_models

    require_models(PiiConfig.load(settings.pii_config_file, settings.pii_model))


def _audit_signer(settings: Settings) -> NoteSigner:
    """Load the checkpoint signing key, creating it (0600) on a first run (``check_key_files``
    has refused already if the audit log holds checkpoints it signed)."""
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
            "GOVERNANCE_AUDIT_SIGNING_KEY_FILE: cannot load or create the key "
            f"({type(exc).__name__})"
        ) from None
    return NoteSigner(settings.audit_key_name, key)


def cli_actor() -> Actor:
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (e.g. a container): still an actor
        user = "unknown"
    safe = "".join(ch for ch in user if ch.isalnum() or ch in "_.-")[:64] or "unknown"
    return Actor(id=f"cli:{safe}", role="operator")
