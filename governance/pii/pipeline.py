"""Our pieces of the spaCy pipeline under Presidio's NLP engine: speed, not new results.

- ``governance_lower_lemma``: each token's lemma is its lower-cased text, which is all
  Presidio's context-word enhancer reads; it replaces the tagger, attribute ruler and
  lemmatizer (the small model's NER needs none of them: it has its own tok2vec layer, so
  the shared ``tok2vec`` component that feeds the tagger and parser is dropped as well).
- ``governance_gated_ner``: runs the model's own ``ner`` component only on the sentences of
  a text that hold a capitalised word which can start a name or a place (see
  :func:`may_name`). People, places and nationalities are what NER adds to the pattern
  recognizers, and in English text they are written with a capital; a sentence such as
  "No answer on +49 151 2345678, sent an email instead." or a chat line's "Hi, how can I
  help you today?" costs no NER. The recall on the evaluation set (``governance pii
  evaluate``) is what keeps this rule honest. Each selected sentence is given to NER as a
  new doc built from the text's own tokens (their words and spaces): ``Span.as_doc``
  would copy far more than NER reads, and tokenizing the sentence again costs five times
  as much.
- :func:`lean_vocab`: a token new to the vocabulary (a name, a number, an address:
  about 150 in a 2,000-character note, made anew for every note since each batch runs in
  spaCy's memory zone) costs about 20 us, most of it the ~23 lexical attribute functions
  spaCy runs on it (``like_num``, ``like_url``, ``is_currency`` ...). With only our two
  components enabled, nothing reads most of them: NER reads the attributes its embedding
  layer names (NORM, PREFIX, SUFFIX, SHAPE in the small model) and IS_SPACE, the lemma
  component LOWER, the context keywords IS_STOP and IS_PUNCT; the others are not computed
  (the model is loaded with a vocabulary built for it, spaCy's ``vocab`` argument).
- :func:`numeric_ops`: the matrix multiplications of the model through numpy's BLAS on one
  thread instead of thinc's default ``blis``; measured on the project's 2-core machine,
  NER runs about a quarter faster, and one BLAS thread per process leaves the cores to the
  scan's worker processes.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import regex
from spacy.attrs import IDX, ORTH, SPACY
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.tokens import Doc, Span

from governance.pii.names import countries, gazetteer, is_english_word
from governance.pii.tokens import TEXT_KEY

LOWER_LEMMA = "governance_lower_lemma"
GATED_NER = "governance_gated_ner"
# the ``doc.user_data`` key of the entities the gated NER set, which the artefact builder
# (``engine.py``) hands to Presidio instead of reading ``Doc.ents`` anew (each read walks
# the doc's tokens and builds new spans)
ENTS_KEY = "governance_ents"
_NAME_CHARS = frozenset("'’-.")
# NER reads at most this many tokens of one text (analyzer.yaml: pipeline.ner_token_cap)
NER_TOKEN_CAP = 5000


def register_components() -> None:
    """Register our two spaCy components (once per process)."""
    from spacy.attrs import LEMMA, LOWER
    from spacy.language import Language

    if not Language.has_factory(LOWER_LEMMA):

        @Language.component(LOWER_LEMMA)
        def lower_lemma(doc: Any) -> Any:
            # token.lemma_ = token.lower_ for every token, as one array copy: the hash of
            # the lower-cased form is already in the string store (its lexeme holds it)
            if len(doc):
                doc.from_array([LEMMA], doc.to_array([LOWER]))
            return doc

    if not Language.has_factory(GATED_NER):

        @Language.factory(
            GATED_NER, default_config={"ner": "ner", "batch_size": 64, "token_cap": NER_TOKEN_CAP}
        )
        def gated_ner(nlp: Any, name: str, ner: str, batch_size: int, token_cap: int) -> GatedNer:
            return GatedNer(nlp.get_pipe(ner), batch_size, token_cap)


# lexical attributes our pipeline reads besides those of the model's embedding layers: the
# entity transitions refuse to start or end on a space (IS_SPACE), governance_lower_lemma
# copies LOWER, and the context keywords leave out stop words and punctuation
_READ_ATTRS = ("LOWER", "IS_SPACE", "IS_STOP", "IS_PUNCT")


def ours_alone(nlp: Any) -> bool:
    """Whether nothing of the model's pipeline runs but our two components."""
    return set(nlp.pipe_names) <= {GATED_NER, LOWER_LEMMA}


