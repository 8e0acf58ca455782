"""Ours beside plain Presidio (``AnalyzerEngine`` with the same spaCy model and Presidio's
default recognizers) on the same documents, per source and entity type: on one split
(:func:`compare`, what the PII bench prints) and as the mean and the worst over several
(:func:`compare_splits`, what ``governance pii evaluate`` prints and the unit test holds)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import Any

from governance.pii.evaluation import Document, Score, evaluate
from governance.pii.evaluation_sources.sources import SOURCES, SPLIT_SEEDS, split, split_documents

TYPES = ("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN")
TARGETS = {
    "PERSON": (0.85, 0.85),
    "EMAIL_ADDRESS": (0.95, 0.90),
    "PHONE_NUMBER": (0.95, 0.90),
    "CREDIT_CARD": (0.95, 0.90),
    "IBAN_CODE": (0.95, 0.90),
    "US_SSN": (0.95, 0.90),
}


def plain_analyzer(nlp_configuration: dict[str, Any]) -> Any:
    """Presidio's AnalyzerEngine with its default recognizers on the same model."""
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    nlp = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": nlp_configuration["models"],
            "ner_model_configuration": nlp_configuration["ner_model_configuration"],
        }
    ).create_engine()
    return AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])


def ours_predict(engine: Any) -> Any:
    def predict(texts: Sequence[str]) -> list[list[tuple[str, int, int]]]:
        return [
            [(e.type, e.start, e.end) for e in ents]
            for ents in engine.analyze_batch(texts, free_text=True)
        ]

    return predict


def plain_predict(analyzer: Any) -> Any:
    def predict(texts: Sequence[str]) -> list[list[tuple[str, int, int]]]:
        return [
            [(r.entity_type, r.start, r.end) for r in analyzer.analyze(t, language="en")]
            for t in texts
        ]

    return predict


def score(docs: Sequence[Document], predict: Any) -> dict[str, Score]:
    return evaluate(docs, predict, TYPES)


def meets(t: str, s: Score) -> bool:
    recall, precision = TARGETS[t]
    return s.gold == 0 or (s.recall >= recall and s.precision >= precision)


def compare(
    engine: Any, plain: Any, part: str = "held_out"
) -> dict[str, tuple[int, dict[str, Score], dict[str, Score]]]:
    """{source: (documents, ours, plain)} on the seeded split ``part``."""
    out = {}
    for name, make in SOURCES.items():
        docs = split(make(), part)
        out[name] = (
            len(docs),
            score(docs, ours_predict(engine)),
            score(docs, plain_predict(plain)),
        )
    return out


def table(results: dict[str, tuple[int, dict[str, Score], dict[str, Score]]]) -> tuple[str, bool]:
    lines = [
        f"{'source':19} {'entity':14} {'gold':>5}  {'ours P':>6} {'ours R':>6}  "
        f"{'plain P':>7} {'plain R':>7}  target"
    ]
    ok_all = True
    for name, (n, ours, plain) in results.items():
        for t in TYPES:
            o, p = ours[t], plain[t]
            if not o.gold and not o.predicted:
                continue
            below = o.gold and (o.recall < p.recall or o.precision < p.precision)
            ok = meets(t, o) and not below
            ok_all &= ok
            r, pr = TARGETS[t]
            lines.append(
                f"{name:19} {t:14} {o.gold:>5}  {o.precision:>6.3f} {o.recall:>6.3f}  "
                f"{p.precision:>7.3f} {p.recall:>7.3f}  R>={r:.2f} P>={pr:.2f} "
                f"{'ok' if ok else 'MISSED'}{' (below plain)' if below else ''}"
            )
        lines.append(f"{name:19} ({n} documents)")
    return "\n".join(lines), ok_all


@dataclass(frozen=True)
class SplitScores:
    """Ours and plain Presidio on one split's held-out half of one source."""

    seed: int
    documents: int
    ours: dict[str, Score]
    plain: dict[str, Score]


