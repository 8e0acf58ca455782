"""Tests for audit.tree: published RFC 6962 vectors plus property tests.

The property tests compare against a deliberately naive implementation of the
RFC 9162 section 2.1 definitions (MTH, PATH, PROOF/SUBPROOF) written below
straight from the RFC text, so a shared misunderstanding between the module
and its tests would have to be made twice, in two different styles.
"""

from __future__ import annotations

import hashlib
import inspect

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import tree
from audit.tree import (
    EMPTY_ROOT,
    ChunkedRoots,
    CompactRange,
    MemoryTree,
    ProofPlan,
    consistency_proof,
    consistency_proof_nodes,
    inclusion_proof,
    inclusion_proof_nodes,
    leaf_hash,
    node_hash,
    perfect_levels,
    root_from_leaf_hashes,
    root_hash,
    root_nodes,
    verify_consistency,
    verify_inclusion,
)

# ---------------------------------------------------------------------------
# Published test vectors.
#
# Source: transparency-dev/merkle, proof/verify_test.go (vars `leaves`, `roots`,
# `inclusionProofs`, `consistencyProofs`, `sha256EmptyTreeHash`,
# `sha256SomeHash`); the same values appear in google/certificate-transparency
# cpp/merkletree/merkle_tree_test.cc (kInputs, kSHA256Roots, kSHA256Paths,
# kSHA256Proofs, kSHA256EmptyTreeHash).  In both sources the inclusion-proof
# `leaf` field is 1-based; we keep it as published and subtract 1.
# ---------------------------------------------------------------------------

EMPTY_TREE_HASH_HEX = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")

LEAF_INPUTS = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]

# ROOTS[i] is the root of the tree holding the first i + 1 inputs.
ROOTS = [
    bytes.fromhex(h)
    for h in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]

# (1-based leaf, tree size, proof)
INCLUSION_VECTORS = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        2,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

# (size1, size2, proof)
CONSISTENCY_VECTORS = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


# ---------------------------------------------------------------------------
# Naive reference implementation, transcribed from RFC 9162 section 2.1.
# ---------------------------------------------------------------------------


def ref_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def ref_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def ref_k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(hs: list[bytes]) -> bytes:
    if not hs:
        return hashlib.sha256(b"").digest()
    if len(hs) == 1:
        return hs[0]
    k = ref_k(len(hs))
    return ref_node(ref_mth(hs[:k]), ref_mth(hs[k:]))


def ref_path(m: int, hs: list[bytes]) -> list[bytes]:
    if len(hs) == 1:
        return []
    k = ref_k(len(hs))
    if m < k:
        return ref_path(m, hs[:k]) + [ref_mth(hs[k:])]
    return ref_path(m - k, hs[k:]) + [ref_mth(hs[:k])]


def ref_subproof(m: int, hs: list[bytes], b: bool) -> list[bytes]:
    n = len(hs)
    if m == n:
        return [] if b else [ref_mth(hs)]
    k = ref_k(n)
    if m <= k:
        return ref_subproof(m, hs[:k], b) + [ref_mth(hs[k:])]
    return ref_subproof(m - k, hs[k:], False) + [ref_mth(hs[:k])]


def ref_proof(m: int, hs: list[bytes]) -> list[bytes]:
    return ref_subproof(m, hs, True)


def make_leaves(n: int, salt: bytes = b"") -> list[bytes]:
    return [ref_leaf(salt + i.to_bytes(4, "big")) for i in range(n)]


def bounded_getter(t: MemoryTree, size: int, calls: list | None = None):
    """get_node limited to the first `size` leaves, as the storage layer promises."""

    def get(level: int, index: int) -> bytes:
        assert level >= 0 and index >= 0
        assert (index + 1) << level <= size, f"node ({level},{index}) outside tree {size}"
        if calls is not None:
            calls.append((level, index))
        return t.get_node(level, index)

    return get


def vector_tree() -> MemoryTree:
    t = MemoryTree()
    for data in LEAF_INPUTS:
        t.append(data)
    return t


# ---------------------------------------------------------------------------
# Hash primitives and roots
# ---------------------------------------------------------------------------


