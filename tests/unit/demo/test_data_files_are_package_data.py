"""The demo's word lists and fixtures ship with an install: pyproject declares each data file
as package data, so ``governance demo`` from a wheel reads what a checkout reads."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

from demo.resources import load

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "demo" / "data"


def test_every_demo_data_file_is_declared_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["demo"]
    files = [p.relative_to(ROOT / "demo").as_posix() for p in DATA.rglob("*") if p.is_file()]
    assert files
    assert [f for f in files if not any(fnmatch(f, pattern) for pattern in patterns)] == []


def test_every_data_file_loads_with_its_lists_as_tuples() -> None:
    for path in sorted(DATA.glob("*.json")):
        loaded = load(path.stem)
        assert loaded and all(not isinstance(v, list) for v in loaded.values()), path.name
