"""The liquidation keeper: watch oracle rounds, snapshot, re-evaluate the books it can see, prove
HF < 1 and liquidate; or liquidate without a proof an account whose last proof is too old.

One `tick()` is one polling round:

1. settle what was sent before (receipts of pending transactions, from the SQLite store);
2. read every listed feed's latest round; when one changed since the latest snapshot, or the
   latest snapshot is older than the vault's snapshot window, take a snapshot (permissionless,
   rate-limited by the price book) so proofs can use current prices;
3. when the latest snapshot changed (or the keeper just started), re-evaluate every book:
   skip accounts with nothing to seize, in cooldown, with a transaction pending, or while the
   price book's grace period after an outage runs (graceEndsAt); liquidate through the
   stale-proof path when the vault says the account's proof is too old; else ask the engine
   whether HF < 0.95 (the whole escrow may go) or HF < 1 (the close factor) and, if so, prove
   it — at margin escrow × 1.01 rounded up, so a dust deposit cannot void the proof, and bound
   to this keeper's address, so a copy from the mempool is useless to anyone else — and
   liquidate. Each statement goes to the prover as soon as it is built (`pipeline`: a pool's
   workers prove while the keeper reads the next accounts) and each group of `batch_size`
   proofs is sent as soon as it has arrived.

`run()` repeats ticks until stopped (or `max_ticks`, failed ticks included). Every error is
classified by `failures.classify` into retry / re-sync the nonce / drop / alert; only the
node-wide reads can fail a tick (then backoff), an error on one account or one pending
transaction stays with that account. Nothing is sent twice: a liquidation is recorded with its
signed bytes before it is broadcast, keyed by (account, vault nonce), and is replaced by a new
attempt only once it can never be mined (its keeper nonce was spent by another transaction,
or the node refused the bytes).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from eth_typing import HexStr
from eth_utils.address import to_checksum_address
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import TransactionNotFound
from web3.logs import DISCARD
from web3.types import TxReceipt

from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.backends import ProvingBackend
from zkrisk.prover.batch import Outcome, open_stream
from zkrisk.prover.proof import Proof

from ..chain.client import TransactionReverted
from ..chain.vault import LiquidationItem, ProofMismatch
from ..chain.vault_statement import StatementDoesNotHold, VaultAction, prepare_vault_action
from ..risk.models import Asset
from ..statements.binding import Action
from .books import BookFile
from .failures import Remedy, Verdict, classify
from .health import LoopState
from .logs import JsonLog
from .metrics import KeeperMetrics
from .pipeline import ProofPipeline
from .proving import ProvenAction
from .store import RETRYABLE, PendingStore, PendingTx, Status
from .tx import build_signed, sender_and_nonce, take_snapshot
from .vault_access import PREFETCH, CheckedVaultClient, TickReads, tick_reads

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
    """How long a tick waits, in all, for its liquidations' receipts before leaving them
    pending (settled on a later tick)."""
    take_snapshots: bool = True
    """Take a snapshot when a feed round changes (else wait for someone else's)."""
    batch_size: int = 1
    """Proof-path liquidations per transaction: above 1, the tick's proofs are sent through
    RiskVault.liquidateMany in groups of this size, each group as soon as that many proofs
    have arrived; 1 sends each with liquidate as soon as it is proven."""


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
    health: LoopState = field(default_factory=LoopState)
    """What the loop last did, for /livez and /readyz (replaced whole after each tick)."""
    _due: set[str] = field(default_factory=set)
    """Accounts (lower case) to look at on the next tick even without a new snapshot."""
    _tick_rpc_error: str | None = None
    _liquidated_by_tx: dict[str, frozenset[str]] = field(default_factory=dict)
    """Accounts (lower case) with a Liquidated event, by transaction (a batch decoded once)."""

    # ------------------------------------------------------------------ loop

    def run(self, stop: threading.Event, *, max_ticks: int | None = None) -> None:
        """Tick until `stop` is set or `max_ticks` ticks, failed ones included, have run. An
        error that escapes a tick is classified (`failures.classify`), logged, counted in
        zkrisk_keeper_errors{kind=<remedy>} and followed by an exponential backoff."""
        self.log("started", keeper=self.vault.account, vault=self.vault.address,
                 accounts=[b.portfolio.account for b in self.books], backend=self.backend.name)  # fmt: skip
        backoff = self.settings.backoff_initial
        while not stop.is_set() and (max_ticks is None or self.health.ticks < max_ticks):
            try:
                self.tick()
            except Exception as exc:  # the loop survives everything; the log says what
                verdict = classify(exc)
                self._publish(failed=True, rpc_error=verdict.error)
                self.metrics.errors.labels(kind=verdict.remedy.value).inc()
                level = "error" if verdict.remedy is Remedy.ALERT else "warning"
                self.log("error", level=level, remedy=verdict.remedy.value, why=verdict.why,
                         error=verdict.error, retry_in=round(backoff, 2))  # fmt: skip
                stop.wait(backoff)
                backoff = min(backoff * 2, self.settings.backoff_max)
                continue
            backoff = self.settings.backoff_initial
            stop.wait(self.settings.poll_interval)
        self.log("stopped", ticks=self.health.ticks, failed_ticks=self.health.failed_ticks)

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
        """One polling round (see the module docstring); returns the liquidations it saw mined.

        Only the node-wide steps (reading the keeper's nonce, the feeds, the latest snapshot)
        fail a tick; an error on one pending transaction or one account is classified, logged
        and kept to that account."""
        self._tick_rpc_error = None
        done = self.settle_pending()
        snapshot_id = self._watch_oracle()
        with self._lock:
            fresh = snapshot_id != self._evaluated_snapshot
            due = set(self._due)
            books = [b for b in self.books if fresh or b.portfolio.account.lower() in due]
        self._due.clear()
        sent: list[tuple[PendingTx, float | None]] = []
        self.metrics.prove_queue.set(len(books))
        reads = tick_reads(self.vault)
        self._liquidated_by_tx.clear()
        with open_stream(self.backend) as stream:
            pipeline = ProofPipeline(stream, self.artifacts, self.settings.batch_size)
            for i, book in enumerate(books):
                if i % PREFETCH == 0:  # the next accounts' views, in two round trips
                    ahead = [b.portfolio.account for b in books[i : i + PREFETCH]]
                    reads.prefetch(ahead, snapshot_id)
                try:
                    outcome = self._evaluate(book, snapshot_id, reads)
                except Exception as exc:
                    self._account_failed(to_checksum_address(book.portfolio.account), exc)
                    self.metrics.prove_queue.dec()
                    continue
                if isinstance(outcome, VaultAction):
                    sent += self._prove(pipeline, outcome, snapshot_id)
                    continue
                self.metrics.prove_queue.dec()
                if outcome is not None:
                    sent.append(outcome)
            sent += self._finish_proving(pipeline, snapshot_id)
        done += self._await_receipts(sent)
        self._evaluated_snapshot = snapshot_id
        self.metrics.ticks.inc()
        self._publish(failed=False, rpc_error=self._tick_rpc_error)
        return done

    def _publish(self, *, failed: bool, rpc_error: str | None) -> None:
        """A new LoopState for the health endpoints (replaced whole: readers see one tick's)."""
        state = self.health
        self.health = replace(
            state, last_tick_at=time.monotonic(), ticks=state.ticks + 1,
            failed_ticks=state.failed_ticks + int(failed), last_failed=failed, rpc_error=rpc_error,
            open_txs=len(self.store.open()),
        )  # fmt: skip

    def _account_failed(self, account: str, exc: Exception) -> None:
        """One account's evaluation or send failed: log and count it, and decide when to look at
        the account again (next tick for RETRY / RESYNC_NONCE, next snapshot otherwise)."""
        verdict = classify(exc)
        self.metrics.errors.labels(kind=verdict.remedy.value).inc()
        if verdict.remedy in (Remedy.RETRY, Remedy.RESYNC_NONCE):
            self._due.add(account.lower())
        if verdict.remedy is Remedy.RETRY:
            self._tick_rpc_error = verdict.error
        if verdict.remedy is Remedy.RESYNC_NONCE:
            self.health = replace(self.health, nonce_error=verdict.error)
        event = "alert" if verdict.remedy is Remedy.ALERT else "account_error"
        level = "error" if verdict.remedy is Remedy.ALERT else "warning"
        self.log(event, level=level, account=account, remedy=verdict.remedy.value,
                 why=verdict.why, error=verdict.error)  # fmt: skip

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
        taken_at = self.vault.snapshot_taken_at(latest) if latest else 0
        if self._rounds is None:
            # First tick: snapshot if there is none, or a feed updated at or after it was taken.
            moved = latest == 0 or any(updated >= taken_at for _, updated in rounds)
        else:
            moved = ids != self._rounds
        if not moved and self.books and latest:
            # Proofs must use a snapshot of the last `snapshotWindow` seconds.
            window = self.vault.policy().snapshot_window
            moved = taken_at + window < self.vault.chain_time()
        if moved and self.settings.take_snapshots:
            try:
                snap = take_snapshot(self.vault)
            except TransactionReverted as exc:  # e.g. no valid price, or the rate limit
                latest = self.vault.latest_snapshot_id()  # another sender's may have landed
                if not self._covered_by(exc, latest, rounds):
                    self.metrics.errors.labels(kind="snapshot").inc()
                    self.log("snapshot_refused", level="warning", error=str(exc))
                    return latest  # rounds not marked as seen: the next tick tries again
                # Someone else's snapshot, taken after every round seen, has these prices.
                self.log("snapshot_taken_by_another", snapshot_id=latest)
            else:
                self.metrics.snapshots.inc()
                self.log("snapshot", snapshot_id=snap.snapshot_id, rounds=list(ids),
                         prices=list(snap.prices))  # fmt: skip
                latest = snap.snapshot_id
        self._rounds = ids
        if latest != self._evaluated_snapshot:
            self._snapshot_seen_at = time.perf_counter()
        return latest

    def _covered_by(
        self, exc: TransactionReverted, latest: int, rounds: tuple[tuple[int, int], ...]
    ) -> bool:
        """The price book's rate limit refused our snapshot, and the latest one (someone
        else's) was taken strictly after every feed round we read: it already has them."""
        if exc.error != "PriceBook__SnapshotTooSoon" or not latest:
            return False
        taken_at = self.vault.snapshot_taken_at(latest)
        return taken_at > max((updated for _, updated in rounds), default=0)

    # ------------------------------------------------------------------ accounts

    def _evaluate(
        self, book: BookFile, snapshot_id: int, reads: TickReads
    ) -> tuple[PendingTx, float | None] | VaultAction | None:
        """Whether `book`'s account is due: the stale-path transaction sent, the proof-path
        liquidation to prove (the statement, proven by `_prove_and_send`), or None. `reads`
        is this tick's view of the vault (its per-tick reads made once)."""
        account = to_checksum_address(book.portfolio.account)
        state = reads.account_state(account)
        if state.commitment == 0 or state.escrow == 0:
            return None
        policy = reads.policy()
        now = reads.chain_time()
        if (
            state.last_liquidated_at
            and now < state.last_liquidated_at + policy.liquidation_cooldown
        ):
            return None
        grace_ends = reads.grace_ends_at()
        if now < grace_ends:  # after an oracle / sequencer outage desks get time to re-prove
            self.log("grace_period", account=account, grace_ends_at=grace_ends)
            return None
        sent = self.store.get(account, state.nonce)
        if sent is not None and sent.status not in RETRYABLE:
            return None  # sent already (settle_pending owns it) or settled at this vault nonce
        stale, _deadline = reads.proof_status(account)
        if stale:
            fn = self.vault.vault.functions.liquidateStale(account)
            return self._submit(account, state.nonce, "STALE_PROOF", snapshot_id, fn, None)
        if state.book_predates_liquidation():  # the vault would refuse: wait for a newer book
            self.log("book_predates_liquidation", account=account,
                     book_issued_at=state.book_issued_at,
                     last_liquidated_at=state.last_liquidated_at)  # fmt: skip
            return None
        try:
            return prepare_vault_action(
                reads, book=book.portfolio, assets=self.assets, salt=book.salt,
                action=Action.LIQUIDATE, snapshot_id=snapshot_id,
            )  # fmt: skip
        except StatementDoesNotHold:
            self.log("healthy", account=account, snapshot_id=snapshot_id)
            return None
        except ProofMismatch as exc:  # the desk re-committed: this book is out of date
            self.metrics.errors.labels(kind="book_out_of_date").inc()
            self.log("book_out_of_date", level="warning", account=account, error=str(exc))
            return None

    def _prove(
        self, pipeline: ProofPipeline, action: VaultAction, snapshot_id: int
    ) -> list[tuple[PendingTx, float | None]]:
        """Hand `action`'s statement to the prover at once (a pool proves it while the next
        accounts are read), then send every full group of proofs that has arrived."""
        try:
            pipeline.submit(action)
        except Exception as exc:  # e.g. the pool is unreachable: this account waits
            self._account_failed(to_checksum_address(action.account), exc)
            self.metrics.prove_queue.dec()
            return []
        try:
            arrived = pipeline.stream.ready()
        except Exception as exc:  # the stream failed as a whole: every account in flight waits
            for waiting in pipeline.abandon():
                self._account_failed(to_checksum_address(waiting.account), exc)
                self.metrics.prove_queue.dec()
            return []
        return self._file(pipeline, arrived, snapshot_id)

    def _finish_proving(
        self, pipeline: ProofPipeline, snapshot_id: int
    ) -> list[tuple[PendingTx, float | None]]:
        """Wait for every proof still in flight, sending each group as it fills, then the
        last partial group."""
        sent: list[tuple[PendingTx, float | None]] = []
        try:
            while pipeline.in_flight:
                outcomes = pipeline.stream.wait()
                if not outcomes:  # the stream has nothing more for us: should not happen
                    raise RuntimeError(f"the prover lost {pipeline.in_flight} job(s)")
                sent += self._file(pipeline, outcomes, snapshot_id)
        except Exception as exc:  # the pool or the prover failed: every account in flight waits
            for action in pipeline.abandon():
                self._account_failed(to_checksum_address(action.account), exc)
        finally:
            self.metrics.prove_queue.set(0)
        return sent + self._send_groups(pipeline.rest(), snapshot_id)

    def _file(
        self, pipeline: ProofPipeline, outcomes: Sequence[Outcome], snapshot_id: int
    ) -> list[tuple[PendingTx, float | None]]:
        """Record the arrived outcomes, then send the groups they filled."""
        proven, failed = pipeline.take(outcomes)
        for action, exc in failed:
            self._account_failed(to_checksum_address(action.account), exc)
            self.metrics.prove_queue.dec()
        for done in proven:
            self.metrics.prove_queue.dec()
            self.metrics.proofs.inc()
            self.metrics.proof_seconds.observe(done.prove_seconds)
            action = done.action
            self.log("proved", account=to_checksum_address(action.account),
                     snapshot_id=snapshot_id, hf=done.health_factor,
                     hf_below_bps=action.hf_below_bps,
                     prove_ms=round(done.prove_seconds * 1000, 1))  # fmt: skip
        return self._send_groups(pipeline.full_groups(), snapshot_id)

    def _send_groups(
        self, groups: Sequence[Sequence[ProvenAction]], snapshot_id: int
    ) -> list[tuple[PendingTx, float | None]]:
        """One liquidate each for groups of one, liquidateMany for larger ones."""
        sent: list[tuple[PendingTx, float | None]] = []
        for group in groups:
            try:
                if len(group) > 1:
                    sent += self._submit_batch(group, snapshot_id)
                else:
                    sent += self._submit_one(group[0], snapshot_id)
            except Exception as exc:  # e.g. the signer refused: the error stays with the group
                for p in group:
                    self._account_failed(to_checksum_address(p.action.account), exc)
        return sent

    def _submit_one(
        self, proven: ProvenAction, snapshot_id: int
    ) -> list[tuple[PendingTx, float | None]]:
        action = proven.action
        account = to_checksum_address(action.account)
        fn = self.vault.liquidate_call(account, snapshot_id, action.proven_margin,
                                       action.hf_below_bps, proven.proof)  # fmt: skip
        out = self._submit(account, action.nonce, "PROOF", snapshot_id, fn, proven.prove_seconds)
        return [] if out is None else [out]

    def _submit_batch(
        self, group: Sequence[ProvenAction], snapshot_id: int
    ) -> list[tuple[PendingTx, float | None]]:
        """One liquidateMany for `group`: signed, one record per account (same bytes) stored
        before the broadcast. If the batch would revert (not a skip: the cooldown, a pause…),
        each account is sent on its own so the error stays with the account that has it."""
        items = [_item(p.action, p.proof, snapshot_id) for p in group]
        chain = self.vault.chain
        try:
            signed = build_signed(chain, self.vault.liquidate_many_call(items))
        except TransactionReverted as exc:
            self.log("batch_would_revert", level="warning", accounts=len(group), error=str(exc))
            return [out for p in group for out in self._submit_one(p, snapshot_id)]
        tx_hash = "0x" + bytes(signed.hash).hex()
        raw = bytes(signed.raw_transaction)
        pendings = [
            PendingTx(to_checksum_address(p.action.account), p.action.nonce, "PROOF", snapshot_id,
                      tx_hash, raw, "pending")
            for p in group
        ]  # fmt: skip
        self.store.record_many(pendings)  # every record stored before the broadcast
        self.metrics.pending.inc(len(pendings))
        self.log("liquidation_batch_sent", accounts=[p.account for p in pendings],
                 snapshot_id=snapshot_id, tx=tx_hash)  # fmt: skip
        try:
            chain.w3.eth.send_raw_transaction(signed.raw_transaction)
        except Exception as exc:
            verdict = classify(exc)
            for pending in pendings:
                if verdict.remedy in (Remedy.DROP, Remedy.ALERT):
                    self._retire(pending, "dropped", verdict)
                self._account_failed(pending.account, exc)
            return []
        return [(pending, p.prove_seconds) for pending, p in zip(pendings, group, strict=True)]

    # ------------------------------------------------------------------ transactions

    def _submit(
        self,
        account: str,
        vault_nonce: int,
        path: Path_,
        snapshot_id: int,
        fn: ContractFunction,
        prove_seconds: float | None,
    ) -> tuple[PendingTx, float | None] | None:
        """Sign, record, broadcast; the receipt is awaited once every account was looked at."""
        chain = self.vault.chain
        try:
            signed = build_signed(chain, fn)
        except TransactionReverted as exc:  # someone else liquidated first, a cooldown, a pause
            self.metrics.errors.labels(kind="would_revert").inc()
            self.log("liquidation_skipped", level="warning", account=account, path=path,
                     error=str(exc))  # fmt: skip
            return None
        tx_hash = "0x" + bytes(signed.hash).hex()
        pending = PendingTx(account, vault_nonce, path, snapshot_id, tx_hash,
                            bytes(signed.raw_transaction), "pending")  # fmt: skip
        self.store.record(pending)
        self.metrics.pending.inc()
        self.log("liquidation_sent", account=account, path=path, vault_nonce=vault_nonce,
                 snapshot_id=snapshot_id, tx=tx_hash)  # fmt: skip
        try:
            chain.w3.eth.send_raw_transaction(signed.raw_transaction)
        except Exception as exc:
            verdict = classify(exc)
            if verdict.remedy in (Remedy.DROP, Remedy.ALERT):  # these bytes will never do
                self._retire(pending, "dropped", verdict)
            # RETRY / RESYNC_NONCE: stays pending; the next tick's settle rebroadcasts it or,
            # when its keeper nonce went elsewhere, retires it and re-plans.
            self._account_failed(account, exc)
            return None
        return pending, prove_seconds

    def _await_receipts(self, sent: list[tuple[PendingTx, float | None]]) -> list[Liquidation]:
        """Wait up to receipt_timeout, in all, for this tick's liquidations; what is not mined by
        then stays pending for settle_pending (one stuck transaction never stalls the tick)."""
        deadline = time.monotonic() + self.settings.receipt_timeout
        waiting, done = list(sent), []
        while waiting:
            fetched: dict[str, TxReceipt | None] = {}  # a batch's records share one receipt
            for item in list(waiting):
                pending, prove_seconds = item
                try:
                    if pending.tx_hash not in fetched:
                        fetched[pending.tx_hash] = self._receipt(pending.tx_hash)
                    receipt = fetched[pending.tx_hash]
                except Exception as exc:  # leave it to the next tick's settle
                    waiting.remove(item)
                    self._account_failed(pending.account, exc)
                    continue
                if receipt is not None:
                    waiting.remove(item)
                    settled = self._settle(pending, receipt, prove_seconds)
                    if settled is not None:
                        done.append(settled)
            if not waiting or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        for pending, _ in waiting:
            self.log("liquidation_pending", level="warning", account=pending.account,
                     tx=pending.tx_hash)  # fmt: skip
        return done

    def _receipt(self, tx_hash: str) -> TxReceipt | None:
        try:
            return self.vault.chain.w3.eth.get_transaction_receipt(HexStr(tx_hash))
        except TransactionNotFound:  # web3 7 raises where web3 6 returned None
            return None

    def settle_pending(self) -> list[Liquidation]:
        """Resolve every pending transaction from an earlier tick or run against the chain:

        - mined → record it;
        - its keeper nonce already spent by another transaction (lost, then the nonce reused by
          the same key) → it can never be mined: retire it as `replaced` and re-plan the account;
        - still in the mempool → wait;
        - unknown to the node → re-broadcast the same signed bytes (classified if refused).

        Reading the keeper's nonce is the one node-wide call (its failure fails the tick); an
        error on one transaction is kept to that account."""
        done: list[Liquidation] = []
        w3 = self.vault.chain.w3
        records = self.store.open()
        signed = [(p, *sender_and_nonce(p.raw_tx)) for p in records]
        me = self.vault.chain.address
        # Read the chain's nonces before any receipt, so "not mined and nonce spent" is certain.
        mined_nonce = {a: int(w3.eth.get_transaction_count(a, "latest"))
                       for a in {me, *(sender for _, sender, _ in signed)}}  # fmt: skip
        seen: set[str] = set()  # a batch's records share one transaction: rebroadcast it once
        for pending, sender, keeper_nonce in signed:
            first = pending.tx_hash not in seen
            seen.add(pending.tx_hash)
            try:
                settled = self._settle_one(pending, keeper_nonce, mined_nonce[sender], first)
            except Exception as exc:
                self._account_failed(pending.account, exc)
                continue
            if settled is not None:
                done.append(settled)
        self.health = replace(self.health, chain_nonce=mined_nonce[me], nonce_error=None)
        return done

    def _settle_one(
        self, pending: PendingTx, keeper_nonce: int, mined_nonce: int, rebroadcast: bool = True
    ) -> Liquidation | None:
        w3 = self.vault.chain.w3
        receipt = self._receipt(pending.tx_hash)
        if receipt is not None:
            return self._settle(pending, receipt, None)
        if keeper_nonce < mined_nonce:
            self.metrics.errors.labels(kind=Remedy.RESYNC_NONCE.value).inc()
            self._retire(pending, "replaced", None, keeper_nonce=keeper_nonce,
                         chain_nonce=mined_nonce)  # fmt: skip
            return None
        if not rebroadcast:  # another record of the same batch transaction handles it
            return None
        try:
            w3.eth.get_transaction(HexStr(pending.tx_hash))
            return None  # still in the mempool: do not send anything else for this account
        except TransactionNotFound:
            pass
        try:
            w3.eth.send_raw_transaction(pending.raw_tx)
        except Exception as exc:
            verdict = classify(exc)
            self.metrics.errors.labels(kind=verdict.remedy.value).inc()
            if verdict.remedy is Remedy.RETRY:  # the node is busy or down: rebroadcast next tick
                self._tick_rpc_error = verdict.error
                self.log("liquidation_rebroadcast_failed", level="warning",
                         account=pending.account, tx=pending.tx_hash, error=verdict.error)  # fmt: skip
                return None
            status: Status = "replaced" if verdict.remedy is Remedy.RESYNC_NONCE else "dropped"
            self._retire(pending, status, verdict, keeper_nonce=keeper_nonce)
            return None
        self.log("liquidation_rebroadcast", account=pending.account, tx=pending.tx_hash)
        return None

    def _retire(
        self, pending: PendingTx, status: Status, verdict: Verdict | None, **fields: Any
    ) -> None:
        """Mark an attempt that can never be mined and look at its account again next tick."""
        self.store.set_status(pending.account, pending.vault_nonce, status)
        self.metrics.pending.dec()
        self._due.add(pending.account.lower())
        why = verdict.why if verdict else "its keeper nonce was spent by another transaction"
        level = "error" if verdict is not None and verdict.remedy is Remedy.ALERT else "warning"
        self.log(f"liquidation_{status}", level=level, account=pending.account,
                 tx=pending.tx_hash, why=why, **fields,
                 **({"error": verdict.error} if verdict else {}))  # fmt: skip

    def _settle(
        self, pending: PendingTx, receipt: TxReceipt, prove_seconds: float | None
    ) -> Liquidation | None:
        ok = receipt["status"] == 1
        self.store.set_status(pending.account, pending.vault_nonce, "mined" if ok else "reverted")
        self.metrics.pending.dec()
        if ok and not self._liquidated_in(receipt, pending.account):
            ok = False  # a liquidateMany that skipped this account (it moved on since the proof)
            self.store.set_status(pending.account, pending.vault_nonce, "reverted")
            self.metrics.errors.labels(kind="skipped").inc()
            self.log("liquidation_skipped_in_batch", level="warning", account=pending.account,
                     tx=pending.tx_hash)  # fmt: skip
            return None
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

    def _liquidated_in(self, receipt: TxReceipt, account: str) -> bool:
        """Whether `receipt` has a Liquidated event of `account` (a batch may skip one). A
        batch's receipt is decoded once for all its accounts."""
        tx = bytes(receipt["transactionHash"]).hex()
        if tx not in self._liquidated_by_tx:
            events = self.vault.vault.events.Liquidated().process_receipt(receipt, errors=DISCARD)
            self._liquidated_by_tx[tx] = frozenset(str(e["args"]["account"]).lower()
                                                   for e in events)  # fmt: skip
        return account.lower() in self._liquidated_by_tx[tx]


def _item(action: VaultAction, proof: Proof, snapshot_id: int) -> LiquidationItem:
    return LiquidationItem(
        account=action.account, nonce=action.nonce, commitment=action.statement.commitment(),
        snapshot_id=snapshot_id, proven_margin=action.proven_margin,
        hf_below_bps=action.hf_below_bps, proof=proof,
    )  # fmt: skip


def describe(liquidation: Liquidation) -> dict[str, Any]:
    return {"account": liquidation.account, "path": liquidation.path,
            "snapshot_id": liquidation.snapshot_id, "tx": liquidation.tx_hash,
            "gas": liquidation.gas_used, "block": liquidation.block}  # fmt: skip