def lean_vocab(name: str) -> Any:
    """A vocabulary for the model ``name`` that computes only the lexical attributes read
    (see the module docstring), to load the model with (``spacy.load(name, vocab=...)``);
    None when the model's configuration cannot be read or an embedding layer of it does
    not name its attributes. The values kept are computed as before, so every entity is
    the same; a token's other flags (``like_num``, ``is_alpha``) read False on a word first
    met in a note, and nothing of our pipeline reads them (the caller loads the model with
    spaCy's own vocabulary if any other component stays on: :func:`ours_alone`)."""
    import spacy
    from spacy import attrs
    from spacy.util import load_config
    from spacy.vocab import Vocab

    path = model_path(name)
    if path is None:
        return None
    config = load_config(path / "config.cfg", interpolate=False)
    names = _embedding_attrs(config.get("components", {}))
    if not names:
        return None
    keep = {getattr(attrs, attr, None) for attr in (*names, *_READ_ATTRS)}
    if None in keep:
        return None
    full = spacy.blank(config["nlp"]["lang"]).vocab
    return Vocab(
        # (Vocab.lex_attr_getters: spaCy's own attribute, read here, untyped in its stubs)
        lex_attr_getters={
            attr: f
            for attr, f in (getattr(full, "lex_attr_getters", None) or {}).items()
            if attr in keep
        },
        writing_system=full.writing_system,
        get_noun_chunks=full.get_noun_chunks,
    )


def _embedding_attrs(config: Any) -> set[str]:
    """The attribute names of every embedding layer in a model's component configs
    (``MultiHashEmbed``'s ``attrs``); empty if any embedding layer does not name them."""
    found: set[str] = set()
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "Embed" in str(node.get("@architectures", "")):
                named = node.get("attrs")
                if not isinstance(named, list) or not all(isinstance(a, str) for a in named):
                    return set()
                found.update(named)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def numeric_ops(kind: str, blas_threads: int | None) -> AbstractContextManager[Any]:
    """The thinc ops to load the model under: ``numpy`` (numpy's BLAS) or ``default``.

    ``blas_threads`` caps the BLAS thread pool of this process (a process-wide setting)."""
    if blas_threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=blas_threads, user_api="blas")
    if kind == "numpy":
        from thinc.api import use_ops

        return use_ops("numpy", use_blis=False)
    return nullcontext()


# a sentence ends after . ! ? before a space or the end, and at a line break
_SENTENCE_END = regex.compile(r"[.!?]+(?=\s|$)|\n")
# a word (starting with a letter; inner digits, apostrophes, hyphens and a final dot kept
# with it, so "ORD-1234" is one word), and whether a colon follows it; or a colon alone
_WORD = regex.compile(r"([^\W\d_][\w'’\-]*\.?)(\s*:)?|:")
# Words that open sentences in CRM writing and are never a name there: greetings, thanks,
# sign-offs, answers and apologies. A chat log starts most lines with one ("Customer: Hi,
# ...", "Agent: Sure, ...", "Thanks, bye!"); counted as a capitalised word, each would send
# its line through NER. A name that follows one still counts ("Hi Rosalia", "Thanks Ryan").
_OPENERS = frozenset(
    {
        "hi",
        "hello",
        "hey",
        "hiya",
        "dear",
        "thanks",
        "thank",
        "thx",
        "cheers",
        "regards",
        "sure",
        "ok",
        "okay",
        "yes",
        "yeah",
        "yep",
        "sorry",
        "bye",
        "goodbye",
        "welcome",
        "great",
        "fine",
        "alright",
    }
)
_NOT_NAME_STARTS = frozenset(STOP_WORDS) | _OPENERS


def sentences(text: str) -> list[tuple[int, int]]:
    """Character ranges of the sentences of ``text``."""
    ranges = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        ranges.append((start, match.end()))
        start = match.end()
    if start < len(text):
        ranges.append((start, len(text)))
    return ranges


def _capitalised(word: str) -> bool:
    """A capital first, some lower case, letters only (apostrophes, hyphens and a final
    dot allowed): ``Ryan``, ``O'Neil``, ``McDonald``, ``Mr.``; not ``ORD``, ``EUR``, ``I``."""
    return (
        word[:1].isupper()
        and any(c.islower() for c in word)
        and all(c.isalpha() or c in _NAME_CHARS for c in word)
    )


def _may_open_with_name(word: str) -> bool:
    """Whether the capitalised first word of a sentence can be a name or a place: not a
    function word ("The", "Please", "We"), a greeting or answer that opens sentences ("Hi",
    "Thanks", "Sorry"), nor a common English word that no name list holds ("Spoke",
    "Refund", "Ticket"); a word that is also a name or a place stays ("Mark", "Grace",
    "Paris", "China")."""
    lower = word.lower().rstrip(".")
    if lower in _NOT_NAME_STARTS:
        return False
    return not is_english_word(lower) or lower in gazetteer().any_name or lower in countries()


def may_name(sentence: str) -> bool:
    """Whether ``sentence`` holds a capitalised word that can start a name. The first word
    of a sentence (or of a line's text after a ``Label:``) is capitalised anyway, so it
    counts only if :func:`_may_open_with_name`; a label before a colon ("Agent:",
    "Mobile:") never counts."""
    initial = True
    for match in _WORD.finditer(sentence):
        word, colon = match.group(1), match.group(2)
        if word is None:  # a colon alone
            initial = True
            continue
        if not colon and _capitalised(word) and (not initial or _may_open_with_name(word)):
            return True
        initial = bool(colon)
    return False


