"""Presidio's recognizers run on prebuilt NLP artifacts, without the analyzer's per-call work.

:meth:`RecognizerRunner.analyze` gives what ``AnalyzerEngine.analyze(text, language,
entities, nlp_artifacts=...)`` gives (the engine's unit tests hold the two to the same
results on the evaluation set), doing the same steps with Presidio's own pieces: every
recognizer that supports a wanted entity type, the recognizers' own context enhancement,
Presidio's ``LemmaContextAwareEnhancer``, the score thresholds, and
``EntityRecognizer.remove_duplicates``. What it leaves out is work whose result nobody
reads here:

- a pattern recognizer's ``analyze`` times every pattern with two ``datetime.now()`` calls,
  formats a debug log line and builds an explanation object per pattern; on a short
  structured value that is five times the regex work. Patterns are matched here with the
  same compiled regexes, flags, timeout, validation and invalidation, and a result is
  built only for a match;
- the context enhancer deep-copies every result and walks the tokens for each; it is given
  only the results it can change (their recognizer has context words and the score can
  still rise);
- the regex timeout of a pattern call is ``pattern_timeout_seconds`` of ``analyzer.yaml``
  (Presidio's is 60 s, which one crafted text could spend on every pattern in turn); a
  pattern that times out is skipped, and the warning names the pattern, not the text;
- a pattern is not run on a text shorter than any match of it, with fewer digits than
  any match of it has, or lacking a character every match of it contains (``@``, ``:``,
  ``pattern_floor.py``): such a call cannot match, yet costs a clock read for its timeout
  like any other;
- on free text, a recognizer whose every pattern scores under the threshold and which has no
  validation (Presidio's US bank number, driver licence and passport: 0.05-0.3) is not run
  when none of its context words is in the text's keywords: without one the enhancer cannot
  raise any of its results, which the threshold then drops (issue 19, the
  write-check latency; its regexes were a tenth of the pattern time of a 2,000-character
  note).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import regex
from presidio_analyzer import EntityRecognizer, PatternRecognizer, RecognizerResult
from presidio_analyzer.pattern_recognizer import REGEX_TIMEOUT_SECONDS

from governance.pii.context import IndexedLemmaEnhancer, may_support
from governance.pii.pattern_floor import Floor, decimal_digits, pattern_floor

logger = logging.getLogger(__name__)

_ID = RecognizerResult.RECOGNIZER_IDENTIFIER_KEY
_NAME = RecognizerResult.RECOGNIZER_NAME_KEY
_ENHANCED = RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY


def _overrides(recognizer: Any, method: str, base: type) -> bool:
    return getattr(type(recognizer), method) is not getattr(base, method)


class RecognizerRunner:
    """The recognizers of one analyzer, run as ``AnalyzerEngine.analyze`` runs them."""

    def __init__(
        self,
        recognizers: Sequence[Any],
        default_threshold: float,
        context_enhancer: Any,
        *,
        timeout: float = REGEX_TIMEOUT_SECONDS,
    ) -> None:
        self.recognizers = list(recognizers)
        self.timeout = timeout
        self.by_id = {r.id: r for r in self.recognizers}
        self.default_threshold = default_threshold
        self.context_enhancer = context_enhancer
        # plain pattern recognizers get the lean loop; any that overrides analyze (the IBAN
        # recognizer) or is not a pattern recognizer (spaCy's) is called as Presidio would
        self.lean = {
            r.id
            for r in self.recognizers
            if isinstance(r, PatternRecognizer) and not _overrides(r, "analyze", PatternRecognizer)
        }
        self.own_context = {
            r.id
            for r in self.recognizers
            if _overrides(r, "enhance_using_context", EntityRecognizer)
        }
        self.thresholds = {r.id: r.score_thresholds for r in self.recognizers}
        # recognizers whose every result is under the threshold unless a context word
        # raises it: on free text without any of their context words they are not run
        # (the test is our indexed enhancer's, with Presidio's substring matching)
        self._may_match_words = (
            isinstance(context_enhancer, IndexedLemmaEnhancer)
            and context_enhancer.context_matching_mode == "substring"
        )
        self.context_only = {
            r.id
            for r in self.recognizers
            if r.id in self.lean
            and r.context
            and r.patterns
            and not _overrides(r, "validate_result", PatternRecognizer)
            and max(p.score for p in r.patterns) < self._threshold_of(r, r.supported_entities[0])
        }
        # each lean recognizer's patterns, compiled with its flags, with their floors
        self.compiled: dict[str, list[tuple[Any, Any, Floor | None]]] = {}
        for r in self.recognizers:
            if r.id in self.lean:
                flags = r.global_regex_flags
                self.compiled[r.id] = [
                    (p, regex.compile(p.regex, flags=flags), pattern_floor(p.regex, flags))
                    for p in r.patterns
                ]

    def analyze(
        self, text: str, wanted: Iterable[str], nlp_artifacts: Any, declared: Iterable[str] = ()
    ) -> list[Any]:
        """Recognizer results for ``text`` (``nlp_artifacts`` None: patterns only, no
        context words, as for a structured value). ``declared``: the entity types the data
        map declares for the structured field ``text`` comes from; the declaration counts
        as a context word for them (a phone field's bare "3420837783" is a phone number,
        the same digits in a note need a word such as "call" beside them)."""
        wanted = set(wanted)
        entities = sorted(wanted)
        selected = [
            r
            for r in self.recognizers
            if wanted.intersection(r.supported_entities)
            and (nlp_artifacts is not None or isinstance(r, PatternRecognizer))
        ]
        if nlp_artifacts is not None and self.context_only and self._may_match_words:
            selected = [
                r
                for r in selected
                if r.id not in self.context_only or may_support(nlp_artifacts, r.context)
            ]
        results: list[Any] = []
        length, digits = len(text), decimal_digits(text)
        for recognizer in selected:
            if recognizer.id in self.lean:
                found = self._patterns(recognizer, text, length, digits)
            else:
                if not recognizer.is_loaded:
                    recognizer.load()
                    recognizer.is_loaded = True
                found = (
                    recognizer.analyze(text=text, entities=entities, nlp_artifacts=nlp_artifacts)
                    or []
                )
                for result in found:
                    if not result.recognition_metadata:
                        result.recognition_metadata = {}
                    result.recognition_metadata.setdefault(_ID, recognizer.id)
                    result.recognition_metadata.setdefault(_NAME, recognizer.name)
            results += found
        if nlp_artifacts is not None and results:
            results = self._context(text, results, nlp_artifacts, selected)
        elif declared and results:
            self._declared_context(results, set(declared))
        results = [r for r in results if r.score >= self._threshold(r)]
        return EntityRecognizer.remove_duplicates(results)

    def _patterns(self, recognizer: Any, text: str, length: int, digits: int) -> list[Any]:
        """``PatternRecognizer.analyze`` without its per-pattern timing, logging and
        explanation objects; the same matches, scores and de-duplication."""
        flags = recognizer.global_regex_flags
        entity = recognizer.supported_entities[0]
        results = []
        for pattern, compiled, floor in self.compiled[recognizer.id]:
            if floor is not None and (floor.rules_out(length, digits) or floor.lacks_literal(text)):
                continue
            try:
                for match in compiled.finditer(text, timeout=self.timeout):
                    start, end = match.span()
                    if start == end:
                        continue
                    matched = text[start:end]
                    # an invalidated match scores the minimum whatever its validation
                    # says (Presidio asks both), so the validation, which can be the
                    # dearer test (libphonenumber for each region), is skipped for it
                    if recognizer.invalidate_result(matched):
                        continue
                    score = pattern.score
                    validation = recognizer.validate_result(matched)
                    if validation is not None:
                        score = (
                            EntityRecognizer.MAX_SCORE if validation else EntityRecognizer.MIN_SCORE
                        )
                    if score <= EntityRecognizer.MIN_SCORE:
                        continue
                    explanation = PatternRecognizer.build_regex_explanation(
                        recognizer.name,
                        pattern.name,
                        pattern.regex,
                        pattern.score,
                        validation,
                        flags,
                    )
                    explanation.score = score
                    results.append(
                        RecognizerResult(
                            entity_type=entity,
                            start=start,
                            end=end,
                            score=score,
                            analysis_explanation=explanation,
                            recognition_metadata={_NAME: recognizer.name, _ID: recognizer.id},
                        )
                    )
            except TimeoutError:
                logger.warning("pattern %r of %s timed out, skipped", pattern.name, recognizer.name)
        # one result or none: nothing to de-duplicate
        return EntityRecognizer.remove_duplicates(results) if len(results) > 1 else results

    def _context(
        self, text: str, results: list[Any], nlp_artifacts: Any, selected: list[Any]
    ) -> list[Any]:
        out = []
        for recognizer_id in self.own_context:
            mine = [r for r in results if r.recognition_metadata[_ID] == recognizer_id]
            if mine:
                others = [r for r in results if r.recognition_metadata[_ID] != recognizer_id]
                out_ids = {id(r) for r in mine}
                results = [r for r in results if id(r) not in out_ids]
                out += self.by_id[recognizer_id].enhance_using_context(
                    text=text,
                    raw_recognizer_results=mine,
                    other_raw_recognizer_results=others,
                    nlp_artifacts=nlp_artifacts,
                    context=None,
                )
        results = out + results
        can_rise = [
            r
            for r in results
            if r.score < EntityRecognizer.MAX_SCORE
            and self.by_id[r.recognition_metadata[_ID]].context
            and not r.recognition_metadata.get(_ENHANCED)
        ]
        if not can_rise:
            return results
        rising = {id(r) for r in can_rise}
        enhanced = self.context_enhancer.enhance_using_context(
            text=text,
            raw_results=can_rise,
            nlp_artifacts=nlp_artifacts,
            recognizers=selected,
            context=None,
        )
        return [r for r in results if id(r) not in rising] + list(enhanced)

    def _declared_context(self, results: list[Any], declared: set[str]) -> None:
        """Raise the declared types' scores as a context word would (Presidio's factor)."""
        factor = self.context_enhancer.context_similarity_factor
        floor = self.context_enhancer.min_score_with_context_similarity
        for r in results:
            if r.entity_type in declared and EntityRecognizer.MIN_SCORE < r.score < 1.0:
                r.score = min(max(r.score + factor, floor), EntityRecognizer.MAX_SCORE)

    def _threshold(self, result: Any) -> float:
        """Presidio's rule: the recognizer's threshold for the entity type, else its
        default, else the engine's."""
        thresholds = self.thresholds.get(result.recognition_metadata.get(_ID)) or {}
        found = thresholds.get(result.entity_type, thresholds.get("default"))
        return self.default_threshold if found is None else found

    def _threshold_of(self, recognizer: Any, entity_type: str) -> float:
        """The same rule for a recognizer's entity type, before any result exists."""
        thresholds = self.thresholds.get(recognizer.id) or {}
        found = thresholds.get(entity_type, thresholds.get("default"))
        return self.default_threshold if found is None else found
