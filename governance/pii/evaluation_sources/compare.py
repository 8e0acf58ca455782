"""Ours beside plain Presidio (``AnalyzerEngine`` with the same spaCy model and Presidio's
default recognizers) on the same documents, per source and entity type."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from governance.pii.evaluation import Document, Score, evaluate
from governance.pii.evaluation_sources.sources import SOURCES, split

TYPES = ("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN")
TARGETS = {"PERSON": (0.85, 0.85), "EMAIL_ADDRESS": (0.95, 0.90), "PHONE_NUMBER": (0.95, 0.90),
           "CREDIT_CARD": (0.95, 0.90), "IBAN_CODE": (0.95, 0.90), "US_SSN": (0.95, 0.90)}


def plain_analyzer(nlp_configuration: dict[str, Any]) -> Any:
    """Presidio's AnalyzerEngine with its default recognizers on the same model."""
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    nlp = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy", "models": nlp_configuration["models"],
        "ner_model_configuration": nlp_configuration["ner_model_configuration"],
    }).create_engine()
    return AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])


def ours_predict(engine: Any) -> Any:
    def predict(texts: Sequence[str]) -> list[list[tuple[str, int, int]]]:
        return [[(e.type, e.start, e.end) for e in ents]
                for ents in engine.analyze_batch(texts, free_text=True)]
    return predict


def plain_predict(analyzer: Any) -> Any:
    def predict(texts: Sequence[str]) -> list[list[tuple[str, int, int]]]:
        return [[(r.entity_type, r.start, r.end) for r in analyzer.analyze(t, language="en")]
                for t in texts]
    return predict


def score(docs: Sequence[Document], predict: Any) -> dict[str, Score]:
    return evaluate(docs, predict, TYPES)


def meets(t: str, s: Score) -> bool:
    recall, precision = TARGETS[t]
    return s.gold == 0 or (s.recall >= recall and s.precision >= precision)


def compare(engine: Any, plain: Any, part: str = "held_out"
            ) -> dict[str, tuple[int, dict[str, Score], dict[str, Score]]]:
    """{source: (documents, ours, plain)} on the seeded split ``part``."""
    out = {}
    for name, make in SOURCES.items():
        docs = split(make(), part)
        out[name] = (len(docs), score(docs, ours_predict(engine)),
                     score(docs, plain_predict(plain)))
    return out


def table(results: dict[str, tuple[int, dict[str, Score], dict[str, Score]]]) -> tuple[str, bool]:
    lines = [f"{'source':19} {'entity':14} {'gold':>5}  {'ours P':>6} {'ours R':>6}  "
             f"{'plain P':>7} {'plain R':>7}  target"]
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
            lines.append(f"{name:19} {t:14} {o.gold:>5}  {o.precision:>6.3f} {o.recall:>6.3f}  "
                         f"{p.precision:>7.3f} {p.recall:>7.3f}  R>={r:.2f} P>={pr:.2f} "
                         f"{'ok' if ok else 'MISSED'}{' (below plain)' if below else ''}")
        lines.append(f"{name:19} ({n} documents)")
    return "\n".join(lines), ok_all
