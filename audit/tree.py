"""RFC 6962 / RFC 9162 (section 2.1) Merkle tree hashing, proofs and verification.

The audit log is an append-only list of entries committed to by a Merkle tree
hash (MTH).  Auditors hold signed checkpoints (tree size + root hash) and ask
for *inclusion* proofs ("entry i is in the tree of size n") and *consistency*
proofs ("the tree of size m is a prefix of the tree of size n").  Both must be
byte-for-byte the RFC 9162 formats so that any off-the-shelf verifier
(transparency-dev/merkle, the Go sumdb tooling, ...) can check our log.

Storage model
-------------
The log persists only hashes of *perfect* subtrees.  Node ``(level, index)``
covers the leaves ``[index * 2**level, (index + 1) * 2**level)``; level 0 holds
the leaf hashes.  A perfect node never changes once its last leaf exists, so
it can be written once and never updated.  Hashes of incomplete subtrees on
the right edge of a tree ("ephemeral" nodes) are never stored: they are
recomputed from at most ``log2(n)`` perfect nodes whenever a proof needs them.

The storage layer hands us ``get_node(level, index) -> bytes`` for any perfect
node fully inside the tree.  Every function here reads ``O(log n)`` nodes.  The
``*_nodes`` planners return the exact list of node ids a proof needs so the
caller can fetch them in one batched query before assembling the proof.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "ChunkedRoots",
    "CompactRange",
    "MemoryTree",
    "NodeGetter",
    "NodeID",
    "ProofPlan",
    "consistency_proof",
    "consistency_proof_nodes",
    "inclusion_proof",
    "inclusion_proof_nodes",
    "leaf_hash",
    "node_hash",
    "perfect_levels",
    "root_from_leaf_hashes",
    "root_hash",
    "root_nodes",
    "verify_consistency",
    "verify_inclusion",
]

_sha256 = hashlib.sha256

#: Size in bytes of every hash in the tree (SHA-256).
HASH_SIZE = 32

#: MTH({}) -- the root of an empty tree is the hash of the empty string.
EMPTY_ROOT: bytes = _sha256(b"").digest()

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

#: ``(level, index)`` of a perfect subtree; see the module docstring.
NodeID = tuple[int, int]

#: Accessor for stored perfect-subtree hashes, supplied by the storage layer.
NodeGetter = Callable[[int, int], bytes]


def leaf_hash(data: bytes) -> bytes:
    """Return ``SHA-256(0x00 || data)``.

    The 0x00 / 0x01 domain separation between leaves and interior nodes is what
    stops an attacker from presenting an interior node as if it were a leaf
    (second-preimage attack on the tree).
    """
    return _sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return ``SHA-256(0x01 || left || right)``, the hash of an interior node."""
    return _sha256(_NODE_PREFIX + left + right).digest()


# --------------------------------------------------------------------------
# Internal helpers
# --------------------------------------------------------------------------


def _check_int(name: str, value: int) -> None:
    # bool is an int subclass; accepting True as "1" hides caller bugs.
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be non-negative, got {value}")


