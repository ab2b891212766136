"""The audit log as a Merkle log: its leaves, its checkpoints, and the checks that name tampering.

Leaf i of the tree is the i-th row in sequence order; its data are the bytes the row's hash
chain link already hashes (`journal.chain.framed(prev, fields)`), so the Merkle log covers
exactly what the chain covers and adds nothing to the row. A checkpoint is (size, the seq of
the last row covered, root, time, frontier): the frontier (the roots of the perfect subtrees
the size decomposes into) lets the log resume appending without rehashing its past, and lets a
check say which stretch of rows no longer hashes as checkpointed.

Everything here is a pure function of rows and checkpoints, so `zkrisk audit verify` checks a
file without trusting the code that wrote it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

from .audit_merkle import Frontier, MerkleTree, frontier_ranges, leaf_hash, verify_consistency
from .journal.chain import Field, framed


def row_leaf(prev: str, fields: Sequence[Field]) -> bytes:
    """The Merkle leaf hash of a row: leaf_hash of its framed chain bytes."""
    return leaf_hash(framed(prev, fields))


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A checkpoint row: the first `size` rows (up to seq `last_seq`) hash to `root`."""

    size: int
    last_seq: int
    root: bytes
    at_ns: int
    frontier: bytes


@dataclass(frozen=True, slots=True)
class Anchored:
    """A checkpoint as anchored on-chain (an event or the latest in storage)."""

    size: int
    root: bytes
    timestamp: int
    block: int | None = None


class AuditTree:
    """The log's rows as a Merkle tree: `seqs[i]` is the seq of leaf i."""

    def __init__(self, seqs: Sequence[int], leaves: Sequence[bytes]) -> None:
        self.seqs = list(seqs)
        self.tree = MerkleTree(list(leaves))

    @property
    def size(self) -> int:
        return len(self.seqs)

    def index_of(self, seq: int) -> int | None:
        """The leaf index of the row with `seq`, or None when there is none."""
        i = bisect_right(self.seqs, seq) - 1
        return i if i >= 0 and self.seqs[i] == seq else None

    def root(self, size: int) -> bytes:
        return self.tree.root(size)

    def stretch(self, lo: int, hi: int) -> str:
        """Rows [lo, hi) by seq, for messages."""
        a, b = self.seqs[lo], self.seqs[hi - 1]
        return f"seq {a}" if a == b else f"seq {a}..{b}"


@dataclass
class CheckpointReport:
    """What checking the checkpoints found: how many, the latest, each problem named."""

    checked: int = 0
    anchored: int = 0
    latest: Checkpoint | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _where_it_differs(tree: AuditTree, c: Checkpoint) -> str:
    """Which rows no longer hash as checkpointed: the first subtree of the checkpoint's
    frontier the log does not reproduce."""
    stored = Frontier.from_bytes(c.size, c.frontier) if len(c.frontier) == 32 * c.size.bit_count()\
        else None  # fmt: skip
    if stored is None or stored.root() != c.root:
        return "the checkpoint row itself was altered (its root does not match its frontier)"
    for (lo, hi), node in zip(frontier_ranges(c.size), stored.nodes, strict=True):
        if tree.tree.subtree(lo, hi) != node:
            return f"an entry among {tree.stretch(lo, hi)} was changed, reordered or replaced"
    return "the entries hash as checkpointed, but not to its root"  # unreachable by construction


def _covers(tree: AuditTree, size: int, last_seq: int, what: str) -> str | None:
    """Why the log cannot be the one `what` checkpointed at `size` up to `last_seq`, if so."""
    if size > tree.size:
        return (f"{what} covers {size} entries but the log holds {tree.size}: entries were "
                f"dropped from its end (truncated)")  # fmt: skip
    held = bisect_right(tree.seqs, last_seq)
    if held < size:
        return (f"{what} covered {size} entries up to seq {last_seq}, the log holds {held} "
                f"up to it: {size - held} dropped")  # fmt: skip
    if held > size:
        return (f"{what} covered {size} entries up to seq {last_seq}, the log holds {held} "
                f"up to it: {held - size} inserted")  # fmt: skip
    return None


def check_checkpoints(tree: AuditTree, checkpoints: Sequence[Checkpoint],
                      anchored: Sequence[Anchored] = ()) -> CheckpointReport:  # fmt: skip
    """Every stored checkpoint's root recomputed from the log, successive checkpoints checked
    by a consistency proof, and every anchored checkpoint compared with both."""
    report = CheckpointReport(checked=len(checkpoints), anchored=len(anchored))
    report.latest = checkpoints[-1] if checkpoints else None
    problems = report.problems
    before: Checkpoint | None = None
    for c in checkpoints:
        what = f"checkpoint at size {c.size}"
        if c.size < 1 or (before is not None and c.size <= before.size):
            problems.append(f"{what} does not follow size {before.size if before else 0}")
        elif (why := _covers(tree, c.size, c.last_seq, what)) is not None:
            problems.append(why)
        elif (mine := tree.root(c.size)) != c.root:
            problems.append(f"forked history: {what} has root {c.root.hex()[:16]}…, which no "
                            f"prefix of the log reproduces (its first {c.size} entries hash to "
                            f"{mine.hex()[:16]}…): {_where_it_differs(tree, c)}")  # fmt: skip
        elif before is not None and before.size <= tree.size:
            proof = tree.tree.consistency_proof(before.size, c.size)
            if not verify_consistency(before.size, c.size, before.root, c.root, proof):
                problems.append(f"{what} is not consistent with the checkpoint at size "
                                f"{before.size}: the log was rewritten between them")  # fmt: skip
        before = c
    local = {c.size: c for c in checkpoints}
    prior: Anchored | None = None
    for a in anchored:
        what = f"the anchored checkpoint at size {a.size}" + (
            f" (block {a.block})" if a.block is not None else "")  # fmt: skip
        mine_c = local.get(a.size)
        if mine_c is not None and mine_c.root != a.root:
            problems.append(f"{what} has root {a.root.hex()[:16]}…, the local one "
                            f"{mine_c.root.hex()[:16]}…: the checkpoint table was rewritten")  # fmt: skip
        if a.size > tree.size:
            problems.append(f"{what} covers {a.size} entries but the log holds {tree.size}: "
                            "entries were dropped from its end (truncated)")  # fmt: skip
        elif (mine := tree.root(a.size)) != a.root:
            problems.append(f"forked history: {what} has root {a.root.hex()[:16]}…, which no "
                            f"prefix of the log reproduces (its first {a.size} entries hash to "
                            f"{mine.hex()[:16]}…)")  # fmt: skip
        elif prior is not None and prior.size <= tree.size:
            proof = tree.tree.consistency_proof(prior.size, a.size)
            if not verify_consistency(prior.size, a.size, prior.root, a.root, proof):
                problems.append(f"{what} is not consistent with the anchored checkpoint at "
                                f"size {prior.size}")  # fmt: skip
        prior = a
    return report
