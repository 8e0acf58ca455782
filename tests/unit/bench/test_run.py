"""The benchmark report: one table per benchmark that fits a terminal, and JSON for tools."""

from __future__ import annotations

import json

from bench.harness import WIDTH, Row, as_json, benchmark_table

ROWS = [
    Row(
        "appends/s, 1 writer, record() + commit per event (whole transaction), measured "
        "with the load average beside it",
        {"sqlite": "5,058/s (5,738/s CPU)", "postgresql": "1,265/s; ceiling 2,251/s"},
        target=">= 5,000/s on SQLite on a quiet core; PostgreSQL waits for its WAL flush",
    ),
    Row("  verify, events/s", {"sqlite": "531k/s"}, target=">= 300k/s"),
]


def test_each_line_of_a_benchmark_table_fits_100_characters() -> None:
    text = benchmark_table(ROWS)
    assert max(len(line) for line in text.splitlines()) <= WIDTH
    assert "5,058/s" in text and "ceiling" in text  # wrapped, not cut


def test_a_table_has_only_the_columns_its_benchmark_measured() -> None:
    header = benchmark_table(ROWS[1:]).splitlines()[0].split()
    assert header == ["measure", "sqlite", "target"]


def test_json_output_carries_every_figure_and_target() -> None:
    document = json.loads(as_json([("audit", ROWS)], {"kind": "quick"}))
    [first, second] = document["benchmarks"]["audit"]
    assert first["cells"]["postgresql"] == "1,265/s; ceiling 2,251/s"
    assert second == {
        "measure": "verify, events/s",
        "cells": {"sqlite": "531k/s"},
        "target": ">= 300k/s",
    }
    assert document["run"] == {"kind": "quick"}
