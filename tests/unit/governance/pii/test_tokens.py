"""The bounded tokenizer: spaCy's tokens on ordinary text, bounded work on any text."""

from __future__ import annotations

import pytest

from governance.pii import evaluation
from governance.pii.tokens import MAX_CHUNK, SUFFIX_REACH, BoundedTokenizer, cuts


@pytest.fixture(scope="module")
def tokenizers():  # noqa: ANN201
    import spacy

    nlp = spacy.blank("en")
    plain = spacy.blank("en").tokenizer
    return plain, BoundedTokenizer(nlp.tokenizer)


def test_ordinary_text_gets_spacys_own_tokens(tokenizers) -> None:  # noqa: ANN001
    plain, bounded = tokenizers
    for doc in evaluation.generate(150, seed=3):
        assert [t.text for t in bounded(doc.text)] == [t.text for t in plain(doc.text)]


@pytest.mark.parametrize(
    "text",
    [
        "\U0001f600" * 5000,
        "!" * 5000,
        "'" * 999 + " x",
        "see " + "ab." * 400 + " ok",
        "a" * (MAX_CHUNK + 1),
    ],
)
def test_a_long_run_is_tokenized_in_bounded_pieces_and_keeps_its_text(
    tokenizers,  # noqa: ANN001
    text,
) -> None:
    _, bounded = tokenizers
    seen: list[str] = []
    inner = bounded.tokenizer

    class Recording:
        """spaCy's tokenizer, noting what it is given (a spy on spaCy, not on our code)."""

        vocab = inner.vocab
        suffix_search = inner.suffix_search

        def __call__(self, piece: str):  # noqa: ANN204
            seen.append(piece)
            return inner(piece)

    recorder = BoundedTokenizer.__new__(BoundedTokenizer)
    recorder.tokenizer, recorder.vocab, recorder.max_chunk = Recording(), inner.vocab, MAX_CHUNK
    doc = recorder(text)

    assert doc.text == text
    assert len(seen) == len(cuts(text)) + 1
    assert all(len(run) <= MAX_CHUNK for piece in seen for run in piece.split())


def test_the_suffix_search_reads_a_bounded_tail(tokenizers) -> None:  # noqa: ANN001
    plain, bounded = tokenizers
    for word in ("done.", "(yes)", "10km", "it's", "U.S.", "\U0001f600!!", "x" * 500 + ")"):
        full = plain.suffix_search(word)
        tail = bounded.tokenizer.suffix_search(word)
        assert (full and full.end() - full.start()) == (tail and tail.end() - tail.start())
    assert SUFFIX_REACH >= 16


def test_no_cuts_without_a_long_run() -> None:
    assert cuts("a normal note, with words. " * 500) == []
    assert cuts("x" * (2 * MAX_CHUNK + 5)) == [MAX_CHUNK, 2 * MAX_CHUNK]
