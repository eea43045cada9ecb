"""RFC 6962 / RFC 9162 Merkle tree over the event log, kept incrementally.

Every stored record has a dense position 0..n-1 and a 32-byte leaf hash
(``leaf_hash(encode_leaf(...))``). The log's tamper evidence is the RFC 6962
Merkle Tree Hash (MTH) over those leaf hashes, published in signed checkpoints.

Node addressing
---------------
A *perfect* node at ``(level k, index i)`` is the root of the perfect subtree
covering leaves ``[i * 2**k, (i + 1) * 2**k)``; level 0 nodes are the leaf
hashes themselves (index = position). A perfect node never changes once its
last leaf exists, so the storage layer can write it once and keep it forever.
Nodes on the right edge of a tree whose size is not a power of two are not
perfect; they are never stored and are recomputed from the perfect nodes that
compose them.

Storage contract (one database round trip per proof)
----------------------------------------------------
The storage layer keeps every leaf (level 0) and every node returned by
``Frontier.append`` (level >= 1). To build a proof it:

1. asks this module which nodes it needs: ``inclusion_proof_nodes(index, size)``
   or ``consistency_proof_nodes(size1, size2)`` (pure, O(log n) node IDs);
2. fetches them in one batch into any ``Mapping[(level, index)] -> hash``;
3. calls ``inclusion_proof(index, size, nodes)`` or
   ``consistency_proof(size1, size2, nodes)`` to assemble the RFC proof.

The same mapping shape serves ``tree_root(size, nodes)`` (the root at any past
size) and ``Frontier.from_nodes``. A missing node raises ``KeyError``.

Verification follows RFC 9162 sections 2.1.3.2 and 2.1.4.2 literally and agrees
with the transparency-dev/merkle test vectors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "LEAF_ENCODING_TAG",
    "Frontier",
    "MerkleTree",
    "NodeID",
    "ProofError",
    "consistency_proof",
    "consistency_proof_nodes",
    "encode_leaf",
    "inclusion_proof",
    "inclusion_proof_nodes",
    "leaf_hash",
    "node_hash",
    "root_of",
    "subtree_root",
    "subtree_root_nodes",
    "tree_root",
    "tree_root_nodes",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()
LEAF_ENCODING_TAG = b"casusregie-leaf-v1"

NodeID = tuple[int, int]
"""``(level, index)`` of a perfect subtree node; see the module docstring."""

_U64_LIMIT = 1 << 64
_FRONTIER_TAG = b"casusregie-frontier-v1"


class ProofError(ValueError):
    """A Merkle proof, or the claim it is checked against, does not hold."""


# --- hashing -------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || data).

    The 0x00 prefix keeps leaves and interior nodes in separate domains, so a
    node can never be passed off as a leaf (second-preimage protection).
    """
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _u64(name: str, value: int) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not 0 <= value < _U64_LIMIT:
        raise ValueError(f"{name} must fit in an unsigned 64-bit integer, got {value}")
    return value.to_bytes(8, "big")


def _length_prefixed(name: str, value: bytes | str) -> bytes:
    if isinstance(value, str):
        value = value.encode("utf-8")
    elif not isinstance(value, bytes):
        raise TypeError(f"{name} must be str or bytes, not {type(value).__name__}")
    return len(value).to_bytes(8, "big") + value


def encode_leaf(
    position: int,
    originator_id: str,
    version: int,
    topic: str,
    key_id: str,
    ciphertext_sha256: bytes,
) -> bytes:
    """Canonical byte encoding of one stored record's identity (the leaf data).

    The leaf hash is ``leaf_hash(encode_leaf(...))``. Binding the position
    makes a record's place in the log part of what is signed, so records cannot
    be reordered; binding the ciphertext digest (not the plaintext) lets an
    auditor check the tree without ever seeing personal data.

    Exact encoding, concatenated in this order, with no separators::

        b"casusregie-leaf-v1"                    18 ASCII bytes, not prefixed
        U64(position)
        LP(UTF-8(originator_id))
        U64(version)
        LP(UTF-8(topic))
        LP(UTF-8(key_id))
        LP(ciphertext_sha256)                    always 32 bytes of content

    where ``U64(x)`` is x as 8-byte big-endian unsigned, and ``LP(b)`` is
    ``U64(len(b)) || b``. Strings are encoded as UTF-8 exactly as given (no
    Unicode normalisation). Every variable-length field carries its length, so
    two different records can never encode to the same bytes.
    """
    if not isinstance(ciphertext_sha256, bytes) or len(ciphertext_sha256) != HASH_SIZE:
        raise ValueError("ciphertext_sha256 must be a 32-byte SHA-256 digest")
    for name, text in (("originator_id", originator_id), ("topic", topic), ("key_id", key_id)):
        if not isinstance(text, str):
            raise TypeError(f"{name} must be a str, not {type(text).__name__}")
    return b"".join(
        (
            LEAF_ENCODING_TAG,
            _u64("position", position),
            _length_prefixed("originator_id", originator_id),
            _u64("version", version),
            _length_prefixed("topic", topic),
            _length_prefixed("key_id", key_id),
            _length_prefixed("ciphertext_sha256", ciphertext_sha256),
        )
    )


