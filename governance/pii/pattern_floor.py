"""What a text needs before a recognizer's pattern can match in it at all.

Most recognizers cannot match most structured values: a card number needs twelve digits, a
MAC address seventeen characters, and a postal code has five of each. Each pattern call
costs the regex module a clock read for its timeout (a system call on Linux, and the
largest single cost of matching short values), so the runner skips a pattern when the text
is shorter than any match of it, or holds fewer decimal digits than any match of it does.
Both floors are lower bounds read off the pattern's parse tree, so a skipped call is one
that could not have matched: the results are the same.

The parse is Python's own (``re._parser``), which reads the syntax the regex module shares
with ``re``. A pattern that uses anything beyond it (fuzzy matching, POSIX classes, Unicode
properties, full case folding, version 1 behaviour) gets no floor and is always run.
"""

from __future__ import annotations

import importlib
import re
import string
from dataclasses import dataclass
from typing import Any

import regex

# the parser behind re.compile (named sre_parse before Python 3.11, deprecated since)
sre_parse: Any = importlib.import_module("re._parser")

# flags whose meaning ``re`` shares; any other flag (FULLCASE, VERSION1, ...) means no floor
_SHARED_FLAGS = (
    regex.IGNORECASE | regex.MULTILINE | regex.DOTALL | regex.VERBOSE | regex.ASCII | regex.UNICODE
)
# a brace that does not open a counted repeat ({e<=1} is fuzzy matching), read with the
# character classes taken out (a brace inside one is a literal: e-mail's [!#$%&'*+/=?^_`{|}~]);
# and a POSIX class ([[:digit:]])
_NOT_SHARED = re.compile(r"\{(?!\d*(?:,\d*)?\})")
_POSIX_CLASS = re.compile(r"\[:\^?[A-Za-z]+:\]")
_REPEATS = tuple(
    op
    for op in (
        getattr(sre_parse, name, None) for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
    )
    if op is not None
)
_DIGIT_ZERO, _DIGIT_NINE = ord("0"), ord("9")
_DECIMAL = re.compile(r"\d")  # on str, re's \d is Unicode Nd, as the regex module's is


@dataclass(frozen=True)
class Floor:
    """The fewest characters, and the fewest decimal digits, any match has; and the
    characters every match contains (``literals``: "@" for an e-mail address, ":" for an
    IPv6 address)."""

    length: int
    digits: int
    literals: frozenset[str] = frozenset()

    def rules_out(self, length: int, digits: int) -> bool:
        return length < self.length or digits < self.digits

    def lacks_literal(self, text: str) -> bool:
        """Whether ``text`` lacks a character every match contains, so holds no match."""
        return any(ch not in text for ch in self.literals)


def pattern_floor(source: str, flags: int) -> Floor | None:
    """The floor of a pattern compiled with ``flags``, or None if it cannot be read."""
    if (
        flags & ~_SHARED_FLAGS
        or _NOT_SHARED.search(_without_classes(source))
        or _POSIX_CLASS.search(source)
    ):
        return None
    try:
        tree = sre_parse.parse(source, flags & ~(regex.UNICODE | regex.ASCII))
        length = int(tree.getwidth()[0])
    except Exception:  # noqa: BLE001 - any syntax re does not share: no floor
        return None
    ignorecase = bool(tree.state.flags & sre_parse.SRE_FLAG_IGNORECASE)
    return Floor(
        length=length, digits=_min_digits(tree), literals=_required_literals(tree, ignorecase)
    )


def _without_classes(source: str) -> str:
    """``source`` with the contents of its character classes left out."""
    out: list[str] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch == "\\":
            out.append(source[i : i + 2])
            i += 2
        elif ch == "[":
            i += 1
            if i < n and source[i] == "^":
                i += 1
            if i < n and source[i] == "]":  # a leading ] is a literal
                i += 1
            while i < n and source[i] != "]":
                i += 2 if source[i] == "\\" else 1
            out.append("[]")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _digit_only(op: Any, av: Any) -> bool:
    """Whether one character test can only match an ASCII or Unicode decimal digit."""
    if op is sre_parse.LITERAL:
        return bool(_DIGIT_ZERO <= av <= _DIGIT_NINE)
    if op is sre_parse.IN:
        return bool(av) and all(
            (o is sre_parse.CATEGORY and a is sre_parse.CATEGORY_DIGIT)
            or (o is sre_parse.RANGE and _DIGIT_ZERO <= a[0] and a[1] <= _DIGIT_NINE)
            or (o is sre_parse.LITERAL and _DIGIT_ZERO <= a <= _DIGIT_NINE)
            for o, a in av
        )
    return False


def _min_digits(items: Any) -> int:
    """The fewest characters a match of ``items`` spends on digit-only tests. Lookarounds,
    back-references and conditionals count nothing, which keeps it a lower bound."""
    total = 0
    for op, av in items:
        if op is sre_parse.LITERAL or op is sre_parse.IN:
            total += _digit_only(op, av)
        elif op in _REPEATS:
            total += av[0] * _min_digits(av[2])
        elif op is sre_parse.SUBPATTERN:
            total += _min_digits(av[-1])
        elif op is sre_parse.BRANCH:
            total += min(_min_digits(branch) for branch in av[1])
        elif op is getattr(sre_parse, "ATOMIC_GROUP", None):
            total += _min_digits(av)
    return total


def decimal_digits(text: str) -> int:
    """How many characters of ``text`` the regex module's ``\\d`` can match (Unicode Nd)."""
    return len(_DECIMAL.findall(text))


# characters that case-insensitive matching cannot read otherwise: no character of any
# script case-folds to an ASCII digit, punctuation mark or space (letters do: "k" matches
# the Kelvin sign, "s" the long s)
_CASELESS = frozenset(string.digits + string.punctuation + " ")


def _literal(code: int, ignorecase: bool) -> frozenset[str]:
    ch = chr(code)
    return frozenset(ch) if not ignorecase or ch in _CASELESS else frozenset()


def _required_literals(items: Any, ignorecase: bool) -> frozenset[str]:
    """The characters every match of ``items`` contains: each literal of the sequence
    (a one-character class counts as its literal), what a repeat of at least one
    contains, what every branch of an alternation contains (their intersection), and
    what a group contains, under its own case flags. An optional repeat, a lookaround,
    a back-reference or a conditional contributes nothing, so the set errs on the small
    side: a text without one of its characters holds no match."""
    found: set[str] = set()
    for op, av in items:
        if op is sre_parse.LITERAL:
            found |= _literal(av, ignorecase)
        elif op is sre_parse.IN:
            if len(av) == 1 and av[0][0] is sre_parse.LITERAL:
                found |= _literal(av[0][1], ignorecase)
        elif op in _REPEATS:
            if av[0] >= 1:
                found |= _required_literals(av[2], ignorecase)
        elif op is sre_parse.SUBPATTERN:
            _group, add_flags, del_flags, pattern = av
            inner = ignorecase
            if add_flags & sre_parse.SRE_FLAG_IGNORECASE:
                inner = True
            if del_flags & sre_parse.SRE_FLAG_IGNORECASE:
                inner = False
            found |= _required_literals(pattern, inner)
        elif op is sre_parse.BRANCH:
            branches = [_required_literals(branch, ignorecase) for branch in av[1]]
            found |= frozenset.intersection(*branches) if branches else frozenset()
        elif op is getattr(sre_parse, "ATOMIC_GROUP", None):
            found |= _required_literals(av, ignorecase)
    return frozenset(found)
