"""Small seeded draws and value helpers the generator and the consent histories share."""

from __future__ import annotations

import bisect
import hashlib
import itertools
import random
import unicodedata
from collections.abc import Sequence
from typing import Any


def ascii_fold(text: str) -> str:
    """A name as the lowercase ASCII letters and digits an email address is made of."""
    text = text.replace("ß", "ss").replace("ø", "o").replace("Ø", "o").replace("æ", "ae")
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "".join(ch for ch in folded if ch.isalnum()) or "user"


def money(cents: int) -> str:
    """Cents as the decimal text the data map's money fields take."""
    return f"{cents // 100}.{cents % 100:02d}"


def stable_int(*parts: object, bits: int = 64) -> int:
    """A seed from ``parts`` that is the same in every process (``hash()`` is salted)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=bits // 8)
    return int.from_bytes(digest.digest(), "big")


class Weighted:
    """Values with weights, drawn with one uniform number (``random.choices`` is 5x slower)."""

    __slots__ = ("values", "cum", "total")

    def __init__(self, values: Sequence[Any], weights: Sequence[float]) -> None:
        if len(values) != len(weights) or not values:
            raise ValueError("one weight per value")
        self.values = tuple(values)
        self.cum = list(itertools.accumulate(weights))
        self.total = self.cum[-1]


def counts(*weights: float) -> Weighted:
    """How many rows: 0 .. len(weights)-1, weighted."""
    return Weighted(range(len(weights)), weights)


class Dice:
    """A seeded ``random.Random`` with the few fast draws the generator needs."""

    __slots__ = ("_rng", "random", "getrandbits", "gauss")

    def __init__(self) -> None:
        self._rng = random.Random()  # noqa: S311 - demo data, not secrets
        self.random = self._rng.random
        self.getrandbits = self._rng.getrandbits
        self.gauss = self._rng.gauss

    def seed(self, value: int) -> None:
        self._rng.seed(value)

    def pick(self, seq: Sequence[Any]) -> Any:
        return seq[int(self.random() * len(seq))]

    def below(self, n: int) -> int:
        return int(self.random() * n)

    def weighted(self, w: Weighted) -> Any:
        return w.values[bisect.bisect_right(w.cum, self.random() * w.total)]

    def some(self, seq: Sequence[Any], k: int) -> list[Any]:
        """k distinct elements (k <= len(seq)), in drawing order."""
        chosen: dict[Any, None] = {}
        while len(chosen) < k:
            chosen[seq[int(self.random() * len(seq))]] = None
        return list(chosen)
