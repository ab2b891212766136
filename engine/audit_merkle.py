"""The audit log's Merkle tree: RFC 6962 / RFC 9162 (Certificate Transparency) hashing and proofs.

Leaf and node hashes are domain-separated so a leaf can never pass for a node (RFC 6962 §2.1):
leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right), and a tree of n > 1
leaves splits at k, the largest power of two smaller than n. The log keeps only its
`Frontier` (the roots of the perfect subtrees its size decomposes into: at most log2(n)+1
hashes), so an append costs one leaf hash and on average one node hash. Proofs are generated
from the leaf hashes (`MerkleTree`, RFC 6962 §2.1.1 PATH and §2.1.2 PROOF) and verified with
the algorithms of RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency), which need only
the sizes, the roots and the proof.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

HASH_BYTES = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}): the root of the empty tree (RFC 6962 §2.1)."""


class ProofError(ValueError):
    """A proof was asked for sizes or an index the tree cannot have."""


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """k: the largest power of two smaller than n (n > 1), where RFC 6962 splits D[n]."""
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """The compact range [0, size): roots of the perfect subtrees of sizes given by the bits
    of `size`, largest first. O(1) amortised node hashes per append, O(log n) for the root."""

    __slots__ = ("nodes", "size")

    def __init__(self, size: int = 0, nodes: Sequence[bytes] = ()) -> None:
        if len(nodes) != size.bit_count():
            raise ValueError(f"a frontier of size {size} holds {size.bit_count()} hashes, "
                             f"not {len(nodes)}")  # fmt: skip
        self.size = size
        self.nodes = list(nodes)

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash: merge equal-sized subtrees, as carrying in binary addition."""
        nodes, size, node = self.nodes, self.size, leaf
        while size & 1:
            node = node_hash(nodes.pop(), node)
            size >>= 1
        nodes.append(node)
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """`append` each leaf hash in turn (the loop and node hash inlined: a batch's leaves)."""
        nodes, size, sha256 = self.nodes, self.size, hashlib.sha256
        for node in leaves:
            carry = size
            while carry & 1:
                node = sha256(b"\x01" + nodes.pop() + node).digest()  # node_hash
                carry >>= 1
            nodes.append(node)
            size += 1
        self.size = size

    def root(self) -> bytes:
        """MTH of the leaves so far: the subtrees folded from the right (smallest first)."""
        if not self.nodes:
            return EMPTY_ROOT
        root = self.nodes[-1]
        for node in reversed(self.nodes[:-1]):
            root = node_hash(node, root)
        return root

    def to_bytes(self) -> bytes:
        return b"".join(self.nodes)

    @classmethod
    def from_bytes(cls, size: int, blob: bytes) -> Frontier:
        nodes = [blob[i : i + HASH_BYTES] for i in range(0, len(blob), HASH_BYTES)]
        return cls(size, nodes)


def root_of(leaves: Iterable[bytes]) -> bytes:
    """MTH of leaf hashes, in one pass."""
    frontier = Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    return frontier.root()


class MerkleTree:
    """Leaf hashes in order, with the hashes of perfect aligned subtrees memoised, so many
    roots and proofs over one log cost little more than one pass."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.leaves = leaves
        self._perfect: dict[tuple[int, int], bytes] = {}

    def _mth(self, lo: int, hi: int) -> bytes:
        n = hi - lo
        if n == 1:
            return self.leaves[lo]
        perfect = n & (n - 1) == 0
        if perfect and (lo, n) in self._perfect:
            return self._perfect[(lo, n)]
        k = split(n)
        node = node_hash(self._mth(lo, lo + k), self._mth(lo + k, hi))
        if perfect:
            self._perfect[(lo, n)] = node
        return node

    def subtree(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) for 0 <= lo < hi <= the leaves held."""
        if not 0 <= lo < hi <= len(self.leaves):
            raise ProofError(f"no subtree [{lo}, {hi}) in a tree of {len(self.leaves)} leaves")
        return self._mth(lo, hi)

    def root(self, size: int | None = None) -> bytes:
        """MTH(D[size]) of the first `size` leaves (all by default)."""
        n = len(self.leaves) if size is None else size
        self._check_size(n)
        return EMPTY_ROOT if n == 0 else self._mth(0, n)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[size]) (RFC 6962 §2.1.1): sibling hashes from the leaf up."""
        self._check_size(size)
        if not 0 <= index < size:
            raise ProofError(f"leaf index {index} is not in a tree of {size} leaves")
        path: list[bytes] = []
        lo, hi = 0, size
        while hi - lo > 1:  # walk down; siblings are collected top-first, returned bottom-up
            k = split(hi - lo)
            if index < lo + k:
                path.append(self._mth(lo + k, hi))
                hi = lo + k
            else:
                path.append(self._mth(lo, lo + k))
                lo += k
        return path[::-1]

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """PROOF(size1, D[size2]) (RFC 6962 §2.1.2); empty when size1 is 0 or size2."""
        self._check_size(size2)
        return consistency_path(size1, size2, self._mth)

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= len(self.leaves):
            raise ProofError(f"tree size {size} is beyond the {len(self.leaves)} leaves held")


def consistency_path(size1: int, size2: int, mth: Callable[[int, int], bytes]) -> list[bytes]:
    """PROOF(size1, D[size2]) (RFC 6962 §2.1.2) with `mth(lo, hi)` = MTH(D[lo:hi]). It asks
    only for subtrees of the first tree's frontier (`frontier_ranges(size1)`) and subtrees of
    the leaves after it: what `consistency_proof_from` holds."""
    if not 0 <= size1 <= size2:
        raise ProofError(f"no consistency proof from size {size1} to size {size2}: "
                         "the first size must be between 0 and the second")  # fmt: skip
    if size1 in (0, size2):
        return []
    proof: list[bytes] = []
    lo, hi, m, whole = 0, size2, size1, True
    while m != hi - lo:  # SUBPROOF(m, D[lo:hi], whole), collected top-first
        k = split(hi - lo)
        if m <= k:
            proof.append(mth(lo + k, hi))
            hi = lo + k
        else:
            proof.append(mth(lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        proof.append(mth(lo, hi))
    return proof[::-1]


def frontier_ranges(size: int) -> list[tuple[int, int]]:
    """The leaf ranges of a frontier of `size`: its perfect subtrees, largest first."""
    out, lo = [], 0
    for bit in reversed(range(size.bit_length())):
        if size >> bit & 1:
            out.append((lo, lo + (1 << bit)))
            lo += 1 << bit
    return out


def consistency_proof_from(size1: int, frontier: Sequence[bytes],
                           leaves: Sequence[bytes]) -> list[bytes]:  # fmt: skip
    """PROOF(size1, D[size1 + len(leaves)]) from the first tree's frontier and the leaf hashes
    appended since: what a log that keeps checkpointed frontiers needs, not its whole past."""
    held = dict(zip(frontier_ranges(size1), frontier, strict=True))
    after = MerkleTree(leaves)

    def mth(lo: int, hi: int) -> bytes:
        if lo >= size1:
            return after.subtree(lo - size1, hi - size1)
        if (lo, hi) in held:
            return held[(lo, hi)]
        raise ProofError(f"subtree [{lo}, {hi}) is neither in the frontier of size {size1} "
                         "nor after it")  # unreachable: see `consistency_path`  # fmt: skip

    return consistency_path(size1, size1 + len(leaves), mth)


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root an inclusion proof leads to (RFC 9162 §2.1.3.2); ProofError if it cannot
    belong to a tree of `size` leaves (index out of range, wrong length)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of {size} leaves")
    _check_hashes(proof)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes],
                     root: bytes) -> bool:  # fmt: skip
    """Whether `leaf` is leaf `index` of the tree of `size` leaves whose root is `root`."""
    try:
        return root_from_inclusion(index, size, leaf, proof) == root
    except ProofError:
        return False


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes,
                       proof: Sequence[bytes]) -> bool:  # fmt: skip
    """Whether the tree of `size2` leaves with `root2` extends the one of `size1` with `root1`
    (RFC 9162 §2.1.4.2): no leaf of the first was changed, dropped or reordered."""
    if not 0 <= size1 <= size2:
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if size1 == 0:
        return not proof
    try:
        _check_hashes(proof)
    except ProofError:
        return False
    if not proof:
        return False
    path = [root1, *proof] if size1 & (size1 - 1) == 0 else list(proof)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == root1 and sr == root2 and sn == 0


def _check_hashes(proof: Sequence[bytes]) -> None:
    for i, p in enumerate(proof):
        if len(p) != HASH_BYTES:
            raise ProofError(f"proof hash {i} is {len(p)} bytes, not {HASH_BYTES}")
