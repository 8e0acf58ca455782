"""Our spaCy NLP engine: Presidio's ``SpacyNlpEngine``, subclassed, with the lean pipeline.

Presidio lets a deployment bring its own NLP engine: ``AnalyzerEngine(nlp_engine=...)`` and
``RecognizerRegistryProvider(nlp_engine=...)`` take any :class:`NlpEngine`. Ours is a
``SpacyNlpEngine`` whose public methods do the same work with less of it (issue 19, the
write-check latency; issue 28 item 4, no patched attributes and no private calls):

- :meth:`LeanSpacyNlpEngine.load` loads the model as Presidio does (``spacy.load``, never a
  download: ``engine.require_models`` has refused a missing model already) with a
  vocabulary built here (``spacy.load(vocab=...)``) that computes only the lexical
  attributes something reads (``pipeline.lean_attributes``), and then shapes the pipeline
  with spaCy's own calls (``disable_pipe``, ``add_pipe``, a custom tokenizer): NER on the
  sentences that can name someone, lemmas as lower-cased tokens (``pipeline.py``);
- :meth:`~LeanSpacyNlpEngine.process_batch` builds each text's :class:`TextArtifacts` in one
  pass: the gated NER's own entity list, lemmas and offsets as one array, and the context
  keywords from answers remembered for common words (:class:`CommonWordMemo`);
- :meth:`~LeanSpacyNlpEngine.is_stopword` and :meth:`~LeanSpacyNlpEngine.is_punct` answer
  a word new to the vocabulary without adding it.

:class:`TextArtifacts` is Presidio's ``NlpArtifacts`` for one text, and also where the
analysis of that text keeps what it works out once and reuses (the context words' index,
the person-name rules' answers): that state dies with the analysis, and no module-level
cache keyed by a note's text exists.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine

T = TypeVar("T")


@dataclass(frozen=True)
class PipelineSettings:
    """Our knobs on the spaCy pipeline (``analyzer.yaml``'s ``pipeline`` section)."""

    free_text_disable: tuple[str, ...] = ()
    gated_ner: bool = False
    batch_size: int = 64
    ner_token_cap: int = 5000
    ops: str = "default"
    blas_threads: int | None = None


class TextArtifacts(NlpArtifacts):
    """Presidio's NLP artifacts of one text, holding the text and what its analysis works out
    once (:meth:`worked_out`).

    The analysis asks the same questions of one text many times (the context enhancer the
    token of each result, the person-name rules each span, by the recognizer and by the
    engine's tidying); the answers are kept here, on the object that carries the text
    through its analysis, and go when it does. A cache beside it, keyed by the text, would
    keep the notes themselves (personal data) in a long-running worker."""

    def __init__(
        self,
        *,
        text: str,
        entities: list[Any],
        tokens: Any,
        tokens_indices: list[int],
        lemmas: list[str],
        nlp_engine: Any,
        language: str,
        scores: list[float] | None = None,
    ) -> None:
        super().__init__(
            entities=entities,
            tokens=tokens,
            tokens_indices=tokens_indices,
            lemmas=lemmas,
            nlp_engine=nlp_engine,
            language=language,
            scores=scores,
        )
        self.text = text
        self._worked_out: dict[Callable[[TextArtifacts], Any], Any] = {}

    @staticmethod
    def set_keywords(nlp_engine: Any, lemmas: list[str], language: str) -> list[str]:
        """Presidio's keywords (its ``NlpArtifacts.set_keywords``: every lemma that is no stop
        word, punctuation, "-PRON-" or "be", lower-cased and split at colons); from our
        engine, with each lemma's part answered once for a common word."""
        if isinstance(nlp_engine, LeanSpacyNlpEngine):
            parts = nlp_engine.keyword_parts
            return [part for lemma in lemmas for part in parts(lemma, language)]
        return NlpArtifacts.set_keywords(nlp_engine, lemmas, language)

    def worked_out(self, work: Callable[[TextArtifacts], T]) -> T:
        """What ``work(self)`` gives, computed on the first call for this text's analysis
        and kept until the artifacts go (``work`` is a module-level function, the key)."""
        found = self._worked_out.get(work, _MISSING)
        if found is _MISSING:
            found = self._worked_out[work] = work(self)
        return found


class LeanSpacyNlpEngine(SpacyNlpEngine):
    """Presidio's spaCy engine with our pipeline and artifact builder (module docstring)."""

    # Presidio's sets it to None in __init__ (which its type then says) and to this on load
    nlp: dict[str, Any] | None  # type: ignore[assignment]

    def __init__(
        self,
        models: list[dict[str, str]] | None = None,
        ner_model_configuration: NerModelConfiguration | None = None,
        *,
        pipeline: PipelineSettings | None = None,
    ) -> None:
        super().__init__(models=models, ner_model_configuration=ner_model_configuration)
        self.pipeline = pipeline or PipelineSettings()
        self.stop_words = CommonWordMemo(self._vocabulary_test("is_stop"))
        self.punctuation = CommonWordMemo(self._vocabulary_test("is_punct"))
        self.keyword_parts = CommonWordMemo(self._keyword_parts)

    # -- loading -------------------------------------------------------------------------
    def load(self) -> None:
        """Each configured model, loaded as spaCy loads it, then shaped for free text."""
        from governance.pii.pipeline import numeric_ops

        self.nlp = {}
        with numeric_ops(self.pipeline.ops, self.pipeline.blas_threads):
            for model in self.models:
                if "lang_code" not in model or not isinstance(model.get("model_name"), str):
                    raise ValueError("each model needs a lang_code and a model_name")
                self.nlp[model["lang_code"]] = self._load_model(model["model_name"])

    def _load_model(self, name: str) -> Any:
        """The model, with the lean vocabulary when the pipeline ends up ours alone (if a
        component the settings keep, such as a tok2vec that NER listens to, remains, it is
        loaded again with spaCy's own vocabulary: every other component may read any
        lexical attribute)."""
        import spacy

        from governance.pii.pipeline import lean_vocab, ours_alone

        vocab = lean_vocab(name) if self._may_be_ours_alone() else None
        nlp = self._shape(spacy.load(name, vocab=vocab if vocab is not None else True))
        if vocab is not None and not ours_alone(nlp):
            nlp = self._shape(spacy.load(name))
        return nlp

    def _may_be_ours_alone(self) -> bool:
        """Whether the settings can leave nothing of the model's pipeline but the gated NER
        and our lemmas (:func:`pipeline.ours_alone` says, once loaded, whether they did)."""
        settings = self.pipeline
        return settings.gated_ner and "lemmatizer" in settings.free_text_disable

    def _shape(self, nlp: Any) -> Any:
        """Our pipeline on a loaded model, through spaCy's public pipeline calls."""
        from governance.pii.pipeline import GATED_NER, LOWER_LEMMA, register_components
        from governance.pii.tokens import BoundedTokenizer

        register_components()
        settings = self.pipeline
        # (spaCy's documented way to bring one's own tokenizer: assign it to nlp.tokenizer)
        nlp.tokenizer = BoundedTokenizer(nlp.tokenizer)
        for pipe in settings.free_text_disable:
            if pipe in nlp.pipe_names and not _feeds_ner(nlp, pipe):
                nlp.disable_pipe(pipe)
        if settings.gated_ner and "ner" in nlp.pipe_names:
            nlp.add_pipe(
                GATED_NER,
                after="ner",
                config={"batch_size": settings.batch_size, "token_cap": settings.ner_token_cap},
            )
            nlp.disable_pipe("ner")
        if "lemmatizer" in settings.free_text_disable:
            nlp.add_pipe(LOWER_LEMMA, last=True)
        return nlp

    def memory_zone(self, language: str) -> contextlib.AbstractContextManager[Any]:
        """spaCy's memory zone of the language's pipeline (``Language.memory_zone``): the
        strings and lexemes the tokenizer adds for each new token inside it (about 70 a
        note) are dropped when it ends, so a long-running worker's vocabulary does not keep
        the words of every note it analysed."""
        nlp = self.nlp.get(language) if self.nlp else None
        zone = getattr(nlp, "memory_zone", None)
        return zone() if zone is not None else contextlib.nullcontext()

    # -- artifacts -----------------------------------------------------------------------
    def process_text(self, text: str, language: str) -> TextArtifacts:
        return next(self.artifacts([text], language, batch_size=1))

    # (the signature of Presidio's SpacyNlpEngine, which its NlpEngine types otherwise)
    def process_batch(  # type: ignore[override]
        self,
        texts: list[str] | list[tuple[str, object]],
        language: str,
        batch_size: int = 1,
        n_process: int = 1,
        as_tuples: bool = False,
    ) -> Generator[tuple[Any, NlpArtifacts, Any] | tuple[Any, NlpArtifacts], Any, None]:
        """Presidio's ``(text, artifacts)`` pairs; with ``as_tuples`` or several processes,
        Presidio's own builder (what it reads is the same)."""
        if as_tuples or n_process != 1:
            yield from super().process_batch(
                texts, language, batch_size=batch_size, n_process=n_process, as_tuples=as_tuples
            )
            return
        plain = [str(text) for text in texts]
        yield from zip(plain, self.artifacts(plain, language, batch_size=batch_size), strict=True)

    def artifacts(
        self, texts: list[str], language: str, batch_size: int | None = None
    ) -> Iterator[TextArtifacts]:
        """The artifacts of each text, in order: what Presidio's ``process_batch`` yields
        beside each text, built with fewer passes over each doc.

        Presidio's builder joins the doc's tokens back into its text (which the caller has),
        reads ``Doc.ents`` twice (its entities, then as many default scores) and walks the
        tokens once for the lemmas and once for their offsets; each is a pass over the ~460
        tokens of a 2,000-character note that builds a Python object per token (issue 19).
        Here the gated NER's own entity list is taken from the doc (``pipeline.ENTS_KEY``),
        lemmas and offsets are read as one array, and the entities are mapped to Presidio's
        names as its builder maps them (:meth:`presidio_entities`)."""
        from spacy.attrs import IDX, LEMMA

        from governance.pii.pipeline import ENTS_KEY

        if not self.nlp:
            raise ValueError("NLP engine is not loaded. Consider calling .load()")
        nlp = self.nlp[language]
        strings = nlp.vocab.strings
        for text, doc in zip(
            texts, nlp.pipe(texts, batch_size=batch_size or self.pipeline.batch_size), strict=True
        ):
            ents = doc.user_data.pop(ENTS_KEY, None)
            if ents is None:
                ents = doc.ents
            if len(doc):
                rows = doc.to_array([LEMMA, IDX]).tolist()
                lemmas = [strings[lemma] for lemma, _ in rows]
                indices = [idx for _, idx in rows]
            else:
                lemmas, indices = [], []
            entities, scores = self.presidio_entities(doc, ents)
            yield TextArtifacts(
                text=text,
                entities=entities,
                tokens=doc,
                tokens_indices=indices,
                lemmas=lemmas,
                nlp_engine=self,
                language=language,
                scores=scores,
            )

    def presidio_entities(self, doc: Any, ents: Iterable[Any]) -> tuple[list[Any], list[float]]:
        """The model's entities under Presidio's names, with their scores, as Presidio's
        builder gives them (``ner_model_configuration``: labels to ignore before and after
        the mapping, the mapping, the default score, the low-score multiplier). Each kept
        entity is a new span with the mapped label; Presidio renames the span it is given,
        the doc's own entities keep the model's labels either way."""
        from spacy.tokens import Span

        config = self.ner_model_configuration
        mapping = config.model_to_presidio_entity_mapping or {}
        ignore = config.labels_to_ignore or ()
        low = config.low_score_entity_names or ()
        default_score = float(config.default_score or 0.0)
        multiplier = float(config.low_confidence_score_multiplier or 0.0)
        entities: list[Any] = []
        scores: list[float] = []
        for ent in ents:
            label = ent.label_
            if label in ignore:
                continue
            label = mapping.get(label, label)
            if label in ignore:
                continue
            score = default_score * multiplier if label in low else default_score
            entities.append(Span(doc, ent.start, ent.end, label=label))
            scores.append(score)
        return entities, scores

    # -- word tests ----------------------------------------------------------------------
    def is_stopword(self, word: str, language: str) -> bool:
        return bool(self.stop_words(word, language))

    def is_punct(self, word: str, language: str) -> bool:
        return bool(self.punctuation(word, language))

    def _keyword_parts(self, lemma: str, language: str) -> tuple[str, ...]:
        """What one lemma adds to the context keywords (``TextArtifacts.set_keywords``)."""
        if (
            self.is_stopword(lemma, language)
            or self.is_punct(lemma, language)
            or lemma == "-PRON-"
            or lemma == "be"
        ):
            return ()
        return tuple(lemma.lower().split(":"))

    def _vocabulary_test(self, flag: str) -> Callable[[str, str], bool]:
        """Presidio's ``vocab[word].is_stop`` (``.is_punct``), without adding ``word`` to the
        vocabulary when it is not there yet.

        The lemmas tested are lower-cased tokens ("ryan", "normandmadeleine"), most of them
        new to the vocabulary; ``vocab[word]`` would make and keep a lexeme for each, running
        every lexical attribute function on it (about a tenth of the NLP time of a
        2,000-character note, issue 19). A new lexeme's flag is what the vocabulary's own
        attribute function gives, so for a word not in the vocabulary that function answers;
        a word already there (or the empty string, which is no lexeme) is read from its
        lexeme."""
        from spacy import attrs

        attr = getattr(attrs, flag.upper())

        def test(word: str, language: str) -> bool:
            assert self.nlp is not None  # loaded: Presidio calls this on loaded engines
            vocab = self.nlp[language].vocab
            getter = (vocab.lex_attr_getters or {}).get(attr)
            if getter is None or not word or word in vocab:
                return bool(getattr(vocab[word], flag))
            return bool(getter(word))

        return test


class CommonWordMemo:
    """``func(word, *rest)``, remembered for common words only.

    An answer that depends on the word alone can be kept, but a cache of every word a
    long-running worker meets would hold the names and e-mail addresses of the notes it
    analysed (the tokens of a note are personal data; the memory zone drops them from
    spaCy's vocabulary for the same reason). Only the words of a fixed list are remembered:
    common English words, stop words, ASCII punctuation and line breaks, which are most of
    the tokens of any note; any other word is answered anew each time. The list is fixed,
    so the memo is bounded too."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func
        self.common = _common_words()
        self.known: dict[Any, Any] = {}

    def __call__(self, word: str, *rest: Any) -> Any:
        key = (word, *rest) if rest else word
        found = self.known.get(key, _MISSING)
        if found is _MISSING:
            found = self.func(word, *rest)
            if word in self.common:
                self.known[key] = found
        return found


_MISSING = object()


@lru_cache(maxsize=1)
def _common_words() -> frozenset[str]:
    """The words :class:`CommonWordMemo` may remember: dictionary words, stop words and
    punctuation, none of which on its own says who a note was about (a word that is also a
    first name, "grace", is remembered only as the dictionary word it also is)."""
    import string

    from spacy.lang.en.stop_words import STOP_WORDS

    from governance.pii.names import english_words

    return (
        english_words()
        | frozenset(STOP_WORDS)
        | frozenset(string.punctuation)
        | frozenset({"\n", "\n\n", " ", "  ", "...", "--"})
    )


def _feeds_ner(nlp: Any, pipe: str) -> bool:
    """Whether the model's ner listens to ``pipe`` (a shared tok2vec or transformer), so
    that it must stay on. In en_core_web_sm, ner has its own tok2vec layer."""
    listeners = getattr(nlp.get_pipe(pipe), "listening_components", None) or ()
    return "ner" in listeners