# --- small helpers ---------------------------------------------------------


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be non-negative, got {value}")


def _check_hash(name: str, value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ValueError(f"{name} must be a {HASH_SIZE}-byte hash")


def _fold_right(hashes: Sequence[bytes]) -> bytes:
    """Combine perfect subtree roots, largest (leftmost) first, into one MTH.

    MTH splits at the largest power of two below n, so a range made of perfect
    pieces P1 > P2 > ... > Pm hashes as node(P1, node(P2, ... Pm)).
    """
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """RFC 6962 MTH over already-hashed leaves; EMPTY_ROOT for no leaves.

    Streams the leaves through a stack of perfect subtree roots (the frontier),
    so it runs in O(n) time and O(log n) memory with no recursion.
    """
    stack: list[bytes] = []
    for count, leaf in enumerate(leaf_hashes, 1):
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"leaf {count - 1} is not a {HASH_SIZE}-byte hash")
        # Appending leaf number `count` completes one subtree per trailing
        # zero bit of `count`: merge that many times.
        node, carry = leaf, count
        while not carry & 1:
            node = node_hash(stack.pop(), node)
            carry >>= 1
        stack.append(node)
    if not stack:
        return EMPTY_ROOT
    return _fold_right(stack)


# --- node addressing ---------------------------------------------------------


def subtree_root_nodes(start: int, end: int) -> list[NodeID]:
    """The perfect nodes whose fold is MTH(leaves[start:end]), largest first.

    One node per set bit of ``end - start``. Requires ``start < end`` and
    ``start`` aligned to the largest piece, which holds for every range the
    RFC 6962 recursion produces.
    """
    _check_count("start", start)
    _check_count("end", end)
    if start >= end:
        raise ValueError(f"empty or inverted range [{start}, {end})")
    width = end - start
    top = width.bit_length() - 1
    if start & ((1 << top) - 1):
        raise ValueError(f"range [{start}, {end}) is not aligned to its largest subtree")
    ids: list[NodeID] = []
    pos = start
    for level in range(top, -1, -1):
        if width >> level & 1:
            ids.append((level, pos >> level))
            pos += 1 << level
    return ids


def _lookup(nodes: Mapping[NodeID, bytes], ids: Sequence[NodeID]) -> list[bytes]:
    found: list[bytes] = []
    for node_id in ids:
        try:
            found.append(nodes[node_id])
        except KeyError:
            raise KeyError(f"Merkle node (level, index) = {node_id} is missing") from None
    return found


def subtree_root(start: int, end: int, nodes: Mapping[NodeID, bytes]) -> bytes:
    """MTH(leaves[start:end]) computed from stored perfect nodes."""
    return _fold_right(_lookup(nodes, subtree_root_nodes(start, end)))


def tree_root_nodes(size: int) -> list[NodeID]:
    """The perfect nodes that make up the tree of ``size`` leaves (its frontier)."""
    _check_count("size", size)
    return subtree_root_nodes(0, size) if size else []


def tree_root(size: int, nodes: Mapping[NodeID, bytes]) -> bytes:
    """The root hash of the tree's first ``size`` leaves, from stored nodes."""
    ids = tree_root_nodes(size)
    return _fold_right(_lookup(nodes, ids)) if ids else EMPTY_ROOT


def _path_plan(index: int, level: int, size: int) -> list[list[NodeID]]:
    """Sibling hashes from node (level, index) up to the root of a ``size`` tree.

    Each entry is one proof element, given as the perfect nodes to fold into
    it: a single node, except for a right sibling that sticks out past the
    tree's right edge, which is composed from several.
    """
    plan: list[list[NodeID]] = []
    last = size - 1
    # The walk ends at the root, whose level is bit_length(size - 1).
    while last >> level:
        sibling_start = (index ^ 1) << level
        # A right sibling starting at or past `size` does not exist: RFC 6962
        # promotes the lone left child, so no hash is added at this level.
        if sibling_start < size:
            sibling_end = min(sibling_start + (1 << level), size)
            plan.append(subtree_root_nodes(sibling_start, sibling_end))
        index >>= 1
        level += 1
    return plan


