"""The rooms' arrows (README, "Layout"): cli / demo -> api -> governance -> policies / audit,
never back; bench/ above them all.

policies/ is pure (no Flask, no SQLAlchemy); audit/ knows nothing of the CRM or of HTTP. The
entry points (cli/, demo/) may import every room below them and nothing below imports them
(the CLI alone runs the demo); bench/ may import anything and nothing imports it. Tests are
outside the rooms.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

ROOMS = ("policies", "audit", "governance", "api", "cli", "demo", "bench")
ENTRY_POINTS = {"cli", "demo", "bench"}

FORBIDDEN = {
    "policies": {"governance", "api", "audit", "flask", "flask_smorest", "sqlalchemy", "alembic"},
    "audit": {"governance", "api", "policies", "flask", "flask_smorest"},
    "governance": {"api", "flask", "flask_smorest"},
    "api": set(),
    "cli": {"bench"},
    "demo": {"cli", "bench"},
    "bench": set(),
}
# the only rooms that may import an entry point (besides the entry point itself)
IMPORTERS = {"cli": {"bench"}, "demo": {"cli", "bench"}, "bench": set()}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def _forbidden_for(room: str) -> set[str]:
    entry_points = {e for e in ENTRY_POINTS if e != room and room not in IMPORTERS[e]}
    return FORBIDDEN[room] | entry_points


@pytest.mark.parametrize("room", ROOMS)
def test_a_room_imports_nothing_against_the_arrows(room: str) -> None:
    forbidden = _forbidden_for(room)
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & forbidden)
        for path in (ROOT / room).rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_rule_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from governance.db import Base\nimport flask\n", encoding="utf-8")
    assert imported_roots(sample) >= {"governance", "flask"}
