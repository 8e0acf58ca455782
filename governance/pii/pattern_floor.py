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
from dataclasses import dataclass
from typing import Any

import regex

# the parser behind re.compile (named sre_parse before Python 3.11, deprecated since)
sre_parse: Any = importlib.import_module("re._parser")

# flags whose meaning ``re`` shares; any other flag (FULLCASE, VERSION1, ...) means no floor
_SHARED_FLAGS = (regex.IGNORECASE | regex.MULTILINE | regex.DOTALL | regex.VERBOSE
                 | regex.ASCII | regex.UNICODE)
# a brace that does not open a counted repeat ({e<=1} is fuzzy matching), or a POSIX class
_NOT_SHARED = re.compile(r"\{(?!\d*(?:,\d*)?\})|\[:")
_REPEATS = tuple(
    op for op in (getattr(sre_parse, name, None)
                  for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"))
    if op is not None
)
_DIGIT_ZERO, _DIGIT_NINE = ord("0"), ord("9")
_DECIMAL = re.compile(r"\d")  # on str, re's \d is Unicode Nd, as the regex module's is


@dataclass(frozen=True)
class Floor:
    """The fewest characters, and the fewest decimal digits, any match has."""

    length: int
    digits: int

    def rules_out(self, length: int, digits: int) -> bool:
        return length < self.length or digits < self.digits


def pattern_floor(source: str, flags: int) -> Floor | None:
    """The floor of a pattern compiled with ``flags``, or None if it cannot be read."""
    if flags & ~_SHARED_FLAGS or _NOT_SHARED.search(source):
        return None
    try:
        tree = sre_parse.parse(source, flags & ~(regex.UNICODE | regex.ASCII))
        length = int(tree.getwidth()[0])
    except Exception:  # noqa: BLE001 - any syntax re does not share: no floor
        return None
    return Floor(length=length, digits=_min_digits(tree))


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