def _inclusion_plan(index: int, size: int) -> list[list[NodeID]]:
    _check_count("index", index)
    _check_count("size", size)
    if index >= size:
        raise ValueError(f"leaf index {index} is not below tree size {size}")
    return _path_plan(index, 0, size)


def _consistency_plan(size1: int, size2: int) -> list[list[NodeID]]:
    _check_count("size1", size1)
    _check_count("size2", size2)
    if size1 > size2:
        raise ValueError(f"size1 {size1} is larger than size2 {size2}")
    if size1 == size2:
        return []
    if size1 == 0:
        raise ValueError("a consistency proof from the empty tree is meaningless")
    # RFC 6962 SUBPROOF descends until it meets the largest perfect subtree
    # ending exactly at size1; the proof is that node (unless it is the whole
    # old tree, i.e. size1 is a power of two) plus its path to the new root.
    level = (size1 & -size1).bit_length() - 1
    index = (size1 >> level) - 1
    seed = [[(level, index)]] if index else []
    return seed + _path_plan(index, level, size2)


def inclusion_proof_nodes(index: int, size: int) -> list[NodeID]:
    """Perfect nodes needed for the inclusion proof of ``index`` in a ``size`` tree."""
    return [node_id for group in _inclusion_plan(index, size) for node_id in group]


def consistency_proof_nodes(size1: int, size2: int) -> list[NodeID]:
    """Perfect nodes needed for the consistency proof from ``size1`` to ``size2``."""
    return [node_id for group in _consistency_plan(size1, size2) for node_id in group]


def _assemble(plan: list[list[NodeID]], nodes: Mapping[NodeID, bytes]) -> list[bytes]:
    return [_fold_right(_lookup(nodes, group)) for group in plan]


def inclusion_proof(index: int, size: int, nodes: Mapping[NodeID, bytes]) -> list[bytes]:
    """RFC 6962 PATH(index, D[size]) built from the nodes listed by ``inclusion_proof_nodes``."""
    return _assemble(_inclusion_plan(index, size), nodes)


def consistency_proof(size1: int, size2: int, nodes: Mapping[NodeID, bytes]) -> list[bytes]:
    """RFC 6962 PROOF(size1, D[size2]) from the nodes listed by ``consistency_proof_nodes``.

    Empty when the sizes are equal; ``size1 == 0 < size2`` is refused because
    RFC 9162 defines no proof from the empty tree.
    """
    return _assemble(_consistency_plan(size1, size2), nodes)


# --- verification (RFC 9162) ---------------------------------------------------


def _check_proof_elements(proof: Sequence[bytes]) -> None:
    for i, element in enumerate(proof):
        if not isinstance(element, bytes) or len(element) != HASH_SIZE:
            raise ProofError(f"proof element {i} is not a {HASH_SIZE}-byte hash")