def _split_point(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (``n >= 2``): RFC's ``k``."""
    return 1 << ((n - 1).bit_length() - 1)


def _subtree_nodes(begin: int, end: int) -> tuple[NodeID, ...]:
    """Perfect nodes whose right-to-left fold is ``MTH(D[begin:end])``.

    Only valid for the ranges the RFC recursion produces: ``begin`` is aligned
    to a power of two that is ``>= end - begin``.  For those, the RFC split
    (largest power of two first) is exactly the binary decomposition of the
    range length, high bits first, so the list has ``popcount(end - begin)``
    entries -- one node if the range is itself a perfect subtree.
    """
    nodes: list[NodeID] = []
    remaining = end - begin
    start = begin
    while remaining:
        level = remaining.bit_length() - 1
        nodes.append((level, start >> level))
        start += 1 << level
        remaining -= 1 << level
    return tuple(nodes)


def _fold(hashes: Sequence[bytes]) -> bytes:
    """Combine subtree hashes right to left: ``H(h0, H(h1, ... H(hk-1, hk)))``."""
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = _sha256(_NODE_PREFIX + h + acc).digest()
    return acc


# --------------------------------------------------------------------------
# Planning and building proofs from stored perfect nodes
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ProofPlan:
    """Which stored nodes a proof needs and how to combine them.

    ``elements[i]`` lists the perfect nodes whose right-to-left fold is the
    i-th hash of the proof.  Almost every element is a single stored node; at
    most one (an ephemeral right-edge subtree) is a fold of several.  Keeping
    the plan separate from the I/O lets the storage layer fetch ``nodes`` in a
    single query and lets tests assert the O(log n) read bound.
    """

    elements: tuple[tuple[NodeID, ...], ...]

    def nodes(self) -> list[NodeID]:
        """All node ids to fetch, in proof order (no id repeats within a proof)."""
        return [node for element in self.elements for node in element]

    def resolve(self, get_node: NodeGetter) -> list[bytes]:
        """Fetch the planned nodes via ``get_node`` and return the proof hashes.

        For a batch fetch, pass e.g. ``lambda level, index: fetched[(level, index)]``.
        """
        return [
            _fold([get_node(level, index) for level, index in element]) for element in self.elements
        ]


def root_nodes(size: int) -> list[NodeID]:
    """Perfect nodes whose right-to-left fold is the root of a tree of ``size`` leaves.

    One node per set bit of ``size`` (the "binary decomposition"), largest
    first.  Empty for ``size == 0`` (the root is then :data:`EMPTY_ROOT`).
    """
    _check_int("size", size)
    return list(_subtree_nodes(0, size))


def root_hash(size: int, get_node: NodeGetter) -> bytes:
    """``MTH(D[0:size])`` computed from at most ``log2(size) + 1`` stored nodes."""
    nodes = root_nodes(size)
    if not nodes:
        return EMPTY_ROOT
    return _fold([get_node(level, index) for level, index in nodes])


def inclusion_proof_nodes(index: int, size: int) -> ProofPlan:
    """Plan ``PATH(index, D[0:size])`` (RFC 9162 2.1.3.1).

    Walks the RFC recursion top-down, recording the sibling range at each
    split; the proof lists them bottom-up (leaf's sibling first).
    """
    _check_int("index", index)
    _check_int("size", size)
    if index >= size:
        raise ValueError(f"index {index} is not in a tree of size {size}")
    siblings: list[tuple[int, int]] = []
    begin, end = 0, size
    while end - begin > 1:
        mid = begin + _split_point(end - begin)
        if index < mid:
            siblings.append((mid, end))
            end = mid
        else:
            siblings.append((begin, mid))
            begin = mid
    return ProofPlan(tuple(_subtree_nodes(a, b) for a, b in reversed(siblings)))


def inclusion_proof(index: int, size: int, get_node: NodeGetter) -> list[bytes]:
    """Inclusion proof for leaf ``index`` in the tree of ``size`` leaves."""
    return inclusion_proof_nodes(index, size).resolve(get_node)


def consistency_proof_nodes(first: int, second: int) -> ProofPlan:
    """Plan ``PROOF(first, D[0:second])`` (RFC 9162 2.1.4.1), ``0 < first <= second``.

    Iterative form of SUBPROOF: ``known`` is the RFC's boolean ``b`` -- true
    while the current subtree's root is the old root itself, which the
    verifier already has and which is therefore omitted from the proof.
    """
    _check_int("first", first)
    _check_int("second", second)
    if first == 0:
        raise ValueError("consistency proofs are defined for first > 0 only")
    if first > second:
        raise ValueError(f"first ({first}) must not exceed second ({second})")
    parts: list[tuple[int, int]] = []
    begin, end, known = 0, second, True
    while True:
        if first == end:
            # first - begin == end - begin: the old tree covers this subtree.
            if not known:
                parts.append((begin, end))
            break
        mid = begin + _split_point(end - begin)
        if first <= mid:
            parts.append((mid, end))
            end = mid
        else:
            parts.append((begin, mid))
            begin = mid
            known = False
    return ProofPlan(tuple(_subtree_nodes(a, b) for a, b in reversed(parts)))


def consistency_proof(first: int, second: int, get_node: NodeGetter) -> list[bytes]:
    """Consistency proof from the tree of ``first`` leaves to that of ``second``."""
    return consistency_proof_nodes(first, second).resolve(get_node)


# --------------------------------------------------------------------------
# Verification (client side; never trusts the proof's shape)
# --------------------------------------------------------------------------


def _is_hash(value: object) -> bool:
    return isinstance(value, (bytes, bytearray, memoryview)) and len(value) == HASH_SIZE


def _valid_proof(proof: object) -> bool:
    if not isinstance(proof, (list, tuple)):
        return False
    return all(_is_hash(p) for p in proof)


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Check an inclusion proof per RFC 9162 2.1.3.2.

    Returns False for any proof that does not verify, including malformed ones
    (wrong length, wrong element size, non-bytes); a verifier fed hostile input
    must not crash.  Raises ValueError only when the caller's own arguments are
    nonsensical (negative numbers or ``index >= size``).
    """
    _check_int("index", index)
    _check_int("size", size)
    if index >= size:
        raise ValueError(f"index {index} is not in a tree of size {size}")
    if not (_is_hash(leaf_hash) and _is_hash(root) and _valid_proof(proof)):
        return False
    fn, sn = index, size - 1
    r = bytes(leaf_hash)
    for p in proof:
        if sn == 0:
            return False  # proof longer than the path to the root
        if fn & 1 or fn == sn:
            r = _sha256(_NODE_PREFIX + bytes(p) + r).digest()
            if not fn & 1:
                # Right-edge node with no right sibling at these levels: it is
                # promoted unchanged, so skip levels until it becomes a right child.
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _sha256(_NODE_PREFIX + r + bytes(p)).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and hmac.compare_digest(r, bytes(root))


def verify_consistency(
    first: int,
    second: int,
    first_root: bytes,
    second_root: bytes,
    proof: Sequence[bytes],
) -> bool:
    """Check a consistency proof per RFC 9162 2.1.4.2.

    ``first == second`` requires an empty proof and equal roots.  ``first == 0``
    is accepted only with an empty proof and ``first_root`` equal to the empty
    tree root (the empty tree is a prefix of every tree).  Malformed proofs
    return False; ValueError is raised only for negative sizes or
    ``first > second``.
    """
    _check_int("first", first)
    _check_int("second", second)
    if first > second:
        raise ValueError(f"first ({first}) must not exceed second ({second})")
    if not (_is_hash(first_root) and _is_hash(second_root) and _valid_proof(proof)):
        return False
    first_root, second_root = bytes(first_root), bytes(second_root)
    if first == 0:
        return len(proof) == 0 and hmac.compare_digest(first_root, EMPTY_ROOT)
    if first == second:
        return len(proof) == 0 and hmac.compare_digest(first_root, second_root)
    if len(proof) == 0:
        return False
    path = [bytes(p) for p in proof]
    if first & (first - 1) == 0:
        # The old tree is a perfect subtree: its root is the proof's implicit start.
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = _sha256(_NODE_PREFIX + c + fr).digest()
            sr = _sha256(_NODE_PREFIX + c + sr).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _sha256(_NODE_PREFIX + sr + c).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and hmac.compare_digest(fr, first_root) and hmac.compare_digest(sr, second_root)


# --------------------------------------------------------------------------
# Incremental building
# --------------------------------------------------------------------------


class CompactRange:
    """Right edge of the tree ``[0, size)``: the only state an appender needs.

    Holds one perfect-subtree hash per set bit of ``size`` (largest first), so
    at most ``log2(size) + 1`` hashes.  The integrator keeps one of these in
    memory, appends leaf hashes, and persists the perfect nodes each append
    completes; the root for a checkpoint costs ``popcount(size) - 1`` hashes.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        """Create from ``size`` and the hashes of :func:`root_nodes` ``(size)``."""
        _check_int("size", size)
        hs = [bytes(h) for h in hashes]
        if len(hs) != size.bit_count():
            raise ValueError(
                f"a compact range of size {size} needs {size.bit_count()} hashes, got {len(hs)}"
            )
        if not all(len(h) == HASH_SIZE for h in hs):
            raise ValueError("every hash must be 32 bytes")
        self._size = size
        self._hashes = hs

    @classmethod
    def from_storage(cls, size: int, get_node: NodeGetter) -> CompactRange:
        """Resume from the stored tree after a restart (``popcount(size)`` reads)."""
        return cls(size, [get_node(level, index) for level, index in root_nodes(size)])

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def hashes(self) -> list[bytes]:
        """Copy of the right-edge hashes, in :func:`root_nodes` order."""
        return list(self._hashes)

    def nodes(self) -> list[NodeID]:
        """Node ids of :attr:`hashes` (same order)."""
        return root_nodes(self._size)

    def copy(self) -> CompactRange:
        """Independent copy, e.g. to stage appends before a transaction commits."""
        return CompactRange(self._size, self._hashes)

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Append one leaf hash; return the perfect nodes this completes.

        The result starts with the leaf itself ``(0, size, leaf_hash)`` and then
        one node per level that the new leaf closes (as many as ``size`` has
        trailing one bits before the append).  Those are exactly the nodes the
        storage layer has to insert for ``get_node`` to stay complete.
        """
        if not _is_hash(leaf_hash):
            raise ValueError("leaf_hash must be 32 bytes")
        h = bytes(leaf_hash)
        index = self._size
        level = 0
        created = [(0, index, h)]
        while index & 1:
            h = _sha256(_NODE_PREFIX + self._hashes.pop() + h).digest()
            index >>= 1
            level += 1
            created.append((level, index, h))
        self._hashes.append(h)
        self._size += 1
        return created

    def root(self) -> bytes:
        """``MTH`` of the leaves appended so far."""
        if not self._hashes:
            return EMPTY_ROOT
        return _fold(self._hashes)

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"


class MemoryTree:
    """Whole tree in memory: every perfect node in a dict.

    Used by tests and by offline verification that rebuilds a tree from an
    export.  It exposes the same ``get_node`` contract as the storage layer
    (raising KeyError for nodes that are not fully inside the tree), so the
    production proof code is exercised unchanged.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._nodes: dict[NodeID, bytes] = {}
        self._range = CompactRange()
        for h in leaf_hashes:
            self.append_leaf_hash(h)

    @property
    def size(self) -> int:
        """Number of leaves."""
        return self._range.size

    def append(self, data: bytes) -> int:
        """Append a leaf by its data; return its index."""
        return self.append_leaf_hash(leaf_hash(data))

    def append_leaf_hash(self, h: bytes) -> int:
        """Append a precomputed leaf hash; return its index."""
        index = self._range.size
        for level, idx, value in self._range.append(h):
            self._nodes[(level, idx)] = value
        return index

    def get_node(self, level: int, index: int) -> bytes:
        """Hash of the perfect node ``(level, index)``; KeyError if not complete."""
        return self._nodes[(level, index)]

    def leaf_hash(self, index: int) -> bytes:
        """Stored hash of leaf ``index``."""
        return self._nodes[(0, index)]

    def root(self, size: int | None = None) -> bytes:
        """Root of the first ``size`` leaves (default: the whole tree)."""
        size = self.size if size is None else size
        self._check_size(size)
        return root_hash(size, self.get_node)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Inclusion proof for ``index`` in the tree of ``size`` leaves (default: all)."""
        size = self.size if size is None else size
        self._check_size(size)
        return inclusion_proof(index, size, self.get_node)

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """Consistency proof from ``first`` to ``second`` leaves (default: all)."""
        second = self.size if second is None else second
        self._check_size(second)
        return consistency_proof(first, second, self.get_node)

    def _check_size(self, size: int) -> None:
        _check_int("size", size)
        if size > self.size:
            raise ValueError(f"size {size} exceeds tree size {self.size}")


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """Root of a whole tree given all its leaf hashes, as fast as CPython allows.

    Pairs each level left to right and promotes an odd last node unchanged,
    which yields the same shape (and root) as the RFC 6962 recursion.  Used to
    re-derive a checkpoint from a full export, so it avoids any per-node Python
    objects beyond the hashlib call: ~1M+ leaves/s on one core.
    """
    level = list(hashes)
    if not level:
        return EMPTY_ROOT
    sha = _sha256
    prefix = _NODE_PREFIX
    while len(level) > 1:
        n = len(level)
        nxt = [sha(prefix + level[i] + level[i + 1]).digest() for i in range(0, n - 1, 2)]
        if n & 1:
            nxt.append(level[-1])
        level = nxt
    return bytes(level[0])


def perfect_levels(leaves: Sequence[bytes]) -> list[list[bytes]]:
    """Every perfect subtree hash over ``leaves``, level by level.

    ``levels[k][i]`` is node ``(k, i)`` of the tree the leaves start; level ``k`` holds
    ``len(leaves) >> k`` hashes (an odd last node is left for the caller's fold). Written
    as one list comprehension per level, the fastest shape CPython offers for it.
    """
    sha = _sha256
    levels = [list(leaves)]
    current = levels[0]
    while len(current) > 1:
        current = [
            sha(b"\x01" + left + right).digest()
            for left, right in zip(current[0::2], current[1::2], strict=False)
        ]
        levels.append(current)
    return levels


def chunk_summary(
    leaves: Sequence[bytes], offsets: Iterable[int] = ()
) -> tuple[bytes, dict[int, bytes]]:
    """What :class:`ChunkedRoots` needs of one chunk of leaf hashes: the chunk's root (a
    perfect subtree's hash when its size is a power of two) and, for each offset, the root
    of its first ``offset`` leaves. It needs nothing from before the chunk, so any process
    can compute it."""
    levels = perfect_levels(leaves)

    def node(level: int, index: int) -> bytes:
        return levels[level][index]

    n = len(leaves)
    root = levels[-1][0] if n & (n - 1) == 0 else root_hash(n, node)
    return root, {offset: root_hash(offset, node) for offset in offsets}


class ChunkedRoots:
    """Roots of a long log whose leaf hashes arrive in aligned chunks, in bounded memory.

    Every chunk but the last holds exactly ``chunk_size`` (a power of two) leaf hashes, so a
    chunk is a perfect subtree: its levels are hashed in tight loops, and only its root is
    kept, in a :class:`CompactRange` of chunk roots. The root of any tree size inside a
    chunk is answered while that chunk is at hand: ``fold(prefix hashes + [root of the
    chunk's first r leaves])``, which is the RFC 9162 ``MTH`` because the prefix is a
    multiple of the chunk size (its binary decomposition only has levels above the chunk's).
    """

    __slots__ = ("_prefix", "_size", "_tail", "chunk_size")

    def __init__(self, chunk_size: int) -> None:
        _check_int("chunk_size", chunk_size)
        if chunk_size == 0 or chunk_size & (chunk_size - 1):
            raise ValueError("chunk_size must be a power of two")
        self.chunk_size = chunk_size
        self._prefix = CompactRange()
        self._size = 0
        self._tail: bytes | None = None

    @property
    def size(self) -> int:
        """Leaves added so far."""
        return self._size

    def add(self, leaves: Sequence[bytes], sizes: Iterable[int] = ()) -> dict[int, bytes]:
        """Add the next chunk of leaf hashes; return the root at each of ``sizes``.

        Every size must lie in ``(size, size + len(leaves)]``. Only the last chunk may be
        shorter than ``chunk_size``.
        """
        n = len(leaves)
        self._check_chunk(n)
        if n == 0:
            return {}
        offsets = [size - self._size for size in sizes]
        for offset in offsets:
            if not 0 < offset <= n:
                raise ValueError(f"size {self._size + offset} is not inside this chunk")
        root, partials = chunk_summary(leaves, offsets)
        return self.add_summary(n, root, {self._size + o: h for o, h in partials.items()})

    def add_summary(self, n: int, root: bytes, partials: dict[int, bytes]) -> dict[int, bytes]:
        """Add the next chunk of ``n`` leaves by its :func:`chunk_summary` (computed where
        its leaves were, another process for instance): its root, and the root of its first
        leaves up to each size of ``partials``; return the log's root at those sizes."""
        self._check_chunk(n)
        prefix = self._prefix.hashes
        roots = {size: _fold([*prefix, partial]) for size, partial in partials.items()}
        if n == self.chunk_size:
            self._prefix.append(root)
        else:
            self._tail = _fold([*prefix, root])
        self._size += n
        return roots

    def _check_chunk(self, n: int) -> None:
        if self._tail is not None:
            raise ValueError("a short chunk was already added: it must be the last")
        if n > self.chunk_size:
            raise ValueError(f"a chunk holds at most {self.chunk_size} leaves, got {n}")

    def root(self) -> bytes:
        """``MTH`` of every leaf added so far."""
        return self._tail if self._tail is not None else self._prefix.root()
