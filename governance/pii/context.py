"""Presidio's context-word enhancer with the same results in time linear in the text.

``LemmaContextAwareEnhancer`` looks for each result's token by walking the text's tokens
from the first, then walks back from it until it has collected ``context_prefix_count + 1``
keywords, testing each lemma against the keyword *list*. On a text with thousands of
candidate matches (a 20,000-character run such as ``a1-a1-a1-...``) that is results x
tokens: 35 s for one 8,000-character text (issue 14 item 5). Here the tokens' end offsets
and the positions of the keyword lemmas are indexed once per text (kept on its
``TextArtifacts``, which go when its analysis does), so each result costs two binary
searches: the token found and the words collected are Presidio's, and so are the scores.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from presidio_analyzer import RecognizerResult
from presidio_analyzer.context_aware_enhancers import (
    ContextAwareEnhancer,
    LemmaContextAwareEnhancer,
)

from governance.pii.nlp_engine import TextArtifacts


@dataclass(frozen=True)
class _TokenIndex:
    ends: list[int]  # each token's end offset, in token order (non-decreasing)
    hits: list[int]  # token positions whose lower-cased lemma is one of the text's keywords
    words: list[str]  # those lemmas, lower-cased
    joined: str  # the distinct words, NUL-separated (no context word holds a NUL)


def _index(nlp_artifacts: Any) -> _TokenIndex:
    """The text's index: worked out once on our artifacts; on Presidio's own (another NLP
    engine's), anew for each call."""
    if isinstance(nlp_artifacts, TextArtifacts):
        return nlp_artifacts.worked_out(_token_index)
    return _token_index(nlp_artifacts)


def _token_index(nlp_artifacts: Any) -> _TokenIndex:
    ends = [
        start + len(token)
        for start, token in zip(nlp_artifacts.tokens_indices, nlp_artifacts.tokens, strict=False)
    ]
    keywords = set(nlp_artifacts.keywords)
    hits, words = [], []
    for position, lemma in enumerate(nlp_artifacts.lemmas):
        lower = lemma.lower()
        if lower in keywords:
            hits.append(position)
            words.append(lower)
    return _TokenIndex(ends, hits, words, "\0".join(sorted(set(words))))


def may_support(nlp_artifacts: Any, context_words: Iterable[str]) -> bool:
    """Whether any context word is a substring of a keyword of the text (Presidio's default
    "substring" matching), i.e. whether the enhancer could find it beside any result. If
    not, no result of a recognizer with these context words can be raised."""
    joined = _index(nlp_artifacts).joined
    return any(word.lower() in joined for word in context_words)


class IndexedLemmaEnhancer(LemmaContextAwareEnhancer):
    """``LemmaContextAwareEnhancer`` (same parameters, same results), indexed per text.

    Unlike Presidio's, it raises the scores of the results it is given in place instead of
    deep-copying them first (0.5 s for 3,000 results with their explanations): both
    callers, our runner and ``AnalyzerEngine.analyze``, keep only what it returns."""

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[Any],
        nlp_artifacts: Any,
        recognizers: list[Any],
        context: list[str] | None = None,
    ) -> list[Any]:
        if nlp_artifacts is None:
            return raw_results
        by_id = {r.id: r for r in recognizers}
        extra = [w.lower() for w in context or ()]
        for result in raw_results:
            metadata = result.recognition_metadata or {}
            recognizer = by_id.get(metadata.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY))
            if recognizer is None or not recognizer.context:
                continue
            if metadata.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY):
                continue
            words = self.surrounding_words(nlp_artifacts, result.start)
            words.extend(extra)
            supportive = self.supportive_word(words, recognizer.context)
            if supportive != "":
                score = max(
                    result.score + self.context_similarity_factor,
                    self.min_score_with_context_similarity,
                )
                result.score = min(score, ContextAwareEnhancer.MAX_SCORE)
                result.analysis_explanation.set_supportive_context_word(supportive)
                result.analysis_explanation.set_improved_score(result.score)
        return raw_results

    def supportive_word(self, words: list[str], context_words: list[str]) -> str:
        """The first of the recognizer's ``context_words`` found among the ``words`` around
        a result, "" if none: Presidio's rule (its enhancer's matching mode: a substring of a
        word, or a whole word, either case-insensitive)."""
        lowered = [w.lower() for w in words]
        for context_word in context_words:
            wanted = context_word.lower()
            if self.context_matching_mode == "substring":
                found = any(wanted in word for word in lowered)
            else:
                found = self.context_matching_mode == "whole_word" and wanted in lowered
            if found:
                return context_word
        return ""

    def surrounding_words(self, nlp_artifacts: Any, start: int) -> list[str]:
        """The keywords around the token of a result that starts at ``start``: the words
        Presidio's enhancer collects (``context_prefix_count`` + 1 before and
        ``context_suffix_count`` + 1 after, the token's own included), found by two binary
        searches in the text's index."""
        if not nlp_artifacts.tokens:
            return [""]
        index = _index(nlp_artifacts)
        # Presidio takes the first token that starts at ``start`` or ends after it; token
        # ends never decrease, so that is the first token ending after ``start``
        token = bisect_right(index.ends, start)
        if token == len(index.ends):
            raise ValueError("a result lies beyond the text's last token")
        # backward: the keywords at or before the token, nearest first, prefix_count + 1
        upto = bisect_right(index.hits, token)
        backward = index.words[max(0, upto - (self.context_prefix_count + 1)) : upto]
        # forward: the keywords at or after the token, suffix_count + 1
        since = bisect_left(index.hits, token)
        forward = index.words[since : since + self.context_suffix_count + 1]
        return list(set(backward + forward))
