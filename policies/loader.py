"""Load the policy files of a directory into one versioned, immutable policy set.

The version is a SHA-256 over every policy file's name and bytes, so any edit, however
small, changes the version that decisions and audit events carry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from policies.access import AccessPolicy, parse_access
from policies.datamap import parse_datamap
from policies.errors import PolicyFileError, Problem
from policies.organisation import Organisation, parse_organisation
from policies.purposes import PurposeSet, parse_purposes
from policies.types import DataMap

T = TypeVar("T")
POLICY_FILES = ("datamap.yaml", "purposes.yaml", "access.yaml", "organisation.yaml")


@dataclass(frozen=True)
class PolicySet:
    version: str
    datamap: DataMap
    purposes: PurposeSet
    access: AccessPolicy
    sources: dict[str, str]  # file name -> text, served by GET /v1/policy
    organisation: Organisation | None = None  # for the record of processing (GET /v1/ropa)


def load_policy_set(policy_dir: Path) -> PolicySet:
    sources: dict[str, str] = {}
    digest = hashlib.sha256()
    for name in POLICY_FILES:
        path = policy_dir / name
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise PolicyFileError([Problem(name, "", f"cannot be read ({exc.strerror})")]) from None
        digest.update(name.encode() + b"\x00" + len(raw).to_bytes(8, "big") + raw)
        sources[name] = raw.decode("utf-8")
    # Each file is validated even if another failed, so one run reports every problem.
    problems: list[Problem] = []
    datamap = _parsed(parse_datamap, sources, "datamap.yaml", problems)
    purposes = _parsed(parse_purposes, sources, "purposes.yaml", problems)
    organisation = _parsed(parse_organisation, sources, "organisation.yaml", problems)
    access = None
    if datamap is not None and purposes is not None:
        # The access rules name collections, fields and purposes: checked against both.
        access = _parsed(
            lambda doc, name: parse_access(doc, datamap, purposes, name),
            sources,
            "access.yaml",
            problems,
        )
    if problems or datamap is None or purposes is None or access is None:
        raise PolicyFileError(problems)
    return PolicySet(
        version=digest.hexdigest(),
        datamap=datamap,
        purposes=purposes,
        access=access,
        sources=sources,
        organisation=organisation,
    )


def _parsed(
    parse: Callable[[Any, str], T], sources: dict[str, str], name: str, problems: list[Problem]
) -> T | None:
    try:
        return parse(_yaml(sources[name], name), name)
    except PolicyFileError as exc:
        problems.extend(exc.problems)
        return None


def _yaml(text: str, file: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "is not valid YAML"
        raise PolicyFileError([Problem(file, where, str(problem))]) from None