def test_empty_root() -> None:
    assert EMPTY_ROOT.hex() == EMPTY_TREE_HASH_HEX
    assert root_hash(0, lambda level, index: pytest.fail("no read expected")) == EMPTY_ROOT
    assert root_from_leaf_hashes([]) == EMPTY_ROOT
    assert CompactRange().root() == EMPTY_ROOT
    assert MemoryTree().root() == EMPTY_ROOT


def test_hash_primitives_domain_separation() -> None:
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    a, b = bytes(32), bytes([1]) * 32
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert leaf_hash(a + b) != node_hash(a, b)


def test_vector_roots() -> None:
    t = vector_tree()
    hashes = [leaf_hash(d) for d in LEAF_INPUTS]
    for size in range(1, 9):
        expected = ROOTS[size - 1]
        assert t.root(size) == expected
        assert root_hash(size, bounded_getter(t, size)) == expected
        assert root_from_leaf_hashes(hashes[:size]) == expected
        assert ref_mth(hashes[:size]) == expected
    assert t.root(0).hex() == EMPTY_TREE_HASH_HEX


def test_vector_compact_range_roots() -> None:
    cr = CompactRange()
    for i, data in enumerate(LEAF_INPUTS):
        cr.append(leaf_hash(data))
        assert cr.size == i + 1
        assert cr.root() == ROOTS[i]


# ---------------------------------------------------------------------------
# Inclusion proofs
# ---------------------------------------------------------------------------


def inclusion_rejected(leaf: bytes, index: int, size: int, proof, root: bytes) -> bool:
    """True if verify_inclusion refuses; ValueError only allowed for bad arguments."""
    if index < 0 or size < 0 or index >= size:
        with pytest.raises(ValueError):
            verify_inclusion(leaf, index, size, proof, root)
        return True
    return verify_inclusion(leaf, index, size, proof, root) is False


