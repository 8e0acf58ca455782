"""The span index answers what the engine used to ask of every kept result in turn."""

from __future__ import annotations

import random

from governance.pii.spans import Claimed, KeptSpans


def test_containment_by_another_type_and_same_span_match_a_scan_of_every_kept_span() -> None:
    rng = random.Random(5)  # noqa: S311
    for _ in range(200):
        index, kept = KeptSpans(60), []
        for _ in range(40):
            start = rng.randrange(50)
            end, kind = start + rng.randrange(1, 10), rng.choice("ABC")
            contained = any(s <= start and end <= e and k != kind for s, e, k in kept)
            same = any(s == start and e == end for s, e, _ in kept)
            assert index.contained_by_other_type(start, end, kind) == contained
            assert index.same_span(start, end) == same
            if rng.random() < 0.6:
                index.add(start, end, kind)
                kept.append((start, end, kind))


def test_overlap_with_claimed_spans_matches_a_scan_of_every_span() -> None:
    rng = random.Random(6)  # noqa: S311
    for _ in range(200):
        spans = [(s, s + rng.randrange(1, 12)) for s in rng.sample(range(80), 6)]
        claimed = Claimed(spans)
        for _ in range(30):
            start = rng.randrange(90)
            end = start + rng.randrange(1, 8)
            assert claimed.overlaps(start, end) == any(start < e and s < end for s, e in spans)
    assert not Claimed([]).overlaps(0, 5)
