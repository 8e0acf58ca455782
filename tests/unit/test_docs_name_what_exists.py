"""The README and the guides name files and commands; a reader who follows one must find it.

A rename that forgets its docs (the README once named a `governance/tasks.py` that never
existed) fails here instead of in a newcomer's terminal.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
TOP_LEVEL = (
    "governance/",
    "api/",
    "audit/",
    "policies/",
    "migrations/",
    "tests/",
    "bench/",
    "docs/",
    "scripts/",
    ".ci/",
    "cli/",
    "demo/",
)
DOCS = sorted(
    [
        ROOT / "README.md",
        *ROOT.glob("docs/*.md"),
        *(p for p in ROOT.glob("*/**/README.md") if ".venv" not in p.parts),
    ]
)
CODE_SPAN = re.compile(r"`([^`\n]+)`")
FENCE = re.compile(r"^```[a-z]*\n(.*?)^```", re.S | re.M)
PROJECT_DIRS = "|".join(re.escape(t) for t in TOP_LEVEL if not t.startswith("."))
BARE_FILE = re.compile(
    rf"(?<![\w/.-])((?:{PROJECT_DIRS})[A-Za-z0-9_.\-/]*\.(?:py|md|yaml|yml|sh|toml|js|html|png))\b"
)
PATH_LIKE = re.compile(r"^\.?/?[A-Za-z0-9_.\-/]+$")


def _spans(doc: Path) -> list[str]:
    """Inline code, each line of a fenced block, and file paths written in plain text."""
    text = doc.read_text(encoding="utf-8")
    spans = CODE_SPAN.findall(FENCE.sub("", text))
    for block in FENCE.findall(text):
        spans.extend(line.strip() for line in block.splitlines())
        spans.extend(word for line in block.splitlines() for word in line.split())
    spans.extend(BARE_FILE.findall(text))
    return spans


def _named_paths(doc: Path) -> set[str]:
    """Code spans that are paths inside the project (a pytest node id counts by its file)."""
    found = set()
    for span in _spans(doc):
        candidate = span.split("::", 1)[0].strip()
        candidate = candidate.removeprefix("./")
        if not candidate.startswith(TOP_LEVEL) or not PATH_LIKE.match(candidate):
            continue
        found.add(candidate)
    return found


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse exposes no public way to list subparsers
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _named_commands(doc: Path) -> set[tuple[str, ...]]:
    """The words after `governance` up to the first option or placeholder."""
    found = set()
    for span in _spans(doc):
        for command in re.findall(r"(?:^|\s|\()governance ([a-z][a-z0-9 \-]*)", span):
            words = tuple(w for w in command.split() if re.fullmatch(r"[a-z][a-z0-9\-]*", w))
            if words:
                found.add(words[:2])
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_path_a_doc_names_exists(doc: Path) -> None:
    missing = sorted(p for p in _named_paths(doc) if not (ROOT / p).exists())
    assert not missing, f"{doc.relative_to(ROOT)} names paths that do not exist: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_governance_command_a_doc_names_exists(doc: Path) -> None:
    top = _subcommands(build_parser())
    unknown = []
    for words in sorted(_named_commands(doc)):
        group = top.get(words[0])
        if group is None:
            unknown.append(" ".join(words))
            continue
        below = _subcommands(group)
        if below and len(words) > 1 and words[1] not in below:
            unknown.append(" ".join(words))
    assert not unknown, f"{doc.relative_to(ROOT)} names commands the CLI lacks: {unknown}"


def test_the_check_sees_what_a_doc_names() -> None:
    """Guards the guard: the README's own commands and paths are found at all."""
    readme = ROOT / "README.md"
    assert "scripts/demo" in _named_paths(readme) or "scripts/test" in _named_paths(readme)
    assert any(words[0] == "audit" for words in _named_commands(readme))
