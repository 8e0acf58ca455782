"""The demo's word lists and fixtures: JSON files in ``demo/data``, read from the package.

They are package data (pyproject's ``[tool.setuptools.package-data]``), so an installed
``governance demo`` finds them as a checkout does.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any


def load(name: str) -> dict[str, Any]:
    """``demo/data/<name>.json``, every list in it a tuple: the lists are constants."""
    text = (files("demo") / "data" / f"{name}.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = _frozen(json.loads(text))
    return loaded


def _frozen(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return {k: _frozen(v) for k, v in value.items()}
    return value
