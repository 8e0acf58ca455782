"""The indexed context-word enhancer gives the scores Presidio's own gives."""

from __future__ import annotations

import copy

from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

from governance.pii import evaluation
from governance.pii.context import IndexedLemmaEnhancer
from governance.pii.engine import LANGUAGE
from governance.pii.evaluation_sources import SOURCES, split


def _raw(pii_engine, text, nlp_artifacts):  # noqa: ANN001, ANN202
    return [
        r
        for recognizer in pii_engine.pattern_recognizers
        for r in recognizer.analyze(text, recognizer.supported_entities, nlp_artifacts)
    ]


def _scores(results) -> list[tuple[str, int, int, float]]:  # noqa: ANN001
    return sorted((r.entity_type, r.start, r.end, round(r.score, 6)) for r in results)


def test_scores_raised_by_context_words_are_presidios(pii_engine) -> None:  # noqa: ANN001
    texts = [d.text for d in evaluation.generate(90, seed=11)]
    texts += [d.text for d in split(SOURCES["crm_notes"](), "tune")[:60]]
    texts += [
        "call 555-0100 x12 (phone) or card 4111 1111 1111 1111, " * 40,
        "a1-" * 700,
        "tel: +44 20 7946 0958; mobile:+4915112345678 and iban",
    ]
    artifacts = pii_engine.nlp_engine.process_batch(texts, LANGUAGE, batch_size=16)
    theirs, ours = LemmaContextAwareEnhancer(), IndexedLemmaEnhancer()
    raised = 0
    for text, (_, nlp_artifacts) in zip(texts, artifacts, strict=True):
        raw = _raw(pii_engine, text, nlp_artifacts)
        expected = theirs.enhance_using_context(
            text, copy.deepcopy(raw), nlp_artifacts, pii_engine.recognizers
        )
        got = ours.enhance_using_context(
            text, copy.deepcopy(raw), nlp_artifacts, pii_engine.recognizers
        )
        assert _scores(got) == _scores(expected), text[:80]
        raised += _scores(expected) != _scores(raw)
    assert raised > 20  # the comparison saw context words at work


def test_the_analyzer_uses_the_indexed_enhancer(pii_engine) -> None:  # noqa: ANN001
    assert isinstance(pii_engine.analyzer.context_aware_enhancer, IndexedLemmaEnhancer)
    assert pii_engine.runner.context_enhancer is pii_engine.analyzer.context_aware_enhancer
