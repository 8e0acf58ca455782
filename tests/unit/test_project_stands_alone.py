"""The project stands alone: nothing in a clone may point at a folder outside it."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,  # noqa: S607 - git from PATH
        check=True,
    ).stdout.split()
    return [
        ROOT / name
        for name in listed
        if (ROOT / name).suffix in {".md", ".py", ".yaml", ".toml", ".html", ".txt"}
    ]


def test_no_tracked_file_refers_to_a_path_outside_the_project() -> None:
    outside = "../" + "shared"
    offenders = [
        str(p.relative_to(ROOT))
        for p in _tracked_text_files()
        if p.exists() and outside in p.read_text(encoding="utf-8", errors="replace")
    ]
    assert offenders == []


def test_readme_names_the_two_fresh_machine_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "./scripts/demo" in readme and "./scripts/test" in readme
