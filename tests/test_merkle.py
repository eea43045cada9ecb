"""RFC 6962 Merkle tree: conformance vectors, a plain recursive reference, tampering."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casusregie.privacy_audit.merkle import (
    EMPTY_ROOT,
    Frontier,
    MerkleTree,
    ProofError,
    consistency_proof,
    consistency_proof_nodes,
    encode_leaf,
    inclusion_proof,
    inclusion_proof_nodes,
    leaf_hash,
    node_hash,
    root_of,
    subtree_root,
    subtree_root_nodes,
    tree_root,
    tree_root_nodes,
    verify_consistency,
    verify_inclusion,
)

# --- conformance vectors (transparency-dev/merkle testdata) -------------------------


def _vectors_dir() -> Path:
    override = os.environ.get("REGIE_VECTORS_DIR")
    if override:
        return Path(override)
    # A copy of the shared vectors travels with the repository (tests/vectors/rfc6962), so a
    # clean checkout anywhere can run them; the workplace's ../shared copy is preferred when present.
    shared = Path(__file__).resolve().parents[1].parent / "shared" / "vectors" / "rfc6962"
    return shared if (shared / "inclusion.json").is_file() else Path(__file__).resolve().parent / "vectors" / "rfc6962"


VECTORS = _vectors_dir()
VECTORS_MISSING = (
    f"RFC 6962 test vectors not found in {VECTORS}: expected inclusion.json, "
    "consistency.json and roots.json there (set REGIE_VECTORS_DIR to override)"
)


def _load(name: str) -> list | dict | None:
    path = VECTORS / name
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _vector_params(name: str) -> list:
    # A missing folder must fail loudly, not skip: collect one failing case.
    entries = _load(name)
    if entries is None:
        return [pytest.param(None, id=f"{name}-missing")]
    return [pytest.param(entry, id=entry["file"]) for entry in entries]


def _require(entry: dict | None) -> dict:
    if entry is None:
        pytest.fail(VECTORS_MISSING, pytrace=False)
    return entry


def _b64(text: str) -> bytes:
    return base64.b64decode(text)


def _proof(entry: dict) -> list[bytes]:
    return [_b64(p) for p in entry["proof"] or []]  # JSON null means an empty proof


def _reference_leaves() -> list[bytes]:
    roots = _load("roots.json")
    if roots is None:
        pytest.fail(VECTORS_MISSING, pytrace=False)
    return [leaf_hash(bytes.fromhex(data)) for data in roots["leaf_inputs_hex"]]


@pytest.mark.parametrize("name", ["inclusion.json", "consistency.json", "roots.json"])
def test_vector_files_present(name):
    if not (VECTORS / name).is_file():
        pytest.fail(VECTORS_MISSING, pytrace=False)


@pytest.mark.parametrize("name", ["inclusion.json", "consistency.json"])
def test_vectors_hold_both_outcomes(name):
    entries = _load(name)
    if entries is None:
        pytest.fail(VECTORS_MISSING, pytrace=False)
    outcomes = [entry["wantErr"] for entry in entries]
    assert outcomes.count(False) > 0
    assert outcomes.count(True) > 0


def test_roots_vector_every_size():
    roots = _load("roots.json")
    if roots is None:
        pytest.fail(VECTORS_MISSING, pytrace=False)
    leaves = _reference_leaves()
    expected = [bytes.fromhex(h) for h in roots["root_by_tree_size_hex"]]
    assert len(expected) == 9
    assert expected[0] == EMPTY_ROOT
    tree = MerkleTree.from_entries(bytes.fromhex(d) for d in roots["leaf_inputs_hex"])
    frontier = Frontier()
    for size, want in enumerate(expected):
        assert root_of(leaves[:size]) == want
        assert tree.root(size) == want
        assert frontier.root() == want
        if size < len(leaves):
            frontier.append(leaves[size])


@pytest.mark.parametrize("entry", _vector_params("inclusion.json"))
def test_inclusion_vector(entry):
    e = _require(entry)
    args = (e["leafIdx"], e["treeSize"], _b64(e["leafHash"]), _proof(e), _b64(e["root"]))
    if e["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("entry", _vector_params("consistency.json"))
def test_consistency_vector(entry):
    e = _require(entry)
    args = (e["size1"], e["size2"], _b64(e["root1"]), _b64(e["root2"]), _proof(e))
    if e["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_prover_reproduces_vector_proofs():
    """Our prover must emit exactly the happy-path proofs of the 8-leaf reference tree."""
    inclusion, consistency = _load("inclusion.json"), _load("consistency.json")
    if inclusion is None or consistency is None:
        pytest.fail(VECTORS_MISSING, pytrace=False)
    leaves = _reference_leaves()
    tree = MerkleTree(leaves)
    checked = 0
    for e in inclusion:
        index, size = e["leafIdx"], e["treeSize"]
        if not e["wantErr"] and size <= len(leaves) and _b64(e["leafHash"]) == leaves[index]:
            assert tree.inclusion_proof(index, size) == _proof(e), e["file"]
            checked += 1
    for e in consistency:
        size1, size2 = e["size1"], e["size2"]
        usable = not e["wantErr"] and size1 > 0 and size2 <= len(leaves)
        if usable and _b64(e["root1"]) == tree.root(size1):
            assert tree.consistency_proof(size1, size2) == _proof(e), e["file"]
            checked += 1
    assert checked >= 8


# --- a plain recursive reference of RFC 6962 section 2.1 --------------------------


def _plain_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly smaller than n (n >= 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class Reference:
    """MTH, PATH and PROOF exactly as RFC 6962 writes them, over already-hashed leaves.

    Ranges are index pairs and MTH results are memoised, only so that checking
    every proof of a 300-leaf tree stays fast; the recursion itself is the RFC's.
    """

    def __init__(self, leaves: list[bytes]) -> None:
        self.leaves = leaves
        self._memo: dict[tuple[int, int], bytes] = {}

    def mth(self, lo: int, hi: int) -> bytes:
        n = hi - lo
        if n == 0:
            return hashlib.sha256(b"").digest()
        if n == 1:
            return self.leaves[lo]
        if (lo, hi) not in self._memo:
            k = _split(n)
            self._memo[lo, hi] = _plain_node(self.mth(lo, lo + k), self.mth(lo + k, hi))
        return self._memo[lo, hi]

    def path(self, m: int, lo: int, hi: int) -> list[bytes]:
        n = hi - lo
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return [*self.path(m, lo, lo + k), self.mth(lo + k, hi)]
        return [*self.path(m - k, lo + k, hi), self.mth(lo, lo + k)]

    def subproof(self, m: int, lo: int, hi: int, complete: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if complete else [self.mth(lo, hi)]
        k = _split(n)
        if m <= k:
            return [*self.subproof(m, lo, lo + k, complete), self.mth(lo + k, hi)]
        return [*self.subproof(m - k, lo + k, hi, False), self.mth(lo, lo + k)]

    def proof(self, m: int, n: int) -> list[bytes]:
        return self.subproof(m, 0, n, True)


def _make_leaves(size: int, salt: bytes) -> list[bytes]:
    # Distinct pseudo-random leaf hashes; a salt keeps the search space wide
    # while letting Hypothesis shrink the size.
    return [leaf_hash(salt + i.to_bytes(4, "big")) for i in range(size)]


leaf_lists = st.builds(_make_leaves, st.integers(1, 300), st.binary(min_size=1, max_size=8))
HEAVY = settings(max_examples=60, deadline=None)


def _flip(data: bytes, bit: int) -> bytes:
    mutable = bytearray(data)
    mutable[bit // 8] ^= 1 << (bit % 8)
    return bytes(mutable)


@HEAVY
@given(leaf_lists)
def test_incremental_roots_match_reference(leaves):
    ref = Reference(leaves)
    frontier, tree = Frontier(), MerkleTree()
    for count, leaf in enumerate(leaves, 1):
        frontier.append(leaf)
        tree.append(leaf)
        assert frontier.root() == ref.mth(0, count)
    n = len(leaves)
    assert root_of(leaves) == ref.mth(0, n) == tree.root()
    for size in range(n + 1):
        assert tree.root(size) == ref.mth(0, size)


@HEAVY
@given(leaf_lists)
def test_frontier_reports_each_perfect_node_once(leaves):
    ref = Reference(leaves)
    frontier = Frontier()
    reported: list[tuple[int, int, bytes]] = []
    for leaf in leaves:
        reported.extend(frontier.append(leaf))
    n = len(leaves)
    expected = {
        (level, index): ref.mth(index << level, (index + 1) << level)
        for level in range(1, n.bit_length())
        for index in range(n >> level)
    }
    assert len(reported) == len(expected)
    assert {(level, index): h for level, index, h in reported} == expected


@HEAVY
@given(leaf_lists, st.data())
def test_frontier_round_trips_and_resumes(leaves, data):
    tree = MerkleTree(leaves)
    cut = data.draw(st.integers(0, len(leaves)), label="cut")
    frontier = Frontier()
    for leaf in leaves[:cut]:
        frontier.append(leaf)
    restored = Frontier.from_bytes(frontier.to_bytes())
    assert restored == frontier
    assert restored.size == cut
    assert restored.hashes == frontier.hashes
    assert Frontier.from_nodes(cut, tree.nodes) == frontier
    assert list(zip(frontier.node_ids(), frontier.hashes, strict=True)) == [
        (node_id, tree.nodes[node_id]) for node_id in tree_root_nodes(cut)
    ]
    snapshot = restored.copy()
    for leaf in leaves[cut:]:
        restored.append(leaf)
    assert restored.root() == tree.root()
    assert snapshot == frontier  # the copy did not move


@HEAVY
@given(leaf_lists, st.data())
def test_inclusion_proofs_match_reference_and_verify(leaves, data):
    ref, tree = Reference(leaves), MerkleTree(leaves)
    n = len(leaves)
    older = data.draw(st.integers(1, n), label="older size")
    for size in {n, older}:
        root = ref.mth(0, size)
        for index in range(size):
            proof = inclusion_proof(index, size, tree.nodes)
            assert proof == ref.path(index, 0, size)
            assert len(inclusion_proof_nodes(index, size)) <= 2 * size.bit_length()
            verify_inclusion(index, size, leaves[index], proof, root)


@HEAVY
@given(leaf_lists, st.data())
def test_consistency_proofs_match_reference_and_verify(leaves, data):
    ref, tree = Reference(leaves), MerkleTree(leaves)
    n = len(leaves)
    older = data.draw(st.integers(1, n), label="older size")
    for size2 in {n, older}:
        for size1 in range(1, size2 + 1):
            proof = consistency_proof(size1, size2, tree.nodes)
            assert proof == ref.proof(size1, size2)
            assert len(consistency_proof_nodes(size1, size2)) <= 3 * size2.bit_length()
            verify_consistency(size1, size2, ref.mth(0, size1), ref.mth(0, size2), proof)


@HEAVY
@given(leaf_lists, st.data())
def test_tampered_inclusion_is_rejected(leaves, data):
    ref, tree = Reference(leaves), MerkleTree(leaves)
    n = len(leaves)
    size = data.draw(st.integers(1, n), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    leaf, root = leaves[index], ref.mth(0, size)
    proof = tree.inclusion_proof(index, size)
    verify_inclusion(index, size, leaf, proof, root)

    if proof:
        position = data.draw(st.integers(0, len(proof) - 1), label="element")
        bit = data.draw(st.integers(0, 255), label="bit")
        broken = [*proof[:position], _flip(proof[position], bit), *proof[position + 1 :]]
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaf, broken, root)
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaf, proof[:-1], root)
    bit = data.draw(st.integers(0, 255), label="leaf/root bit")
    with pytest.raises(ProofError):
        verify_inclusion(index, size, _flip(leaf, bit), proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(index, size, leaf, proof, _flip(root, bit))
    with pytest.raises(ProofError):
        verify_inclusion(index, size, leaf, [*proof, root], root)

    wrong_index = data.draw(st.integers(0, size).filter(lambda i: i != index), label="wrong index")
    with pytest.raises(ProofError):
        verify_inclusion(wrong_index, size, leaf, proof, root)
    # The size is authenticated by the checkpoint carrying the root, so a wrong
    # size is tested against the genuine root for that size.
    if n > index + 1:
        other = data.draw(st.integers(index + 1, n).filter(lambda s: s != size), label="size'")
        with pytest.raises(ProofError):
            verify_inclusion(index, other, leaf, proof, ref.mth(0, other))


@HEAVY
@given(leaf_lists.filter(lambda leaves: len(leaves) >= 2), st.data())
def test_tampered_consistency_is_rejected(leaves, data):
    ref, tree = Reference(leaves), MerkleTree(leaves)
    n = len(leaves)
    size2 = data.draw(st.integers(2, n), label="size2")
    size1 = data.draw(st.integers(1, size2 - 1), label="size1")
    root1, root2 = ref.mth(0, size1), ref.mth(0, size2)
    proof = tree.consistency_proof(size1, size2)
    verify_consistency(size1, size2, root1, root2, proof)

    position = data.draw(st.integers(0, len(proof) - 1), label="element")
    bit = data.draw(st.integers(0, 255), label="bit")
    broken = [*proof[:position], _flip(proof[position], bit), *proof[position + 1 :]]
    for bad_proof in (broken, proof[:-1], proof[1:], [*proof, root2], [root1, *proof]):
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, root1, root2, bad_proof)
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, _flip(root1, bit), root2, proof)
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, root1, _flip(root2, bit), proof)
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, root2, root1, proof)

    # As for inclusion, a wrong size is tested against the genuine root for it.
    other1 = data.draw(st.integers(0, size2 - 1).filter(lambda s: s != size1), label="size1'")
    with pytest.raises(ProofError):
        verify_consistency(other1, size2, ref.mth(0, other1), root2, proof)
    if n > size1 + 1:
        other2 = data.draw(st.integers(size1 + 1, n).filter(lambda s: s != size2), label="size2'")
        with pytest.raises(ProofError):
            verify_consistency(size1, other2, root1, ref.mth(0, other2), proof)


# --- edges and argument checking --------------------------------------------------


def test_hash_primitives():
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    left, right = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert root_of([]) == EMPTY_ROOT
    assert tree_root(0, {}) == EMPTY_ROOT


def test_verify_inclusion_messages():
    leaf = leaf_hash(b"x")
    with pytest.raises(ProofError, match="not below tree size"):
        verify_inclusion(1, 1, leaf, [], leaf)
    with pytest.raises(ProofError, match="non-negative"):
        verify_inclusion(-1, 1, leaf, [], leaf)
    with pytest.raises(ProofError, match="wrong inclusion proof length"):
        verify_inclusion(0, 1, leaf, [leaf], leaf)
    with pytest.raises(ProofError, match="32-byte"):
        verify_inclusion(0, 2, leaf, [b"short"], leaf)
    with pytest.raises(ProofError, match="expected root"):
        verify_inclusion(0, 1, leaf, [], EMPTY_ROOT)


def test_verify_consistency_edge_cases():
    root = leaf_hash(b"x")
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(5, 5, root, root, [])
    with pytest.raises(ProofError, match="empty string"):
        verify_consistency(0, 0, root, root, [])
    with pytest.raises(ProofError, match="logs only grow"):
        verify_consistency(2, 1, root, root, [])
    with pytest.raises(ProofError, match="must be empty"):
        verify_consistency(1, 1, root, root, [root])
    with pytest.raises(ProofError, match="root hashes differ"):
        verify_consistency(1, 1, root, EMPTY_ROOT, [])
    with pytest.raises(ProofError, match="empty tree is meaningless"):
        verify_consistency(0, 3, EMPTY_ROOT, root, [])
    with pytest.raises(ProofError, match="proof is empty"):
        verify_consistency(1, 3, root, root, [])


def test_proof_builders_refuse_impossible_requests():
    with pytest.raises(ValueError, match="not below"):
        inclusion_proof_nodes(5, 5)
    with pytest.raises(ValueError, match="empty tree"):
        consistency_proof_nodes(0, 3)
    with pytest.raises(ValueError, match="larger"):
        consistency_proof_nodes(4, 3)
    assert consistency_proof_nodes(3, 3) == []
    assert consistency_proof_nodes(0, 0) == []
    with pytest.raises(ValueError, match="only 3 leaves"):
        MerkleTree(_make_leaves(3, b"s")).root(4)


def test_missing_node_is_reported():
    tree = MerkleTree(_make_leaves(5, b"s"))
    nodes = dict(tree.nodes)
    del nodes[2, 0]
    with pytest.raises(KeyError, match=r"\(2, 0\)"):
        inclusion_proof(4, 5, nodes)


def test_subtree_addressing():
    assert subtree_root_nodes(4, 7) == [(1, 2), (0, 6)]
    assert subtree_root_nodes(0, 13) == [(3, 0), (2, 2), (0, 12)]
    assert tree_root_nodes(0) == []
    with pytest.raises(ValueError, match="aligned"):
        subtree_root_nodes(1, 3)
    with pytest.raises(ValueError, match="empty"):
        subtree_root_nodes(3, 3)
    leaves = _make_leaves(13, b"s")
    tree = MerkleTree(leaves)
    assert subtree_root(8, 13, tree.nodes) == root_of(leaves[8:13])


def test_proof_node_count_is_logarithmic():
    """Pure planning, so sizes far beyond any real log cost nothing."""
    size = (1 << 40) + 123_457
    for index in (0, 1, size // 3, size - 2, size - 1):
        assert len(inclusion_proof_nodes(index, size)) <= 2 * size.bit_length()
    for size1 in (1, 2, size // 3, size - 1):
        assert len(consistency_proof_nodes(size1, size)) <= 3 * size.bit_length()


def test_frontier_validation():
    with pytest.raises(ValueError, match="has 2 hashes"):
        Frontier(3, [leaf_hash(b"a")])
    with pytest.raises(ValueError, match="32-byte"):
        Frontier(1, [b"short"])
    with pytest.raises(ValueError, match="32-byte"):
        Frontier().append(b"short")
    good = Frontier(1, [leaf_hash(b"a")]).to_bytes()
    for bad in (b"", good[:-1], good + b"\x00", b"x" + good[1:]):
        with pytest.raises(ValueError, match="frontier"):
            Frontier.from_bytes(bad)


# --- leaf encoding ------------------------------------------------------------------


def test_encode_leaf_exact_bytes():
    digest = hashlib.sha256(b"ciphertext").digest()
    encoded = encode_leaf(7, "hh-42", 3, "case.opened", "key-1", digest)

    def lp(b: bytes) -> bytes:
        return struct.pack(">Q", len(b)) + b

    expected = (
        b"casusregie-leaf-v1"
        + struct.pack(">Q", 7)
        + lp(b"hh-42")
        + struct.pack(">Q", 3)
        + lp(b"case.opened")
        + lp(b"key-1")
        + lp(digest)
    )
    assert encoded == expected


def test_encode_leaf_is_unambiguous_and_strict():
    digest = bytes(32)
    assert encode_leaf(0, "ab", 1, "c", "k", digest) != encode_leaf(0, "a", 1, "bc", "k", digest)
    # No Unicode normalisation: composed and decomposed forms stay distinct.
    assert encode_leaf(0, "\u00e9", 1, "", "", digest) != encode_leaf(0, "e\u0301", 1, "", "", digest)
    with pytest.raises(ValueError, match="32-byte"):
        encode_leaf(0, "a", 1, "t", "k", bytes(31))
    with pytest.raises(ValueError, match="64-bit"):
        encode_leaf(-1, "a", 1, "t", "k", digest)
    with pytest.raises(ValueError, match="64-bit"):
        encode_leaf(0, "a", 1 << 64, "t", "k", digest)
    with pytest.raises(TypeError):
        encode_leaf(0, b"a", 1, "t", "k", digest)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        encode_leaf(True, "a", 1, "t", "k", digest)


@given(
    st.tuples(st.integers(0, 2**64 - 1), st.text(), st.integers(0, 2**64 - 1), st.text()),
    st.tuples(st.integers(0, 2**64 - 1), st.text(), st.integers(0, 2**64 - 1), st.text()),
)
def test_encode_leaf_is_injective(a, b):
    digest = bytes(range(32))
    try:
        enc_a = encode_leaf(a[0], a[1], a[2], a[3], "k", digest)
        enc_b = encode_leaf(b[0], b[1], b[2], b[3], "k", digest)
    except UnicodeEncodeError:
        return  # lone surrogates are not encodable text
    assert (enc_a == enc_b) == (a == b)