def name_ranges(text: str) -> list[tuple[int, int]]:
    """Character ranges of ``text`` that NER should read: its sentences that
    :func:`may_name`, adjacent ones joined."""
    ranges: list[tuple[int, int]] = []
    for start, end in sentences(text):
        if may_name(text[start:end]):
            if ranges and ranges[-1][1] == start:
                ranges[-1] = (ranges[-1][0], end)
            else:
                ranges.append((start, end))
    return ranges


class GatedNer:
    """The model's ``ner`` on the sentences :func:`may_name` selects, in batches, at most
    ``token_cap`` tokens of each text.

    NER costs the same per token whatever the text, so the cap bounds its time on any one
    text (issue 14 item 5: 20,000 characters of ``Ab.Ab.Ab...`` are 13,000 tokens that
    all look like names, 6 s of NER). An ordinary note of 20,000 characters has about
    1,700-3,100 tokens in such sentences (the evaluation sources), so only a text built to
    look like thousands of names is cut; past the cap its sentences get the pattern
    recognizers and the person-cue recognizer, not NER."""

    def __init__(self, ner: Any, batch_size: int, token_cap: int = NER_TOKEN_CAP) -> None:
        self.ner = ner
        self.batch_size = batch_size
        self.token_cap = token_cap

    def __call__(self, doc: Any) -> Any:
        return next(iter(self.pipe([doc])))

    def pipe(self, stream: Iterable[Any], batch_size: int | None = None) -> Iterator[Any]:
        size = batch_size or self.batch_size
        batch: list[Any] = []
        for doc in stream:
            batch.append(doc)
            if len(batch) >= size:
                yield from self._tag(batch, size)
                batch = []
        if batch:
            yield from self._tag(batch, size)

    def _tag(self, docs: list[Any], size: int) -> list[Any]:
        from spacy.util import filter_spans

        parts: list[Any] = []
        owners: list[tuple[int, int]] = []  # (doc, token offset of the part)
        for n, doc in enumerate(docs):
            text = doc.user_data.get(TEXT_KEY)
            if text is None:
                text = doc.text
            ranges = name_ranges(text)
            if not ranges:
                continue
            if ranges == [(0, len(text))] and len(doc) <= self.token_cap:
                parts.append(doc)
                owners.append((n, 0))
                continue
            rows = doc.to_array([IDX, ORTH, SPACY]).tolist()  # one pass over the tokens
            for first, last in self._token_ranges([r[0] for r in rows], text, ranges):
                parts.append(_doc_of_tokens(doc.vocab, rows[first:last]))
                owners.append((n, first))
        found: list[list[Any]] = [[] for _ in docs]
        tagged = self.ner.pipe(parts, batch_size=size) if parts else []
        for part, (n, offset) in zip(tagged, owners, strict=True):
            if part is docs[n]:
                found[n] = list(part.ents)
                continue
            found[n].extend(
                Span(docs[n], offset + e.start, offset + e.end, label=e.label) for e in part.ents
            )
        for doc, ents in zip(docs, found, strict=True):
            kept = filter_spans(ents)
            doc.ents = kept
            # the same spans Doc.ents gives back now (start, end, label), sorted by start
            doc.user_data[ENTS_KEY] = kept
        return docs

    def _token_ranges(
        self, starts: list[int], text: str, ranges: list[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        """The doc's tokens (first, last + 1) of each character range, given each token's
        start offset, at most ``token_cap`` tokens in all. A sentence starts at a token
        once its leading space is dropped (the tokenizer splits within a whitespace-
        delimited chunk only), and ends at one: its tokens are those that start inside it."""
        out = []
        left = self.token_cap
        for start, end in ranges:
            if left <= 0:
                break
            start = end - len(text[start:end].lstrip())
            first, last = bisect_left(starts, start), bisect_left(starts, end)
            last = min(last, first + left)
            if first < last:
                out.append((first, last))
                left -= last - first
        return out


def _doc_of_tokens(vocab: Any, rows: list[list[int]]) -> Any:
    """A new doc of some tokens of a doc, from their ``[IDX, ORTH, SPACY]`` rows (the same
    words, spaces and lexemes), which the model tags as it tags the same sentence
    tokenized anew: NER reads only each token's lexeme. Building it from the words costs a
    fifth of tokenizing the sentence again, and ``Span.as_doc`` copies far more than NER
    reads."""
    strings = vocab.strings
    return Doc(
        vocab,
        words=[strings[orth] for _, orth, _ in rows],
        spaces=[bool(space) for _, _, space in rows],
    )


def model_path(name: str) -> Path | None:
    """Where the installed model ``name`` keeps its ``config.cfg`` (a package holds it in
    its one data directory; a path model, itself), or None."""
    import spacy.util

    path = Path(name)
    if not path.exists():
        try:
            path = spacy.util.get_package_path(name)
        except (ImportError, ValueError):
            return None
    if (path / "config.cfg").exists():
        return path
    found = [p for p in path.iterdir() if p.is_dir() and (p / "config.cfg").exists()]
    return found[0] if len(found) == 1 else None