def assert_inclusion_tamper_rejected(leaf: bytes, index: int, size: int, proof, root) -> None:
    """The corruption probes of transparency-dev/merkle's verifierCheck, and more."""
    probes = [
        (leaf, index - 1, size, proof, root),
        (leaf, index + 1, size, proof, root),
        (leaf, index ^ 2, size, proof, root),
        (leaf, index, size * 2, proof, root),
        (leaf, index, size // 2, proof, root),
        (ref_leaf(b"WrongLeaf"), index, size, proof, root),
        (b"WrongLeaf", index, size, proof, root),
        (leaf, index, size, proof, EMPTY_ROOT),
        (leaf, index, size, proof, SOME_HASH),
        (leaf, index, size, proof + [b""], root),
        (leaf, index, size, proof + [root], root),
        (leaf, index, size, [b""] + proof, root),
        (leaf, index, size, [root] + proof, root),
        (leaf, index, size, proof + [SOME_HASH], root),
    ]
    for i in range(len(proof)):
        flipped = bytearray(proof[i])
        flipped[0] ^= 8
        probes.append((leaf, index, size, proof[:i] + [bytes(flipped)] + proof[i + 1 :], root))
        probes.append((leaf, index, size, proof[:i] + proof[i + 1 :], root))
    if proof:
        probes.append((leaf, index, size, proof[:-1], root))
    if len(proof) > 1:
        probes.append((leaf, index, size, [proof[0], SOME_HASH] + proof[1:], root))
    flipped_leaf = bytearray(leaf)
    flipped_leaf[-1] ^= 1
    probes.append((bytes(flipped_leaf), index, size, proof, root))
    flipped_root = bytearray(root)
    flipped_root[5] ^= 0x80
    probes.append((leaf, index, size, proof, bytes(flipped_root)))
    for args in probes:
        if args[1:3] == (index, size) and args[3] == proof and args[0] == leaf and args[4] == root:
            continue  # a probe that happens to be a no-op (e.g. index ^ 2 == index) is not a tamper
        assert inclusion_rejected(*args), f"tampered proof verified: {args[1:3]}"


@pytest.mark.parametrize(("leaf1", "size", "proof_hex"), INCLUSION_VECTORS)
def test_inclusion_vectors(leaf1: int, size: int, proof_hex: list[str]) -> None:
    t = vector_tree()
    index = leaf1 - 1
    expected = [bytes.fromhex(h) for h in proof_hex]
    assert inclusion_proof(index, size, bounded_getter(t, size)) == expected
    lh = leaf_hash(LEAF_INPUTS[index])
    root = ROOTS[size - 1]
    assert verify_inclusion(lh, index, size, expected, root)
    assert_inclusion_tamper_rejected(lh, index, size, expected, root)


def test_inclusion_single_entry() -> None:
    # transparency-dev/merkle TestVerifyInclusionSingleEntry.
    h = leaf_hash(b"data")
    assert verify_inclusion(h, 0, 1, [], h)
    assert not verify_inclusion(h, 0, 1, [], b"")
    assert not verify_inclusion(b"", 0, 1, [], h)
    assert not verify_inclusion(b"", 0, 1, [], b"")


def test_inclusion_bad_arguments() -> None:
    with pytest.raises(ValueError):
        verify_inclusion(SOME_HASH, 0, 0, [], EMPTY_ROOT)
    with pytest.raises(ValueError):
        verify_inclusion(SOME_HASH, 2, 1, [], EMPTY_ROOT)
    with pytest.raises(ValueError):
        verify_inclusion(SOME_HASH, -1, 1, [], EMPTY_ROOT)
    with pytest.raises(ValueError):
        inclusion_proof_nodes(3, 3)
    with pytest.raises(ValueError):
        inclusion_proof_nodes(0, 0)
    with pytest.raises(ValueError):
        inclusion_proof_nodes(-1, 4)
    with pytest.raises(TypeError):
        inclusion_proof_nodes(True, 4)


def test_malformed_proofs_return_false() -> None:
    t = vector_tree()
    lh = leaf_hash(LEAF_INPUTS[0])
    good = t.inclusion_proof(0, 8)
    for bad in (None, "abc", [None] * 3, [b"x"] * 3, [1, 2, 3], good[:2] + [good[2][:31]]):
        assert verify_inclusion(lh, 0, 8, bad, ROOTS[7]) is False  # type: ignore[arg-type]
        assert verify_consistency(1, 8, lh, ROOTS[7], bad) is False  # type: ignore[arg-type]
    assert verify_inclusion(lh, 0, 8, tuple(good), ROOTS[7]) is True
    assert verify_inclusion(lh, 0, 8, [bytearray(p) for p in good], ROOTS[7]) is True


# ---------------------------------------------------------------------------
# Consistency proofs
# ---------------------------------------------------------------------------


def consistency_rejected(first: int, second: int, r1, r2, proof) -> bool:
    if first < 0 or second < 0 or first > second:
        with pytest.raises(ValueError):
            verify_consistency(first, second, r1, r2, proof)
        return True
    return verify_consistency(first, second, r1, r2, proof) is False


def assert_consistency_tamper_rejected(first: int, second: int, r1, r2, proof) -> None:
    """The corruption probes of transparency-dev/merkle's verifierConsistencyCheck."""
    probes = [
        (first - 1, second, r1, r2, proof),
        (first + 1, second, r1, r2, proof),
        (first ^ 2, second, r1, r2, proof),
        (first, second * 2, r1, r2, proof),
        (first, second // 2, r1, r2, proof),
        (first, second, b"WrongRoot", r2, proof),
        (first, second, r1, b"WrongRoot", proof),
        (first, second, SOME_HASH, r2, proof),
        (first, second, r1, SOME_HASH, proof),
        (first, second, r2, r1, proof),
        (first, second, r1, r2, []),
        (first, second, r1, r2, proof + [b""]),
        (first, second, r1, r2, proof + [r1]),
        (first, second, r1, r2, proof + [r2]),
        (first, second, r1, r2, [b""] + proof),
        (first, second, r1, r2, [r1] + proof),
        (first, second, r1, r2, [r2] + proof),
        (first, second, r1, r2, [proof[0]] + proof),
        (first, second, r1, r2, proof[:-1]),
    ]
    for i in range(len(proof)):
        flipped = bytearray(proof[i])
        flipped[0] ^= 16
        probes.append((first, second, r1, r2, proof[:i] + [bytes(flipped)] + proof[i + 1 :]))
        probes.append((first, second, r1, r2, proof[:i] + proof[i + 1 :]))
    for args in probes:
        if args == (first, second, r1, r2, proof):
            continue
        assert consistency_rejected(*args), f"tampered consistency proof verified: {args[:2]}"


@pytest.mark.parametrize(("first", "second", "proof_hex"), CONSISTENCY_VECTORS)
def test_consistency_vectors(first: int, second: int, proof_hex: list[str]) -> None:
    t = vector_tree()
    expected = [bytes.fromhex(h) for h in proof_hex]
    assert consistency_proof(first, second, bounded_getter(t, second)) == expected
    r1, r2 = ROOTS[first - 1], ROOTS[second - 1]
    assert verify_consistency(first, second, r1, r2, expected)
    if expected:
        assert_consistency_tamper_rejected(first, second, r1, r2, expected)


def test_consistency_edge_cases() -> None:
    # Mirrors transparency-dev/merkle TestVerifyConsistency, adapted to our
    # stricter size-0 rule (the old root must then be the empty-tree root).
    r1, r2 = ROOTS[0], ROOTS[1]
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 5, EMPTY_ROOT, ROOTS[4], [])
    assert not verify_consistency(0, 5, r1, ROOTS[4], [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, ROOTS[4], [EMPTY_ROOT])
    assert verify_consistency(1, 1, r1, r1, [])
    assert not verify_consistency(1, 1, r1, r2, [])
    assert not verify_consistency(1, 1, r1, r1, [EMPTY_ROOT])
    assert not verify_consistency(1, 2, r1, r2, [])
    with pytest.raises(ValueError):
        verify_consistency(2, 1, r1, r2, [])
    with pytest.raises(ValueError):
        verify_consistency(-1, 1, r1, r2, [])
    with pytest.raises(ValueError):
        consistency_proof_nodes(0, 4)
    with pytest.raises(ValueError):
        consistency_proof_nodes(5, 4)
    assert consistency_proof_nodes(7, 7).elements == ()


# ---------------------------------------------------------------------------
# Cost: O(log n) reads, only of nodes inside the tree.
# ---------------------------------------------------------------------------


def fake_getter(size: int, calls: list):
    """A getter for a huge virtual tree: we only care which nodes are read."""

    def get(level: int, index: int) -> bytes:
        assert level >= 0 and index >= 0
        assert (index + 1) << level <= size, f"node ({level},{index}) outside tree {size}"
        calls.append((level, index))
        return hashlib.sha256(f"{level}/{index}".encode()).digest()

    return get


@pytest.mark.parametrize("size", [2**40, 2**40 + 1, 2**40 - 1, 2**45 + 12345, 10**12 + 7])
def test_proofs_read_logarithmically_many_nodes(size: int) -> None:
    bound = 2 * size.bit_length() + 2
    for index in (0, 1, size // 3, size - 2, size - 1):
        calls: list = []
        proof = inclusion_proof(index, size, fake_getter(size, calls))
        assert len(proof) <= size.bit_length()
        assert len(calls) <= bound
        assert len(set(calls)) == len(calls)
    for first in (1, 2, 3, size // 2, size // 2 + 1, size - 1, size):
        calls = []
        consistency_proof(first, size, fake_getter(size, calls))
        assert len(calls) <= bound
    calls = []
    root_hash(size, fake_getter(size, calls))
    assert len(calls) == size.bit_count()
    calls = []
    cr = CompactRange.from_storage(size, fake_getter(size, calls))
    assert len(calls) == size.bit_count() and cr.size == size


def test_proof_plan_batch_fetch() -> None:
    t = MemoryTree(make_leaves(21))
    plan = inclusion_proof_nodes(3, 21)
    assert isinstance(plan, ProofPlan)
    fetched = {node: t.get_node(*node) for node in plan.nodes()}
    proof = plan.resolve(lambda level, index: fetched[(level, index)])
    assert proof == t.inclusion_proof(3, 21)
    assert verify_inclusion(t.leaf_hash(3), 3, 21, proof, t.root())
    # The right-edge sibling [16, 21) is ephemeral: folded from nodes (2,4) and (0,20).
    assert plan.elements[-1] == ((2, 4), (0, 20))
    assert root_nodes(21) == [(4, 0), (2, 4), (0, 20)]
    assert root_nodes(0) == []


# ---------------------------------------------------------------------------
# Property tests against the naive RFC transcription.
# ---------------------------------------------------------------------------

sizes = st.integers(min_value=1, max_value=300)
salts = st.binary(max_size=8)


@settings(max_examples=150, deadline=None)
@given(size=sizes, data=st.data(), salt=salts)
def test_inclusion_property(size: int, data: st.DataObject, salt: bytes) -> None:
    hs = make_leaves(size, salt)
    t = MemoryTree(hs)
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    root = ref_mth(hs)
    assert t.root() == root
    proof = inclusion_proof(index, size, bounded_getter(t, size))
    assert proof == ref_path(index, hs)
    assert verify_inclusion(hs[index], index, size, proof, root)
    assert_inclusion_tamper_rejected(hs[index], index, size, proof, root)
    other = data.draw(st.integers(min_value=0, max_value=size - 1), label="other")
    if hs[other] != hs[index]:
        assert not verify_inclusion(hs[other], index, size, proof, root)


@settings(max_examples=150, deadline=None)
@given(second=sizes, data=st.data(), salt=salts)
def test_consistency_property(second: int, data: st.DataObject, salt: bytes) -> None:
    hs = make_leaves(second, salt)
    t = MemoryTree(hs)
    first = data.draw(st.integers(min_value=1, max_value=second), label="first")
    r1, r2 = ref_mth(hs[:first]), ref_mth(hs)
    proof = consistency_proof(first, second, bounded_getter(t, second))
    assert proof == ref_proof(first, hs)
    assert verify_consistency(first, second, r1, r2, proof)
    if first < second:
        assert proof
        assert_consistency_tamper_rejected(first, second, r1, r2, proof)
        # A forked log: same sizes, a different leaf somewhere in the old part.
        forked = list(hs)
        pos = data.draw(st.integers(min_value=0, max_value=first - 1), label="pos")
        forked[pos] = ref_leaf(b"forked")
        assert not verify_consistency(first, second, ref_mth(forked[:first]), r2, proof)
        assert not verify_consistency(first, second, r1, ref_mth(forked), proof)


@settings(max_examples=60, deadline=None)
@given(sizes_=st.lists(sizes, min_size=2, max_size=2), data=st.data())
def test_proofs_against_intermediate_sizes(sizes_: list[int], data: st.DataObject) -> None:
    """Proofs for an older tree size are built from a larger stored tree."""
    total = max(sizes_)
    hs = make_leaves(total, b"grow")
    t = MemoryTree(hs)
    size = min(sizes_)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = t.inclusion_proof(index, size)
    assert verify_inclusion(hs[index], index, size, proof, ref_mth(hs[:size]))
    assert proof == ref_path(index, hs[:size])


def test_all_small_trees_exhaustively() -> None:
    hs = make_leaves(40, b"exhaustive")
    t = MemoryTree(hs)
    for n in range(1, 41):
        root = ref_mth(hs[:n])
        assert t.root(n) == root
        for m in range(n):
            p = t.inclusion_proof(m, n)
            assert p == ref_path(m, hs[:n])
            assert verify_inclusion(hs[m], m, n, p, root)
        for m in range(1, n + 1):
            p = t.consistency_proof(m, n)
            assert p == ref_proof(m, hs[:n])
            assert verify_consistency(m, n, ref_mth(hs[:m]), root, p)


# ---------------------------------------------------------------------------
# CompactRange and MemoryTree
# ---------------------------------------------------------------------------


def test_compact_range_appends_every_size() -> None:
    n = 300
    hs = make_leaves(n, b"compact")
    cr = CompactRange()
    seen: dict[tuple[int, int], bytes] = {}
    for i, h in enumerate(hs):
        created = cr.append(h)
        assert created[0] == (0, i, h)
        expected = [(0, i, h)]
        level = 1
        while (i + 1) % (1 << level) == 0:
            idx = (i + 1 >> level) - 1
            expected.append((level, idx, ref_mth(hs[idx << level : (idx + 1) << level])))
            level += 1
        assert created == expected
        for lvl, idx, value in created:
            assert (lvl, idx) not in seen
            seen[(lvl, idx)] = value
        assert cr.size == i + 1
        assert cr.root() == ref_mth(hs[: i + 1])
        assert len(cr.hashes) == (i + 1).bit_count()
    # Exactly the perfect subtrees fully inside [0, n) were emitted.
    perfect = {(lvl, idx) for lvl in range(n.bit_length()) for idx in range(n >> lvl)}
    assert set(seen) == perfect


def test_compact_range_from_storage_resumes_at_any_size() -> None:
    n = 200
    hs = make_leaves(n, b"resume")
    t = MemoryTree(hs)
    for size in range(0, n + 1):
        cr = CompactRange.from_storage(size, bounded_getter(t, size))
        assert cr.size == size
        assert cr.root() == ref_mth(hs[:size])
        assert cr.nodes() == root_nodes(size)
        for i in range(size, min(size + 9, n)):
            for lvl, idx, value in cr.append(hs[i]):
                assert t.get_node(lvl, idx) == value
            assert cr.root() == t.root(i + 1)


def test_compact_range_validation_and_copy() -> None:
    with pytest.raises(ValueError):
        CompactRange(3, [SOME_HASH])
    with pytest.raises(ValueError):
        CompactRange(1, [b"short"])
    cr = CompactRange()
    with pytest.raises(ValueError):
        cr.append(b"not a hash")
    cr.append(SOME_HASH)
    clone = cr.copy()
    clone.append(SOME_HASH)
    assert cr.size == 1 and clone.size == 2
    assert CompactRange(cr.size, cr.hashes).root() == cr.root()


def test_memory_tree_get_node_bounds() -> None:
    t = MemoryTree(make_leaves(5))
    assert t.get_node(2, 0) == ref_mth(make_leaves(4))
    with pytest.raises(KeyError):
        t.get_node(1, 2)  # would cover leaves [4, 6): not complete
    with pytest.raises(KeyError):
        t.get_node(3, 0)
    with pytest.raises(ValueError):
        t.root(6)
    assert t.append(b"x") == 5
    assert t.leaf_hash(5) == ref_leaf(b"x")


@settings(max_examples=100, deadline=None)
@given(size=st.integers(min_value=0, max_value=600), salt=salts)
def test_root_from_leaf_hashes_matches_rfc(size: int, salt: bytes) -> None:
    hs = make_leaves(size, salt)
    assert root_from_leaf_hashes(hs) == ref_mth(hs)


def test_root_from_leaf_hashes_large() -> None:
    n = (1 << 16) + 3
    hs = make_leaves(n, b"large")
    cr = CompactRange()
    for h in hs:
        cr.append(h)
    assert root_from_leaf_hashes(hs) == cr.root()


def test_public_api_is_documented() -> None:
    for name in tree.__all__:
        obj = getattr(tree, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert inspect.getdoc(obj), name


# ---------------------------------------------------------------------------
# ChunkedRoots: the streaming root computation that verify() uses.
# ---------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    size=st.integers(min_value=0, max_value=300),
    chunk_level=st.integers(0, 5),
    data=st.data(),
    salt=salts,
)
def test_chunked_roots_match_the_rfc_at_every_asked_size(
    size: int, chunk_level: int, data: st.DataObject, salt: bytes
) -> None:
    chunk = 1 << chunk_level
    hs = make_leaves(size, salt)
    wanted = sorted(data.draw(st.sets(st.integers(1, max(size, 1))), label="sizes")) if size else []
    stream = ChunkedRoots(chunk)
    roots: dict[int, bytes] = {}
    for start in range(0, size, chunk):
        part = hs[start : start + chunk]
        roots.update(stream.add(part, [s for s in wanted if start < s <= start + len(part)]))

    assert stream.size == size
    assert stream.root() == ref_mth(hs)
    assert roots == {s: ref_mth(hs[:s]) for s in wanted}


def test_chunked_roots_refuse_a_chunk_after_a_short_one_and_sizes_outside_the_chunk() -> None:
    hs = make_leaves(10, b"chunks")
    with pytest.raises(ValueError, match="power of two"):
        ChunkedRoots(6)
    stream = ChunkedRoots(4)
    with pytest.raises(ValueError, match="at most 4"):
        stream.add(hs[:5])
    with pytest.raises(ValueError, match="not inside"):
        stream.add(hs[:4], [5])
    stream = ChunkedRoots(4)
    stream.add(hs[:3])
    with pytest.raises(ValueError, match="must be the last"):
        stream.add(hs[3:7])


def test_perfect_levels_hold_every_perfect_node_of_memory_tree() -> None:
    hs = make_leaves(13, b"levels")
    t = MemoryTree(hs)
    levels = perfect_levels(hs)
    for level, nodes in enumerate(levels):
        assert len(nodes) == 13 >> level
        assert nodes == [t.get_node(level, i) for i in range(len(nodes))]
