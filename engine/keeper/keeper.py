"""The liquidation keeper: watch oracle rounds, snapshot, re-evaluate the books it can see, prove
HF < 1 and liquidate; or liquidate without a proof an account whose last proof is too old.

One `tick()` is one polling round:

1. settle what was sent before (receipts of pending transactions, from the SQLite store);
2. read every listed feed's latest round; when one changed since the latest snapshot, take a
   snapshot (permissionless) so proofs can use the new prices;
3. when the latest snapshot changed (or the keeper just started), re-evaluate every book:
   skip accounts with nothing to seize, in cooldown or with a transaction pending; liquidate
   through the stale-proof path when the vault says the account's proof is too old; else ask
   the engine whether HF < 1 and, if so, prove it and liquidate.

`run()` repeats ticks until stopped; an RPC failure (node down, timeout) is logged, counted and
retried with exponential backoff, and nothing is sent twice: a liquidation is recorded with its
signed bytes before it is broadcast, keyed by (account, vault nonce).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from eth_typing import HexStr
from eth_utils.address import to_checksum_address
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import TimeExhausted, TransactionNotFound
from web3.types import TxReceipt

from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.backends import ProvingBackend

from ..chain.client import TransactionReverted
from ..chain.vault import ProofMismatch
from ..chain.vault_statement import StatementDoesNotHold
from ..models import Asset
from ..statements.binding import Action
from .books import BookFile
from .logs import JsonLog
from .metrics import KeeperMetrics
from .proving import prove_action
from .store import PendingStore, PendingTx
from .tx import build_signed, take_snapshot
from .vault_access import CheckedVaultClient

Path_ = Literal["PROOF", "STALE_PROOF"]


@dataclass(frozen=True)
class KeeperSettings:
    """How the keeper polls and retries."""

    poll_interval: float = 0.25
    """Seconds between ticks."""
    backoff_initial: float = 0.2
    """First wait after an RPC error; doubles per consecutive error."""
    backoff_max: float = 10.0
    """Longest wait between retries."""
    receipt_timeout: float = 30.0
    """How long to wait for a liquidation's receipt before leaving it pending."""
    take_snapshots: bool = True
    """Take a snapshot when a feed round changes (else wait for someone else's)."""


@dataclass(frozen=True)
class Liquidation:
    """A liquidation the keeper saw mined."""

    account: str
    path: Path_
    snapshot_id: int
    tx_hash: str
    gas_used: int
    block: int
    prove_seconds: float | None
    mined_at: float  # time.perf_counter()


