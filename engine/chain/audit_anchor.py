"""The audit log's anchor on-chain: deploy `AuditAnchor`, write checkpoints, read them back.

`AnchorSender` is what the risk service runs: the log hands it each checkpoint as it is written
and a thread of its own sends the newest one, so an append never waits for a block. The contract
takes a checkpoint only with an RFC 6962 consistency proof from the latest anchored one, and at
most `maxStep` entries past it: the sender reads the latest from the chain before each send, asks
the log for the proof between the two (`AuditLog.consistency_proof`), and when the step is too
long (after an outage) anchors the log's intermediate checkpoints first. A send that fails is
logged and superseded by the next checkpoint.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from web3.contract import Contract
from web3.types import TxReceipt

from ..audit_merkle import verify_consistency
from ..audit_proofs import Checkpoint
from ..paths import repo_root
from .client import ChainClient
from .solidity import CompiledContract, compile_sources

if TYPE_CHECKING:
    from ..audit import AuditLog

log = logging.getLogger(__name__)

MAX_STEP = 1_000_000
"""The most entries one checkpoint may add on a deployed anchor (the default `maxStep`)."""


@dataclass(frozen=True, slots=True)
class AnchoredCheckpoint:
    """A checkpoint as the contract holds it (storage) or emitted it (an event)."""

    size: int
    root: bytes
    timestamp: int
    block: int | None = None  # the event's block; None when read from storage


def compile_audit_anchor() -> CompiledContract:
    src = repo_root() / "contracts" / "src"
    units = {"src/AuditAnchor.sol": src / "AuditAnchor.sol"}
    return compile_sources(units, base=src.parent, cache=repo_root() / "build" / "solc")[
        "AuditAnchor"
    ]


class AuditAnchor:
    """The Python side of contracts/src/AuditAnchor.sol."""

    def __init__(self, client: ChainClient, contract: Contract) -> None:
        self.client = client
        self.contract = contract

    @property
    def address(self) -> str:
        return str(self.contract.address)

    @classmethod
    def deploy(cls, client: ChainClient, *, writer: str, admin: str | None = None,
               max_step: int = MAX_STEP) -> AuditAnchor:  # fmt: skip
        """Deploy with `writer` (the service's anchor key), `admin` (default: the deployer) and
        `max_step` (the most entries one checkpoint may add)."""
        compiled = compile_audit_anchor()
        contract = client.deploy(compiled, admin or client.account.address, writer, max_step)
        return cls(client, contract)

    @classmethod
    def at(cls, client: ChainClient, address: str) -> AuditAnchor:
        compiled = compile_audit_anchor()
        client.errors.register(compiled.abi)
        checksum = client.w3.to_checksum_address(address)
        if not client.w3.eth.get_code(checksum):
            raise ValueError(f"no contract at {address}: pass the AuditAnchor's address")
        return cls(client, client.w3.eth.contract(address=checksum, abi=compiled.abi))

    @classmethod
    def reader(cls, rpc_url: str, address: str) -> AuditAnchor:
        """The anchor at `address` for reading only (calls and events: no key is used)."""
        client = ChainClient.connect(rpc_url, "0x" + secrets.token_hex(32))
        return cls.at(client, address)

    def checkpoint(self, size: int, root: bytes, proof: Sequence[bytes] = ()) -> TxReceipt:
        """Anchor (size, root) with the consistency proof from the latest anchored checkpoint
        (none for the first): a mined transaction (TransactionReverted names a refusal)."""
        return self.client.transact(self.contract.functions.checkpoint(size, root, list(proof)))

    def max_step(self) -> int:
        """The most entries one checkpoint may add to the latest."""
        return int(self.client.call(self.contract.functions.maxStep()))

    def latest(self) -> AnchoredCheckpoint:
        size, root, stamp = self.client.call(self.contract.functions.latest())
        return AnchoredCheckpoint(int(size), bytes(root), int(stamp))

    def history(self, from_block: int = 0) -> list[AnchoredCheckpoint]:
        """Every anchored checkpoint, oldest first, from the contract's events."""
        events = self.contract.events.Checkpointed.get_logs(from_block=from_block)
        return [AnchoredCheckpoint(int(e.args.size), bytes(e.args.root), int(e.args.timestamp),
                                   int(e.blockNumber)) for e in events]  # fmt: skip


class AnchorSender:
    """Sends the newest pending checkpoint from its own thread; `close` sends what is left."""

    def __init__(self, anchor: AuditAnchor,
                 on_anchored: Callable[[int, str, int], None] | None = None) -> None:  # fmt: skip
        self.anchor = anchor
        self.on_anchored = on_anchored
        """Called with (size, tx hash, block) once a checkpoint is mined (the log records it)."""
        self.log: AuditLog | None = None
        """The log whose checkpoints are sent: it proves each one consistent with the latest
        anchored (`attach` sets it; without it only the first checkpoint can be sent)."""
        self._max_step: int | None = None
        self._pending: tuple[int, bytes] | None = None
        self._wake = threading.Condition()
        self._stop = False
        self.sent = 0
        """Checkpoints anchored so far."""
        self._thread = threading.Thread(target=self._run, name="zkrisk-anchor", daemon=True)
        self._thread.start()

    def attach(self, audit: AuditLog) -> None:
        """Send `audit`'s checkpoints: prove them from its rows and record each anchoring in it."""
        self.log = audit
        self.on_anchored = audit.record_anchor

    def submit_checkpoint(self, checkpoint: Checkpoint) -> None:
        """`submit` a checkpoint as the audit log hands it over (its `on_checkpoint`)."""
        self.submit(checkpoint.size, checkpoint.root)

    def submit(self, size: int, root: bytes) -> None:
        """Queue (size, root); a checkpoint not yet sent is superseded by a newer one."""
        with self._wake:
            self._pending = (size, root)
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._pending is None and not self._stop:
                    self._wake.wait()
                if self._pending is None:
                    return
                size, root = self._pending
                self._pending = None
            try:
                self._send(size, root)
            except Exception:  # the next checkpoint supersedes it; the log is the evidence
                log.exception("could not anchor the audit checkpoint at size %d", size)

    def _send(self, size: int, root: bytes) -> None:
        """Anchor (size, root), through the log's checkpoints in between if the step from the
        latest anchored one is longer than the contract takes."""
        while (latest := self.anchor.latest()).size != size or latest.root != root:
            if latest.size >= size:
                raise RuntimeError(
                    f"the AuditAnchor already holds size {latest.size} (root "
                    f"{latest.root.hex()[:16]}…), not this log's checkpoint at size {size}: "
                    "another writer anchored it, or the log was restored from an older copy")  # fmt: skip
            step, step_root = self._next_step(latest.size, size, root)
            proof: list[bytes] = []
            if latest.size > 0:
                if self.log is None:
                    raise RuntimeError("no audit log attached to prove the checkpoint from the "
                                       f"anchored size {latest.size}: call attach(log)")  # fmt: skip
                proof = self.log.consistency_proof(latest.size, step)
                if not verify_consistency(latest.size, step, latest.root, step_root, proof):
                    raise RuntimeError(
                        f"the checkpoint anchored at size {latest.size} (root "
                        f"{latest.root.hex()[:16]}…) is not one of this log's: the anchored "
                        "history forked (zkrisk audit verify --rpc --anchor names it); revoke "
                        "the writer key and anchor to a new AuditAnchor")  # fmt: skip
            receipt = self.anchor.checkpoint(step, step_root, proof)
            self.sent += 1
            if self.on_anchored is not None:
                self.on_anchored(step, receipt["transactionHash"].hex(), receipt["blockNumber"])

    def _next_step(self, anchored: int, size: int, root: bytes) -> tuple[int, bytes]:
        if self._max_step is None:
            self._max_step = self.anchor.max_step()
        if size - anchored <= self._max_step:
            return size, root
        reach = anchored + self._max_step
        steps = [] if self.log is None else [c for c in self.log.checkpoints()
                                             if anchored < c.size <= reach]  # fmt: skip
        if not steps:
            raise RuntimeError(f"the checkpoint at size {size} is more than {self._max_step} "
                               f"entries past the anchored size {anchored}, and the log has "
                               "no checkpoint between them to anchor first")  # fmt: skip
        return steps[-1].size, steps[-1].root

    def close(self, timeout: float = 30.0) -> None:
        """Send the pending checkpoint, if any, then stop."""
        with self._wake:
            self._stop = True
            self._wake.notify()
        self._thread.join(timeout)