def _check_non_negative(name: str, value: int) -> None:
    if value < 0:
        raise ProofError(f"{name} must be non-negative, got {value}")


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf`` is at ``index`` in the tree of ``size`` leaves with ``root``.

    RFC 9162 section 2.1.3.2, plus upfront length checks for clearer errors.
    Note that the tree size is authenticated by the signed checkpoint that
    carries ``root``, not by the proof. Raises ``ProofError`` on any failure.
    """
    _check_non_negative("index", index)
    _check_non_negative("size", size)
    if index >= size:
        raise ProofError(f"leaf index {index} is not below tree size {size}")
    if not isinstance(leaf, bytes) or len(leaf) != HASH_SIZE:
        raise ProofError(f"leaf hash is not a {HASH_SIZE}-byte hash")
    _check_proof_elements(proof)
    expected = len(_inclusion_plan(index, size))
    if len(proof) != expected:
        raise ProofError(f"wrong inclusion proof length {len(proof)}, expected {expected}")

    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # On the right edge: skip the levels where RFC 6962 promotes a
            # lone left child without hashing.
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the path to the root")
    if r != root:
        raise ProofError("inclusion proof does not lead to the expected root hash")


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]) -> None:
    """Check that the ``size1`` tree with ``root1`` is a prefix of the ``size2`` tree.

    RFC 9162 section 2.1.4.2 for ``0 < size1 < size2``. Outside that range:
    equal sizes need an empty proof and equal roots (and for size 0 the root
    must be the empty-tree hash); ``size1 == 0 < size2`` is rejected, as in
    transparency-dev/merkle, because nothing can be proven from an empty tree.
    Raises ``ProofError`` on any failure.
    """
    _check_non_negative("size1", size1)
    _check_non_negative("size2", size2)
    if size1 > size2:
        raise ProofError(f"size1 {size1} is larger than size2 {size2}: logs only grow")
    if size1 == size2:
        if proof:
            raise ProofError("sizes are equal, so the consistency proof must be empty")
        if size1 == 0 and not root1 == root2 == EMPTY_ROOT:
            raise ProofError("the root of an empty tree must be SHA-256 of the empty string")
        if root1 != root2:
            raise ProofError("sizes are equal but the root hashes differ")
        return
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree is meaningless")
    if not proof:
        raise ProofError("consistency proof is empty")
    _check_proof_elements(proof)
    expected = len(_consistency_plan(size1, size2))
    if len(proof) != expected:
        raise ProofError(f"wrong consistency proof length {len(proof)}, expected {expected}")

    path = list(proof)
    if size1 & (size1 - 1) == 0:
        # The old tree is one perfect subtree, so its root is the seed itself.
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than the path to the root")
    if fr != root1:
        raise ProofError("consistency proof does not reproduce the first root hash")
    if sr != root2:
        raise ProofError("consistency proof does not reproduce the second root hash")


# --- incremental state -----------------------------------------------------------


class Frontier:
    """The right edge of the tree: one perfect subtree root per set bit of ``size``.

    This is all the state needed to append leaves and compute the current root,
    O(log n) hashes, so the storage layer keeps it in a single row and updates
    it in the same transaction that inserts a record.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        _check_count("size", size)
        hashes = list(hashes)
        if len(hashes) != size.bit_count():
            raise ValueError(f"a frontier of size {size} has {size.bit_count()} hashes, got {len(hashes)}")
        for i, h in enumerate(hashes):
            _check_hash(f"frontier hash {i}", h)
        self._size = size
        self._hashes = hashes

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """Perfect subtree roots, largest (leftmost) subtree first."""
        return tuple(self._hashes)

    def node_ids(self) -> list[NodeID]:
        """The ``(level, index)`` of each hash in ``hashes``, in the same order."""
        return tree_root_nodes(self._size)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf hash; return the perfect nodes it completed, lowest first.

        Each is ``(level, index, hash)`` with level >= 1: exactly the nodes the
        storage layer must persist, besides the leaf itself, for later proofs.
        """
        _check_hash("leaf", leaf)
        new_size = self._size + 1
        completed: list[tuple[int, int, bytes]] = []
        node, carry, level = leaf, self._size, 0
        # Each trailing one bit of the old size is a pending left sibling that
        # the new leaf's subtree now completes.
        while carry & 1:
            node = node_hash(self._hashes.pop(), node)
            carry >>= 1
            level += 1
            completed.append((level, (new_size >> level) - 1, node))
        self._hashes.append(node)
        self._size = new_size
        return completed

    def root(self) -> bytes:
        """Root hash of the tree of ``size`` leaves (EMPTY_ROOT when empty)."""
        return _fold_right(self._hashes) if self._hashes else EMPTY_ROOT

    def copy(self) -> Frontier:
        """An independent copy, e.g. to compute a candidate state before committing."""
        return Frontier(self._size, self._hashes)

    def to_bytes(self) -> bytes:
        """Serialise as ``b"casusregie-frontier-v1" || U64(size) || hashes``."""
        return _FRONTIER_TAG + _u64("size", self._size) + b"".join(self._hashes)

    @classmethod
    def from_bytes(cls, data: bytes) -> Frontier:
        """Inverse of ``to_bytes``; raises ValueError on anything malformed."""
        header = len(_FRONTIER_TAG) + 8
        if len(data) < header or not data.startswith(_FRONTIER_TAG):
            raise ValueError("not a serialised casusregie frontier")
        size = int.from_bytes(data[len(_FRONTIER_TAG) : header], "big")
        body = data[header:]
        if len(body) != size.bit_count() * HASH_SIZE:
            raise ValueError(f"serialised frontier of size {size} has the wrong length")
        hashes = [body[i : i + HASH_SIZE] for i in range(0, len(body), HASH_SIZE)]
        return cls(size, hashes)

    @classmethod
    def from_nodes(cls, size: int, nodes: Mapping[NodeID, bytes]) -> Frontier:
        """Rebuild the frontier at ``size`` from stored nodes (see ``tree_root_nodes``)."""
        return cls(size, _lookup(nodes, tree_root_nodes(size)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frontier):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Frontier(size={self._size}, root={self.root().hex()})"


class _LevelNodes(Mapping[NodeID, bytes]):
    """Read-only ``(level, index) -> hash`` view over per-level lists."""

    def __init__(self, levels: list[list[bytes]]) -> None:
        self._levels = levels

    def __getitem__(self, key: NodeID) -> bytes:
        level, index = key
        if 0 <= level < len(self._levels) and 0 <= index < len(self._levels[level]):
            return self._levels[level][index]
        raise KeyError(key)

    def __iter__(self) -> Iterator[NodeID]:
        for level, row in enumerate(self._levels):
            for index in range(len(row)):
                yield (level, index)

    def __len__(self) -> int:
        return sum(len(row) for row in self._levels)


class MerkleTree:
    """In-memory tree for tests and offline tools.

    It stores exactly what the database stores (leaves plus the nodes returned
    by ``Frontier.append``) and answers through the same node-addressing
    functions, so using it exercises the production code path.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        self._frontier = Frontier()
        self.extend(leaf_hashes)

    @classmethod
    def from_entries(cls, entries: Iterable[bytes]) -> MerkleTree:
        """Build from raw leaf data, hashing each entry with ``leaf_hash``."""
        return cls(leaf_hash(entry) for entry in entries)

    @property
    def size(self) -> int:
        return self._frontier.size

    @property
    def nodes(self) -> Mapping[NodeID, bytes]:
        """All stored nodes: leaves at level 0, completed perfect nodes above."""
        return _LevelNodes(self._levels)

    @property
    def frontier(self) -> Frontier:
        return self._frontier.copy()

    def append(self, leaf: bytes) -> int:
        """Append one leaf hash and return its position."""
        position = self._frontier.size
        completed = self._frontier.append(leaf)
        self._levels[0].append(leaf)
        for level, index, digest in completed:
            if level == len(self._levels):
                self._levels.append([])
            if index != len(self._levels[level]):
                raise AssertionError("perfect nodes must complete in index order")
            self._levels[level].append(digest)
        return position

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        for leaf in leaf_hashes:
            self.append(leaf)

    def leaf(self, index: int) -> bytes:
        return self._levels[0][index]

    def _size_or_current(self, size: int | None) -> int:
        if size is None:
            return self.size
        _check_count("size", size)
        if size > self.size:
            raise ValueError(f"tree has only {self.size} leaves, asked for size {size}")
        return size

    def root(self, size: int | None = None) -> bytes:
        """Root hash at ``size`` (default: current size)."""
        return tree_root(self._size_or_current(size), self.nodes)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(index, self._size_or_current(size), self.nodes)

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        return consistency_proof(size1, self._size_or_current(size2), self.nodes)