@dataclass
class Keeper:
    """Watches one vault for the books it holds (see the module docstring)."""

    vault: CheckedVaultClient
    feeds: Sequence[Contract]
    artifacts: CircuitArtifacts
    assets: Sequence[Asset]
    books: list[BookFile]
    backend: ProvingBackend
    store: PendingStore
    metrics: KeeperMetrics = field(default_factory=KeeperMetrics)
    log: JsonLog = field(default_factory=JsonLog)
    settings: KeeperSettings = field(default_factory=KeeperSettings)
    on_liquidation: Callable[[Liquidation], None] | None = None
    _rounds: tuple[int, ...] | None = None
    _evaluated_snapshot: int | None = None
    _snapshot_seen_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ------------------------------------------------------------------ loop

    def run(self, stop: threading.Event, *, max_ticks: int | None = None) -> None:
        """Tick until `stop` is set; RPC errors back off exponentially, anything else too (the
        keeper must not die), each counted in zkrisk_keeper_errors{kind}."""
        self.log("started", keeper=self.vault.account, vault=self.vault.address,
                 accounts=[b.portfolio.account for b in self.books], backend=self.backend.name)  # fmt: skip
        backoff, ticks = self.settings.backoff_initial, 0
        while not stop.is_set() and (max_ticks is None or ticks < max_ticks):
            try:
                self.tick()
            except Exception as exc:  # the loop survives everything; the log says what
                kind = "rpc" if _is_rpc_error(exc) else "unexpected"
                self.metrics.errors.labels(kind=kind).inc()
                self.log("error", level="warning", kind=kind, error=f"{type(exc).__name__}: {exc}",
                         retry_in=round(backoff, 2))  # fmt: skip
                stop.wait(backoff)
                backoff = min(backoff * 2, self.settings.backoff_max)
                continue
            ticks += 1
            backoff = self.settings.backoff_initial
            stop.wait(self.settings.poll_interval)
        self.log("stopped", ticks=ticks)

    @property
    def seen(self) -> tuple[tuple[int, ...] | None, int | None]:
        """(feed round ids, snapshot id) the keeper has last evaluated; for waiting on it."""
        return self._rounds, self._evaluated_snapshot

    def add_book(self, book: BookFile) -> None:
        """Watch one more account (re-evaluated on the next tick)."""
        with self._lock:
            self.books.append(book)
            self._evaluated_snapshot = None

    def tick(self) -> list[Liquidation]:
        """One polling round (see the module docstring); returns the liquidations it saw mined."""
        done = self.settle_pending()
        snapshot_id = self._watch_oracle()
        with self._lock:
            fresh = snapshot_id != self._evaluated_snapshot
            books = list(self.books) if fresh else []
        for book in books:
            outcome = self._evaluate(book, snapshot_id)
            if outcome is not None:
                done.append(outcome)
        self._evaluated_snapshot = snapshot_id
        self.metrics.ticks.inc()
        return done

    # ------------------------------------------------------------------ oracle

    def _feed_rounds(self) -> tuple[tuple[int, int], ...]:
        """(roundId, updatedAt) of every listed feed."""
        rounds = []
        for feed in self.feeds:
            round_id, _answer, _started, updated_at, _answered = (
                feed.functions.latestRoundData().call()
            )
            rounds.append((int(round_id), int(updated_at)))
        return tuple(rounds)

    def _watch_oracle(self) -> int:
        """Take a snapshot when a feed moved since the latest one; the latest snapshot id."""
        rounds = self._feed_rounds()
        latest = self.vault.latest_snapshot_id()
        ids = tuple(r for r, _ in rounds)
        if self._rounds is None:
            # First tick: snapshot if there is none, or a feed updated at or after it was taken.
            taken_at = self.vault.snapshot(latest).taken_at if latest else 0
            moved = latest == 0 or any(updated >= taken_at for _, updated in rounds)
        else:
            moved = ids != self._rounds
        if moved and self.settings.take_snapshots:
            try:
                snap = take_snapshot(self.vault)
            except TransactionReverted as exc:  # e.g. a stale or incomplete feed round
                self.metrics.errors.labels(kind="snapshot").inc()
                self.log("snapshot_refused", level="warning", error=str(exc))
                return latest  # rounds not marked as seen: the next tick tries again
            else:
                self.metrics.snapshots.inc()
                self.log("snapshot", snapshot_id=snap.snapshot_id, rounds=list(ids),
                         prices=list(snap.prices))  # fmt: skip
                latest = snap.snapshot_id
        self._rounds = ids
        if latest != self._evaluated_snapshot:
            self._snapshot_seen_at = time.perf_counter()
        return latest

    # ------------------------------------------------------------------ accounts

    def _evaluate(self, book: BookFile, snapshot_id: int) -> Liquidation | None:
        account = to_checksum_address(book.portfolio.account)
        state = self.vault.account_state(account)
        if state.commitment == 0 or state.escrow == 0:
            return None
        policy = self.vault.policy()
        now = int(self.vault.chain.w3.eth.get_block("latest")["timestamp"])
        if (
            state.last_liquidated_at
            and now < state.last_liquidated_at + policy.liquidation_cooldown
        ):
            return None
        if self.store.get(account, state.nonce) is not None:
            return None  # sent already: settle_pending owns it
        stale, _deadline = self.vault.proof_status(account)
        if stale:
            fn = self.vault.vault.functions.liquidateStale(account)
            return self._submit(account, state.nonce, "STALE_PROOF", snapshot_id, fn, None)
        try:
            proven = prove_action(self.vault, book, self.assets, Action.LIQUIDATE, self.artifacts,
                                  self.backend, snapshot_id=snapshot_id)  # fmt: skip
        except StatementDoesNotHold:
            self.log("healthy", account=account, snapshot_id=snapshot_id)
            return None
        except ProofMismatch as exc:  # the desk re-committed: this book is out of date
            self.metrics.errors.labels(kind="book_out_of_date").inc()
            self.log("book_out_of_date", level="warning", account=account, error=str(exc))
            return None
        self.metrics.proofs.inc()
        self.metrics.proof_seconds.observe(proven.prove_seconds)
        self.log("proved", account=account, snapshot_id=snapshot_id, hf=proven.health_factor,
                 prove_ms=round(proven.prove_seconds * 1000, 1))  # fmt: skip
        words, _public = proven.proof.calldata()
        fn = self.vault.vault.functions.liquidate(account, snapshot_id, words)
        return self._submit(account, state.nonce, "PROOF", snapshot_id, fn, proven.prove_seconds)

    # ------------------------------------------------------------------ transactions

    def _submit(
        self,
        account: str,
        vault_nonce: int,
        path: Path_,
        snapshot_id: int,
        fn: ContractFunction,
        prove_seconds: float | None,
    ) -> Liquidation | None:
        chain = self.vault.chain
        try:
            signed = build_signed(chain, fn)
        except TransactionReverted as exc:  # someone else liquidated first, a cooldown, a pause
            self.metrics.errors.labels(kind="would_revert").inc()
            self.log("liquidation_skipped", level="warning", account=account, path=path,
                     error=str(exc))  # fmt: skip
            return None
        tx_hash = "0x" + bytes(signed.hash).hex()
        self.store.record(PendingTx(account, vault_nonce, path, snapshot_id, tx_hash,
                                    bytes(signed.raw_transaction), "pending"))  # fmt: skip
        self.metrics.pending.inc()
        self.log("liquidation_sent", account=account, path=path, vault_nonce=vault_nonce,
                 snapshot_id=snapshot_id, tx=tx_hash)  # fmt: skip
        chain.w3.eth.send_raw_transaction(signed.raw_transaction)
        try:
            receipt = chain.w3.eth.wait_for_transaction_receipt(
                HexStr(tx_hash), timeout=self.settings.receipt_timeout, poll_latency=0.05
            )
        except TimeExhausted:
            self.log("liquidation_pending", level="warning", account=account, tx=tx_hash)
            return None
        sent = self.store.get(account, vault_nonce)
        assert sent is not None  # recorded above
        return self._settle(sent, receipt, prove_seconds)

    def settle_pending(self) -> list[Liquidation]:
        """Resolve every pending transaction from an earlier tick or run: mined → record it;
        still in the mempool → wait; unknown to the node → re-broadcast the same signed bytes."""
        done: list[Liquidation] = []
        w3 = self.vault.chain.w3
        for pending in self.store.open():
            try:
                receipt = w3.eth.get_transaction_receipt(HexStr(pending.tx_hash))
            except TransactionNotFound:
                receipt = None
            if receipt is not None:
                settled = self._settle(pending, receipt, None)
                if settled is not None:
                    done.append(settled)
                continue
            try:
                w3.eth.get_transaction(HexStr(pending.tx_hash))
                continue  # still in the mempool: do not send anything else for this account
            except TransactionNotFound:
                pass
            try:
                w3.eth.send_raw_transaction(pending.raw_tx)
                self.log("liquidation_rebroadcast", account=pending.account, tx=pending.tx_hash)
            except ValueError as exc:  # e.g. nonce too low: that keeper nonce went elsewhere
                self.store.set_status(pending.account, pending.vault_nonce, "dropped")
                self.metrics.pending.dec()
                self._evaluated_snapshot = None  # look at the account afresh
                self.log("liquidation_dropped", level="warning", account=pending.account,
                         tx=pending.tx_hash, error=str(exc))  # fmt: skip
        return done

    def _settle(
        self, pending: PendingTx, receipt: TxReceipt, prove_seconds: float | None
    ) -> Liquidation | None:
        ok = receipt["status"] == 1
        self.store.set_status(pending.account, pending.vault_nonce, "mined" if ok else "reverted")
        self.metrics.pending.dec()
        if not ok:
            self.metrics.errors.labels(kind="reverted").inc()
            self.log("liquidation_reverted", level="warning", account=pending.account,
                     tx=pending.tx_hash)  # fmt: skip
            return None
        path: Path_ = "STALE_PROOF" if pending.path == "STALE_PROOF" else "PROOF"
        mined = Liquidation(
            account=to_checksum_address(pending.account), path=path,
            snapshot_id=pending.snapshot_id, tx_hash=pending.tx_hash,
            gas_used=int(receipt["gasUsed"]), block=int(receipt["blockNumber"]),
            prove_seconds=prove_seconds, mined_at=time.perf_counter(),
        )  # fmt: skip
        self.metrics.liquidations.labels(path=path).inc()
        if self._snapshot_seen_at:
            self.metrics.liquidation_seconds.observe(mined.mined_at - self._snapshot_seen_at)
        self.log("liquidated", account=mined.account, path=path, snapshot_id=mined.snapshot_id,
                 tx=mined.tx_hash, gas=mined.gas_used, block=mined.block)  # fmt: skip
        if self.on_liquidation is not None:
            self.on_liquidation(mined)
        return mined


def _is_rpc_error(exc: BaseException) -> bool:
    """Connection refused / reset, timeouts: the node or the network, not the keeper."""
    return (
        isinstance(exc, OSError | TimeExhausted | TimeoutError)
        or "Connection" in type(exc).__name__
    )


def describe(liquidation: Liquidation) -> dict[str, Any]:
    return {"account": liquidation.account, "path": liquidation.path,
            "snapshot_id": liquidation.snapshot_id, "tx": liquidation.tx_hash,
            "gas": liquidation.gas_used, "block": liquidation.block}  # fmt: skip
