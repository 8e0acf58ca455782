"""The retention filter's cut-offs (governance.retention.rules.RetentionFilter.params): all of
them, or only those a statement binds, each the same value either way."""

from __future__ import annotations

from datetime import UTC, datetime

from governance.runtime import Runtime


def test_the_cutoffs_a_statement_names_are_the_same_as_among_all(runtime: Runtime) -> None:
    retention = runtime.retention_filter()
    now = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    every = retention.params(now)
    some = sorted(every)[:2]
    assert len(every) > 2
    assert retention.params(now, frozenset(some)) == {name: every[name] for name in some}
    assert retention.params(now, frozenset()) == {}
