"""spaCy's tokenizer, made linear in the length of any text.

spaCy splits a text at whitespace, then peels prefixes and suffixes off each chunk one at a
time. On a chunk with no whitespace in it that is quadratic twice over: the suffix rules are
one regex anchored with ``$``, which Python's ``re`` searches from every position of the
chunk, once per suffix peeled; and each peel copies the rest of the chunk. 20,000 emoji,
``!`` or quotes in a row took 55-86 s to tokenize (issue 14 item 5). Two bounds fix it:

- the suffix search reads only the chunk's last ``SUFFIX_REACH`` characters. A suffix rule
  matches a few characters at the end (with at most a few characters of lookbehind), so the
  suffix found, and so every token, is the one the full search finds;
- a chunk longer than ``MAX_CHUNK`` characters is tokenized ``MAX_CHUNK`` characters at a
  time and the pieces joined into one doc with the same text. Such a chunk is no word,
  e-mail address or URL anyone types (the pattern recognizers, which read the text itself,
  not the tokens, still see it whole); only its tokens may differ from spaCy's.

Each chunk then costs at most a constant, and the tokenizer's time grows with the text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Any

import regex

SUFFIX_REACH = 64
# the ``doc.user_data`` key of the text the tokenizer was given: later steps read it there
# (``Doc.text`` joins every token's text again, a pass over the doc)
TEXT_KEY = "governance_text"
MAX_CHUNK = 200


def bounded_suffix_search(
    search: Callable[[str], Any], reach: int = SUFFIX_REACH
) -> Callable[[str], Any]:
    """``search`` run on the last ``reach`` characters of its argument only. The tokenizer
    reads only the length of the match, which is the same."""

    def suffix_search(string: str) -> Any:
        return search(string[-reach:] if len(string) > reach else string)

    suffix_search.bounded = True  # type: ignore[attr-defined]
    return suffix_search


def cuts(text: str, max_chunk: int = MAX_CHUNK) -> list[int]:
    """Offsets where ``text`` is cut so that no piece holds a run of more than
    ``max_chunk`` non-space characters (empty for any text without such a run)."""
    found: list[int] = []
    for match in _long_run(max_chunk).finditer(text):
        found.extend(range(match.start() + max_chunk, match.end(), max_chunk))
    return found


@lru_cache(maxsize=8)
def _long_run(max_chunk: int) -> Any:
    """The pattern of a run longer than ``max_chunk``, compiled once (the regex module's
    own cache still costs a lookup with flag arithmetic per call)."""
    return regex.compile(rf"\S{{{max_chunk + 1},}}")


class BoundedTokenizer:
    """The model's tokenizer with its suffix search bounded, on bounded pieces of a text."""

    def __init__(self, tokenizer: Any, max_chunk: int = MAX_CHUNK) -> None:
        # (spaCy's documented way to change a tokenizer's rules: assign its suffix_search)
        if not getattr(tokenizer.suffix_search, "bounded", False) and tokenizer.suffix_search:
            tokenizer.suffix_search = bounded_suffix_search(tokenizer.suffix_search)
        self.tokenizer = tokenizer
        self.vocab = tokenizer.vocab
        self.max_chunk = max_chunk

    def __call__(self, text: str) -> Any:
        """The doc of ``text``, which keeps ``text`` itself in its ``user_data`` (the
        pipeline's later steps read it there instead of joining the tokens again)."""
        at = cuts(text, self.max_chunk)
        if not at:
            doc = self.tokenizer(text)
        else:
            from spacy.tokens import Doc

            bounds = [0, *at, len(text)]
            pieces = [self.tokenizer(text[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
            doc = Doc.from_docs(pieces, ensure_whitespace=False)
        doc.user_data[TEXT_KEY] = text
        return doc

    def pipe(self, texts: Iterable[str], batch_size: int = 1000) -> Iterator[Any]:
        for text in texts:
            yield self(text)

    def __getattr__(self, name: str) -> Any:  # rules, cache, to_disk ... of spaCy's own
        return getattr(self.tokenizer, name)