class _CountingNodes(Mapping[NodeID, bytes]):
    """Counts lookups, to show that a proof touches O(log n) stored nodes."""

    def __init__(self, inner: Mapping[NodeID, bytes]) -> None:
        self.inner = inner
        self.lookups = 0

    def __getitem__(self, key: NodeID) -> bytes:
        self.lookups += 1
        return self.inner[key]

    def __iter__(self) -> Iterator[NodeID]:
        return iter(self.inner)

    def __len__(self) -> int:
        return len(self.inner)


def _demo_proof_cost(leaf_count: int = 1_000_000, proofs: int = 2_000) -> None:
    """Print proof cost on a large tree: lookups stay near log2(n), time stays flat."""
    import time

    started = time.perf_counter()
    tree = MerkleTree(leaf_hash(i.to_bytes(8, "big")) for i in range(leaf_count))
    print(f"built {leaf_count} leaves in {time.perf_counter() - started:.1f}s")
    root = tree.root()
    counting = _CountingNodes(tree.nodes)
    step = max(1, leaf_count // proofs)
    started = time.perf_counter()
    worst = 0
    for index in range(0, leaf_count, step):
        before = counting.lookups
        proof = inclusion_proof(index, leaf_count, counting)
        worst = max(worst, counting.lookups - before)
        verify_inclusion(index, leaf_count, tree.leaf(index), proof, root)
    elapsed = time.perf_counter() - started
    done = len(range(0, leaf_count, step))
    print(
        f"{done} inclusion proofs built and verified: {elapsed / done * 1e6:.0f} us each, "
        f"at most {worst} node lookups (log2 n = {leaf_count.bit_length()})"
    )
    before = counting.lookups
    old_size = leaf_count // 3
    consistency_proof(old_size, leaf_count, counting)
    print(f"consistency proof {old_size} -> {leaf_count}: {counting.lookups - before} lookups")


if __name__ == "__main__":
    _demo_proof_cost()
