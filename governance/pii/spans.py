"""Which kept results contain a span, answered in logarithmic time.

The engine keeps results strongest first and drops one that a kept result of another type
contains, or that a CRM identifier overlaps (``PiiEngine._tidy``). Asked of every kept
result in turn, that is quadratic in the number of results, and a 20,000-character text can
have thousands of candidates (issue 14 item 5). Here each type's kept results sit in a
Fenwick tree of the largest end among results starting at or before a position: a kept
result of that type contains ``[start, end)`` exactly when that largest end, up to
``start``, reaches ``end``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable


class _PrefixMax:
    """Largest value set at any position <= p (positions 0..size-1), values only rising."""

    def __init__(self, size: int) -> None:
        self.tree = [-1] * (size + 1)

    def set(self, position: int, value: int) -> None:
        i = position + 1
        while i < len(self.tree):
            if self.tree[i] < value:
                self.tree[i] = value
            i += i & -i

    def upto(self, position: int) -> int:
        i, best = min(position + 1, len(self.tree) - 1), -1
        while i > 0:
            if self.tree[i] > best:
                best = self.tree[i]
            i -= i & -i
        return best


class KeptSpans:
    """The results kept so far, by type, for containment and same-span questions."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.by_type: dict[str, _PrefixMax] = {}
        self.spans: set[tuple[int, int]] = set()

    def add(self, start: int, end: int, entity_type: str) -> None:
        tree = self.by_type.get(entity_type)
        if tree is None:
            tree = self.by_type[entity_type] = _PrefixMax(self.size)
        tree.set(start, end)
        self.spans.add((start, end))

    def same_span(self, start: int, end: int) -> bool:
        return (start, end) in self.spans

    def contained_by_other_type(self, start: int, end: int, entity_type: str) -> bool:
        return any(
            tree.upto(start) >= end for kind, tree in self.by_type.items() if kind != entity_type
        )


class Claimed:
    """The union of some spans (the CRM identifiers found), for overlap questions."""

    def __init__(self, spans: Iterable[tuple[int, int]]) -> None:
        merged: list[list[int]] = []
        for start, end in sorted(spans):
            if merged and start < merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self.starts = [s for s, _ in merged]
        self.ends = [e for _, e in merged]

    def overlaps(self, start: int, end: int) -> bool:
        """Whether ``[start, end)`` shares a character with any of the spans."""
        i = bisect_left(self.starts, end) - 1  # the last span starting before ``end``
        return i >= 0 and self.ends[i] > start