@dataclass(frozen=True)
class Summary:
    """One type on one source over the splits that hold it: the mean and the worst split."""

    gold: int
    splits: int
    precision: float
    worst_precision: float
    recall: float
    worst_recall: float
    plain_precision: float
    plain_worst_precision: float
    plain_recall: float

    @property
    def precision_below_plain(self) -> bool:
        return self.precision < self.plain_precision

    @property
    def recall_below_plain(self) -> bool:
        return self.recall < self.plain_recall


def compare_splits(
    engine: Any, plain: Any, seeds: Sequence[int] = SPLIT_SEEDS, limit: int | None = None
) -> dict[str, list[SplitScores]]:
    """{source: scores per split}, each split the held-out half of the source filled with
    its seed (``limit``: its first documents only, for a quicker check)."""
    ours_p, plain_p = ours_predict(engine), plain_predict(plain)
    out: dict[str, list[SplitScores]] = {}
    for name in SOURCES:
        out[name] = []
        for seed in seeds:
            docs = split_documents(name, seed)[:limit]
            out[name].append(
                SplitScores(seed, len(docs), score(docs, ours_p), score(docs, plain_p))
            )
    return out


def summarise(splits: Sequence[SplitScores], entity: str) -> Summary | None:
    """Mean and worst of ``entity`` over the splits where it occurs (None if none does).
    A split where it neither occurs nor is predicted says nothing of it; one where we predict
    it and it does not occur counts with precision 0."""
    held = [s for s in splits if s.ours[entity].gold or s.ours[entity].predicted]
    if not held or not any(s.ours[entity].gold for s in held):
        return None
    ours_p = [s.ours[entity].precision for s in held]
    ours_r = [s.ours[entity].recall for s in held]
    plain_p = [s.plain[entity].precision for s in held]
    return Summary(
        gold=sum(s.ours[entity].gold for s in held),
        splits=len(held),
        precision=fmean(ours_p),
        worst_precision=min(ours_p),
        recall=fmean(ours_r),
        worst_recall=min(ours_r),
        plain_precision=fmean(plain_p),
        plain_worst_precision=min(plain_p),
        plain_recall=fmean(s.plain[entity].recall for s in held),
    )


def splits_ok(entity: str, summary: Summary) -> bool:
    """The target is met on the mean over the splits, and neither precision nor recall is
    below plain Presidio's mean."""
    recall, precision = TARGETS[entity]
    return (
        summary.recall >= recall
        and summary.precision >= precision
        and not summary.precision_below_plain
        and not summary.recall_below_plain
    )


def splits_table(results: dict[str, list[SplitScores]]) -> tuple[str, bool]:
    """Per source and type: ours and plain, precision and recall, mean and worst split."""
    lines = [
        f"{'source':19} {'entity':14} {'gold':>5}  {'ours P mean/worst':>17} "
        f"{'ours R mean/worst':>17}  {'plain P mean/worst':>18} {'plain R':>7}  target"
    ]
    ok_all = True
    for name, splits in results.items():
        for t in TYPES:
            summary = summarise(splits, t)
            if summary is None:
                continue
            ok = splits_ok(t, summary)
            ok_all &= ok
            r, pr = TARGETS[t]
            below = [
                what
                for what, is_below in (
                    ("precision", summary.precision_below_plain),
                    ("recall", summary.recall_below_plain),
                )
                if is_below
            ]
            lines.append(
                f"{name:19} {t:14} {summary.gold:>5}  "
                f"{summary.precision:>8.3f}/{summary.worst_precision:<8.3f} "
                f"{summary.recall:>8.3f}/{summary.worst_recall:<8.3f}  "
                f"{summary.plain_precision:>9.3f}/{summary.plain_worst_precision:<8.3f} "
                f"{summary.plain_recall:>7.3f}  R>={r:.2f} P>={pr:.2f} "
                f"{'ok' if ok else 'MISSED'}"
                f"{' (' + ' and '.join(below) + ' below plain)' if below else ''}"
            )
        docs = ", ".join(str(s.documents) for s in splits)
        seeds = ", ".join(str(s.seed) for s in splits)
        lines.append(f"{name:19} ({len(splits)} splits, seeds {seeds}: {docs} documents)")
    return "\n".join(lines), ok_all
