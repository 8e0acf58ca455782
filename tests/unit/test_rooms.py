"""The rooms' arrows (README, "Layout"): api -> governance -> policies / audit, never back.

policies/ is pure (no Flask, no SQLAlchemy); audit/ knows nothing of the CRM or of HTTP.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The CLI is the process entry point (for now in governance/cli.py); `serve` and
# `demo` start the HTTP app, so these two modules alone may import api (lazily).
ENTRY_POINTS = {"governance/cli.py", "governance/demo_setup.py"}

FORBIDDEN = {
    "policies": {"governance", "api", "audit", "flask", "flask_smorest", "sqlalchemy", "alembic"},
    "audit": {"governance", "api", "policies", "flask", "flask_smorest"},
    "governance": {"api", "flask", "flask_smorest"},
}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_a_room_imports_nothing_against_the_arrows(room: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & FORBIDDEN[room])
        for path in (ROOT / room).rglob("*.py")
        if str(path.relative_to(ROOT)) not in ENTRY_POINTS
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_rule_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from governance.db import Base\nimport flask\n", encoding="utf-8")
    assert imported_roots(sample) >= {"governance", "flask"}
