"""The audit log's anchor on-chain: deploy `AuditAnchor`, write checkpoints, read them back.

`AnchorSender` is what the risk service runs: the log hands it each checkpoint as it is written
and a thread of its own sends the newest one, so an append never waits for a block. A send that
fails is logged and superseded by the next checkpoint (the contract only needs sizes to grow;
any two anchored checkpoints are checked against each other by a consistency proof).
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass

from web3.contract import Contract
from web3.types import TxReceipt

from ..audit_proofs import Checkpoint
from ..paths import repo_root
from .client import ChainClient
from .solidity import CompiledContract, compile_sources

log = logging.getLogger(__name__)


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
    def deploy(cls, client: ChainClient, *, writer: str, admin: str | None = None) -> AuditAnchor:
        """Deploy with `writer` (the service's anchor key) and `admin` (default: the deployer)."""
        compiled = compile_audit_anchor()
        contract = client.deploy(compiled, admin or client.account.address, writer)
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

    def checkpoint(self, size: int, root: bytes) -> TxReceipt:
        """Anchor (size, root): a mined transaction (TransactionReverted names a refusal)."""
        return self.client.transact(self.contract.functions.checkpoint(size, root))

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
        self._pending: tuple[int, bytes] | None = None
        self._wake = threading.Condition()
        self._stop = False
        self.sent = 0
        """Checkpoints anchored so far."""
        self._thread = threading.Thread(target=self._run, name="zkrisk-anchor", daemon=True)
        self._thread.start()

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
                receipt = self.anchor.checkpoint(size, root)
            except Exception:  # the next checkpoint supersedes it; the log is the evidence
                log.exception("could not anchor the audit checkpoint at size %d", size)
                continue
            self.sent += 1
            if self.on_anchored is not None:
                self.on_anchored(size, receipt["transactionHash"].hex(), receipt["blockNumber"])

    def close(self, timeout: float = 30.0) -> None:
        """Send the pending checkpoint, if any, then stop."""
        with self._wake:
            self._stop = True
            self._wake.notify()
        self._thread.join(timeout)
