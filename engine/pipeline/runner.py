"""The runner: ingest → signal → pre-trade → (orders: part 2) → monitor, in one process.

Two halves share one journal:
- ingest (its own asyncio tasks) validates market data and appends it;
- the `Pipeline` folds every journal record, in position order, through the monitor, the signal
  stage and the pre-trade gate, and appends what they derive, committing its cursor in the same
  transaction. Its own outputs are records too, so they are folded when their position comes:
  live and replay see the same order, which is what makes a replay reproduce the run.

Exactly-once across a crash: every derived event is keyed off its cause (intent ids from the
quote's key, 'verdict:<id>', 'state:<cause>', ...), so re-deriving after a restart re-appends
nothing; the stages' state is restored from the newest snapshot and the tail is folded again.
Records other processes append (the kill switch, `zkrisk killswitch`; ingest and the monitor
when they run as processes of their own, `STAGES`) are picked up by polling the journal's head.

Deciding before the commit (one process, `stage="all"`): ingest hands each market-data draft to
`Pipeline.fold_ahead` as it validates it, so a quote's intents are decided at once, on the
record the draft will be; what they derive is appended, with the cursor, once ingest's append
has committed the quote and `confirm` has checked it landed where it was folded (else the
stages are rebuilt from the journal, as a restart would). Nothing derived is appended, and
order send sees nothing, before that commit; a crash before it leaves no trace of the decision
in the journal, and the feed's resend is decided again.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gc
import json
import logging
import os
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO

from prometheus_client import CollectorRegistry

from ..journal.base import Journal
from ..journal.crashpoints import crash_point
from ..journal.events import Draft, IntentEmitted, OrderSubmitted, Recorded
from .fills import Positions
from .ingest import Ingest, IngestMetrics
from .monitor import Monitor, MonitorStatus, PipelineMetrics, heartbeat_draft
from .monitor_stage import MonitorStage
from .order_send import OrderSend
from .orders import Orders
from .pretrade import PreTradeStage
from .run_config import LoadedRun
from .signal import SignalStage, StrategyStatus
from .stage_snapshot import SnapshotError, check_binding
from .venue_binding import bind, binding_of
from .venues.factory import make_venue

log = logging.getLogger(__name__)

CONSUMER = "pipeline"
SNAPSHOT = "pipeline/v2"
"""v2 adds the orders and positions projections (a v1 snapshot is not used: fold from 0)."""
CRASH_AFTER_INTENT = "orders.after_intent"
"""Crash point: an approved intent's OrderSubmitted decided in the fold, not yet appended."""
CRASH_AFTER_VERDICT = "pipeline.after_verdict"
"""Crash point: a verdict decided in its quote's fold, not yet appended (nor, in a run of
records `drain` folds, the verdicts decided before it)."""
COMPONENTS = ("ingest", "pipeline")
"""The components that journal heartbeats (the monitor alerts when one stops)."""


def _now_ns() -> int:
    return time.time_ns()


def freeze_start_up_heap() -> None:
    """Collect once, then move every object alive (modules, config, the restored state) out of
    the collector's reach: a full collection of a run's heap scans them all, a pause of tens
    of ms on the event loop (order acks queue behind it) for objects that live as long as
    the process. What the run allocates later is still collected."""
    gc.collect()
    gc.freeze()


@dataclass
class FoldStats:
    records: int = 0
    derived: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    decision_ns: list[int] = field(default_factory=list)
    """Quote received → verdict decided, ns, for each intent the fold derived and decided live
    (bounded); the clock stops when the gate has decided, before the verdict's drafts and
    append (`PreTradeStage.decided_ns`)."""


class Pipeline:
    """Stages 2, 3 and 6 as one fold over the journal (see the module docstring)."""

    def __init__(
        self,
        journal: Journal,
        run: LoadedRun,
        *,
        metrics: PipelineMetrics | None = None,
        clock: Callable[[], int] = _now_ns,
        journals_monitor: bool = True,
    ) -> None:
        """`journals_monitor=False`: the monitor's process journals what the monitor derives;
        here it is a projection (the trading state and book the gate judges by)."""
        self.journals_monitor = journals_monitor
        self.journal, self.run, self.clock = journal, run, clock
        cfg = run.config
        self.monitor = Monitor(cfg.monitor, metrics=metrics or PipelineMetrics())
        self.signal = SignalStage(cfg.signal)
        self.pretrade = self._new_pretrade()
        self.orders = Orders()
        """Every order sent to a venue and what became of it (stage 4's projection)."""
        self.positions = Positions()
        """The venue fills' positions and P&L (stage 5's projection; reconciliation's book)."""
        self.on_folded: Callable[[Recorded], None] | None = None
        """Called with each record folded live (order send sends the orders it journals)."""
        self.position = 0
        """The last position folded."""
        self.inbox: dict[int, Recorded] = {}
        """Records known to be in the journal but not folded yet (no re-read needed)."""
        self.pending: list[Draft] = []
        """Drafts `drain` folded out of records up to `pending_upto`, not yet appended."""
        self.pending_upto = 0
        self.stats = FoldStats()
        self.since_snapshot = 0
        self.restored_from = 0
        self.snapshot_refused = ""
        self.restore_note = ""
        self.cursor_at = journal.cursor(CONSUMER)
        self.settle: Callable[[], object] | None = None
        """Commits the batch `fold_ahead` folded (the runner's: ingest's flush, whose records
        come back through `confirm`); None: nothing is folded ahead of its commit."""
        self.ahead: list[Recorded] = []
        """Ingest's drafts folded ahead of their commit, as the records they will be."""
        self.ahead_closed = False
        """A draft of the open batch was not folded ahead: the rest of it waits for its commit."""
        self.rewinds = 0
        """Times what was folded ahead did not commit as folded (`_rewind`)."""
        self._ahead_samples: list[int] = []
        self._ahead_stats: tuple[int, int, dict[str, int]] = (0, 0, {})
        self._quiet_upto = 0
        """Records up to here were folded live before a rewind: their re-fold is not live."""

    def _new_pretrade(self) -> PreTradeStage:
        cfg = self.run.config
        return PreTradeStage(self.run.engine(), self.monitor.book, account=cfg.run.account,
                             quote_price=cfg.pretrade.quote_price_usd,
                             paper=cfg.venue.kind == "paper", venue=cfg.venue.kind,
                             clock=self.clock)  # fmt: skip

    # -- start-up -------------------------------------------------------------------------

    def restore(self) -> int:
        """Load the newest snapshot; returns the position it restores to (0: none, or one that
        does not fit this config or journal, said in `restore_note`, and the fold starts over)."""
        found = self.journal.load_snapshot(SNAPSHOT)
        if found is None:
            return 0
        position, blob = found
        cfg = self.run.config
        try:
            state = json.loads(blob)
            if not isinstance(state, dict) or state.get("version") != 2:
                raise SnapshotError("the pipeline snapshot is not version 2")
            monitor = Monitor.from_bytes(cfg.monitor, state["monitor"].encode(),
                                         metrics=self.monitor.metrics)  # fmt: skip
            signal = SignalStage.from_bytes(cfg.signal, state["signal"].encode())
            for stage in (monitor, signal):
                check_binding(self.journal, stage, position)
            self.pretrade.restore(state["pretrade"].encode())
            orders = Orders.from_bytes(state["orders"].encode())
            positions = Positions.from_bytes(state["positions"].encode())
            if (orders.position, positions.position) != (position, position):
                raise SnapshotError("its orders or positions are not as of its position")
        except (SnapshotError, ValueError, KeyError, TypeError, AttributeError) as exc:
            self.restore_note = f"snapshot at position {position} not used ({exc}): folding from 0"
            log.warning("%s", self.restore_note)
            self.pretrade = self._new_pretrade()
            return 0
        self.monitor, self.signal = monitor, signal
        self.orders, self.positions = orders, positions
        self.pretrade.book = self.monitor.book
        self.position = self.restored_from = position
        return position

    def save_snapshot(self) -> None:
        """Snapshot every stage as of `position` (skipped, once said, when a plug-in strategy
        cannot be snapshotted: start-up then folds the journal from genesis)."""
        self._settle()
        self.flush()  # a snapshot as of a position is taken once that position's outputs are in
        self.since_snapshot = 0
        refusal = self.signal.snapshot_refusal()
        if refusal is not None:
            if not self.snapshot_refused:
                self.snapshot_refused = refusal
                log.warning("no snapshots: %s", refusal)
            return
        blob = json.dumps({
            "version": 2,
            "monitor": self.monitor.to_bytes().decode(),
            "signal": self.signal.to_bytes().decode(),
            "pretrade": self.pretrade.to_bytes().decode(),
            "orders": self.orders.to_bytes().decode(),
            "positions": self.positions.to_bytes().decode(),
        }, sort_keys=True).encode()  # fmt: skip
        self.journal.save_snapshot(SNAPSHOT, self.position, blob)

    # -- the fold -------------------------------------------------------------------------

    def offer(self, records: list[Recorded]) -> None:
        """Records just appended (by ingest or by us): fold them without reading them back."""
        for rec in records:
            if rec.position > self.position:
                self.inbox[rec.position] = rec

    def drain(self, *, live: bool = True, to_head: bool = True) -> int:
        """Fold every record up to the journal's head; returns how many were folded. Without
        `to_head`, only the records offered (and any a gap among them shows another writer
        put between): what others appended after them waits for the next full drain, which
        saves a read of the journal per append."""
        self._settle()
        folded = 0
        while True:
            rec = self.inbox.pop(self.position + 1, None)
            if rec is None:
                if self.pending:  # what the run of records derived: one append, then fold it
                    self.flush()
                    continue
                if not to_head and not self.inbox:
                    break
                page = self.journal.read(after=self.position, limit=1000)
                if not page:
                    break
                self.offer(page)
                continue
            self.fold(rec, live=live, defer=True)
            folded += 1
        self.inbox = {p: r for p, r in self.inbox.items() if p > self.position}
        return folded

    def flush(self) -> list[Recorded]:
        """Append what the deferred folds derived, with the cursor at the last of their records
        (one transaction: outputs and cursor move together, whatever their number)."""
        self._settle()  # outputs go after their causes (the settling drain may append them)
        if not self.pending:
            return []
        drafts, upto, self.pending = self.pending, self.pending_upto, []
        # Re-folding behind the committed cursor (a snapshot older than it) re-derives outputs
        # that are already there: they dedupe by key and the cursor stays put.
        ahead = upto > self.cursor_at
        written = self.journal.append(drafts, cursor=(CONSUMER, upto) if ahead else None)
        self.cursor_at = max(self.cursor_at, upto)
        self.offer(written)
        return written

    def fold(
        self, rec: Recorded, *, live: bool = True, defer: bool = False, ahead: bool = False
    ) -> list[Recorded]:
        """One record through the monitor, the signal stage and the gate, in that order (a
        breaker the record trips refuses the intent the same record causes). An intent the
        signal stage derives here is decided here too, and appended with its verdict and the
        cursor in one transaction after the record's own commit: the verdict is a function of
        the record and the journal before it, so a crash before that append re-derives both,
        identically. `ahead`: the record is not committed yet (`fold_ahead`)."""
        live = live and rec.position > self._quiet_upto
        samples = self._ahead_samples if ahead else self.stats.decision_ns
        self.orders.apply(rec)
        self.positions.apply(rec)
        drafts = self.monitor.on_event(rec)
        if not self.journals_monitor:
            drafts = []
        signalled = self.signal.on_event(rec)
        drafts += signalled
        state = self.monitor.state
        verdict = self.pretrade.on_event(rec, state)
        for draft in signalled:  # decided now, in its cause's own fold: no commit in between
            if isinstance(draft.event, IntentEmitted):
                verdict += self.pretrade.decide_derived(draft, state)
                if live and len(samples) < 100_000:
                    samples.append(self.pretrade.decided_ns - draft.recv_time_ns)
                crash_point(CRASH_AFTER_VERDICT)
        if verdict and any(isinstance(d.event, OrderSubmitted) for d in verdict):
            # An approved intent's order is decided, not yet journaled: the SIGKILL test kills
            # here (a restart re-folds its cause and derives the same order under its key).
            crash_point(CRASH_AFTER_INTENT)
        drafts += verdict
        self.position = rec.position
        counted = rec.position > self._quiet_upto  # (a rewind's re-fold: counted already)
        if counted:
            self.stats.records += 1
            name = rec.event.type
            self.stats.by_type[name] = self.stats.by_type.get(name, 0) + 1
        written: list[Recorded] = []
        if drafts:
            # `drain` defers the append to the end of the run of records it folds: what they
            # derive lands after the head either way, so the positions and the fold order are
            # the same, with one commit for the run instead of one per record.
            self.pending += drafts
            self.pending_upto = rec.position
            if not defer:
                written = self.flush()
            self.stats.derived += len(drafts) if counted else 0
        if live and not ahead and self.on_folded is not None:
            self.on_folded(rec)  # (a record folded ahead: once `confirm` has its commit)
        self.since_snapshot += 1
        if self.since_snapshot >= self.run.config.run.snapshot_every and not self.ahead:
            self.save_snapshot()
        return written

    # -- deciding ahead of the commit -----------------------------------------------------

    def fold_ahead(self, draft: Draft) -> None:
        """Fold a market-data draft ingest has just validated, before the append that commits
        it (ingest's `on_pending`): its intents are decided now, their outputs wait in
        `pending` until `confirm` has seen the commit. The record it will be is predictable:
        the next position after what this process folded and the batch's drafts before it,
        the same key and times. What the fold derives depends on the journal before the
        record only, so it is what a fold after the commit derives, provided the record lands
        where predicted; `confirm` checks that (another writer may append in between) and
        rebuilds from the journal when it did not (`_rewind`). The first draft of a batch that
        is not market data (a quarantine, a gap, a health change) and the rest of that batch
        are folded after their commit, as records."""
        if self.settle is None or self.ahead_closed or not draft.stream.startswith("md."):
            self.ahead_closed = self.settle is not None
            return
        if not self.ahead:
            if self.inbox or self.pending:
                self.drain(to_head=False)  # known records come first
            stats = self.stats
            self._ahead_stats = (stats.records, stats.derived, dict(stats.by_type))
        rec = Recorded(self.position + 1, draft.stream, 0, draft.key, draft.event,
                       draft.event_time_ns, draft.recv_time_ns, draft.causation_id, "")  # fmt: skip
        self.ahead.append(rec)
        self.fold(rec, defer=True, ahead=True)

    def confirm(self, records: list[Recorded]) -> None:
        """Ingest's batch is committed (`records`, in batch order): what was folded ahead of it
        must be its first records, position by position; then order send sees them, the
        hashes the stages remember are the journal's, and the decision times count."""
        ahead, self.ahead, self.ahead_closed = self.ahead, [], False
        samples, self._ahead_samples = self._ahead_samples, []
        if not ahead:
            return
        landed = records[: len(ahead)]
        if len(landed) < len(ahead) or any(
            r.position != a.position or r.key != a.key for a, r in zip(ahead, landed, strict=False)
        ):
            self._rewind(ahead[0].position - 1)
            return
        last = landed[-1]
        for stage in (self.monitor, self.signal):
            if stage.position == last.position:
                stage.last_hash = last.hash
        room = 100_000 - len(self.stats.decision_ns)
        self.stats.decision_ns.extend(samples[: max(room, 0)])
        if self.on_folded is not None:
            for rec in landed:
                if rec.position > self._quiet_upto:
                    self.on_folded(rec)

    def _settle(self) -> None:
        """Commit what was folded ahead before anything else is appended or read after it."""
        if self.ahead and self.settle is not None:
            self.settle()
        if self.ahead:  # its append did not come back (it failed): void what was folded
            self._rewind(self.ahead[0].position - 1)

    def _rewind(self, committed_upto: int) -> None:
        """What was folded ahead is not what the journal holds (another writer's records took
        the predicted positions, or the append failed): drop it, with every output derived
        from it (none was appended), and rebuild the stages from the journal as a restart
        does (the newest snapshot, then the tail). Records up to `committed_upto` were folded
        live already: their re-fold sends nothing and times nothing."""
        self.rewinds += 1
        log.warning("the records folded ahead from position %d did not commit there: "
                    "rebuilding from the journal", committed_upto + 1)  # fmt: skip
        self.ahead, self._ahead_samples, self.ahead_closed = [], [], False
        self.pending, self.inbox = [], {}
        self.stats.records, self.stats.derived, by_type = self._ahead_stats
        self.stats.by_type = dict(by_type)
        cfg = self.run.config
        self.monitor = Monitor(cfg.monitor, metrics=self.monitor.metrics)
        self.signal = SignalStage(cfg.signal)
        self.pretrade = self._new_pretrade()
        self.orders, self.positions = Orders(), Positions()
        self.position = self.since_snapshot = 0
        self.cursor_at = self.journal.cursor(CONSUMER)
        self._quiet_upto = max(self._quiet_upto, committed_upto)
        self.restore()
        self.drain()

    # -- appends --------------------------------------------------------------------------

    def append(self, drafts: list[Draft]) -> None:
        """Append records that no folded record caused (heartbeats, timer alerts)."""
        if drafts:
            self._settle()
            self.flush()
            self.offer(self.journal.append(drafts))

    def append_and_fold(self, drafts: list[Draft]) -> None:
        """Append records and fold them at once (order send's reports and timers): the next
        one is judged against them. Records other processes append (commands) are folded by
        the runner's poll (`Runner._housekeeping`), not here."""
        self.append(drafts)
        self.drain(to_head=False)

    def commit(self) -> None:
        """Move the cursor to the last folded position (a clean stop)."""
        self._settle()
        self.flush()
        if self.position > self.cursor_at:
            self.journal.commit_cursor(CONSUMER, self.position)
            self.cursor_at = self.position

    # -- status ---------------------------------------------------------------------------

    def status(self, now_ns: int | None = None) -> tuple[MonitorStatus, list[StrategyStatus]]:
        return self.monitor.status(now_ns), self.signal.status()


def rebuild(journal: Journal, run: LoadedRun) -> Pipeline:
    """The pipeline's state as of the journal's head, without appending (for `zkrisk status`).

    Folds with a read-only view: derived drafts are discarded (the runner appended them, or
    will when it restarts)."""
    pipeline = Pipeline(_ReadOnly(journal), run)
    pipeline.restore()
    pipeline.drain(live=False)
    return pipeline


class _ReadOnly:
    """A journal view that reads through and drops writes (folding without side effects)."""

    in_flight = 1

    def __init__(self, journal: Journal) -> None:
        self._j = journal

    def append(
        self, drafts: Sequence[Draft], *, cursor: tuple[str, int] | None = None
    ) -> list[Recorded]:
        return []

    def append_many(self, batches: Sequence[Sequence[Draft]]) -> list[list[Recorded]]:
        return [[] for _ in batches]

    def read(
        self, after: int = 0, *, streams: Collection[str] | None = None, limit: int = 1000
    ) -> list[Recorded]:
        return self._j.read(after, streams=streams, limit=limit)

    def iter_from(
        self, after: int = 0, *, streams: Collection[str] | None = None
    ) -> Iterator[Recorded]:
        return self._j.iter_from(after, streams=streams)

    def get(self, key: str) -> Recorded | None:
        return self._j.get(key)

    def head(self) -> int:
        return self._j.head()

    def last_sequence(self, stream: str) -> int:
        return self._j.last_sequence(stream)

    def cursor(self, consumer: str) -> int:
        return self._j.cursor(consumer)

    def commit_cursor(self, consumer: str, position: int) -> None:
        return None

    def save_snapshot(self, name: str, position: int, state: bytes) -> None:
        return None

    def load_snapshot(self, name: str) -> tuple[int, bytes] | None:
        return self._j.load_snapshot(name)

    def close(self) -> None:
        return None


# --- the process -----------------------------------------------------------------------------


STAGES = ("ingest", "monitor", "pipeline")
"""The stages a run splits into, one process each (`zkrisk run --stage`), sharing nothing but
the journal: ingest appends market data; the monitor journals trading-state changes and alerts
(monitor_stage.py); the pipeline (signal, pre-trade, order send, fills, with the monitor as a
projection) folds the journal from its own cursor. Signal and pre-trade stay one fold: an
intent is decided on the state its quote left, in the append that journals it."""


class Runner:
    """Ingest and the pipeline on one event loop, plus heartbeats and a poll for commands; or
    one of the `STAGES` alone (`stage`), the others in processes of their own on the journal.

    Apart, the pipeline learns of ingest's records by polling the journal's head (`[run]
    poll_ms`) instead of being handed them, and each process journals its own heartbeat; what
    the fold decides is the same function of the journal (see the module docstring)."""

    def __init__(self, journal: Journal, run: LoadedRun, *, stage: str = "all") -> None:
        if stage not in ("all", *STAGES):
            raise ValueError(f"stage {stage!r}: use all, {' or '.join(STAGES)}")
        self.journal, self.run, self.stage = journal, run, stage
        self.registry = CollectorRegistry(auto_describe=True)
        """Every component's metrics (zkrisk_feed_*, zkrisk_pipeline_*), for one /metrics."""
        self.feed_metrics = IngestMetrics(self.registry)
        metrics = PipelineMetrics(self.registry)
        self.pipeline = Pipeline(journal, run, metrics=metrics,
                                 journals_monitor=stage == "all")  # fmt: skip
        self.monitor_stage = None if stage != "monitor" else MonitorStage(
            journal, run.config.monitor, metrics=metrics,
            snapshot_every=run.config.run.snapshot_every)  # fmt: skip
        together = stage == "all"
        self.ingest = Ingest(journal, run.ingest, metrics=self.feed_metrics,
                             on_records=self._on_ingested if together else None,
                             on_pending=self.pipeline.fold_ahead if together else None)  # fmt: skip
        if together:  # quotes are decided as ingest validates them, before their commit
            self.pipeline.settle = self.ingest.flush
        folds = stage in ("all", "pipeline")
        paper = run.config.venue.kind == "paper"
        self.order_send = None if paper or not folds else self._order_send()
        self.started_ns = _now_ns()
        venue = None if self.order_send is None else self.order_send.venue
        bound = binding_of(run.config.venue, venue)
        self.binding = [] if not folds else bind(journal, bound, journal_path=run.journal_path,
                                                 now_ns=self.started_ns)  # fmt: skip
        """The journal's VenueBound, if it has none yet (JournalVenueMismatch: another venue's)."""
        self.ingest_done = stage == "pipeline"
        """No ingest in this process (done, or another process's): it journals no heartbeat."""

    def _order_send(self) -> OrderSend:
        cfg = self.run.config
        venue = make_venue(cfg.venue)
        if cfg.venue.kind == "uniswap":  # its transactions are journaled before they are sent
            from .venues.uniswap import UniswapVenue
            from .venues.uniswap_txlog import JournalTxLog

            assert isinstance(venue, UniswapVenue)
            venue.tx_log = JournalTxLog(self.journal, venue.name, lambda: self.pipeline.orders,
                                        self._append_and_fold)  # fmt: skip
        send = OrderSend(venue, self.pipeline, self._append_and_fold, config=cfg.venue.orders,
                         symbols=tuple(cfg.ingest.symbols),
                         reconcile_every_s=cfg.venue.reconcile_every_s,
                         tolerance=cfg.venue.reconcile_tolerance,
                         cancel_on_stop=cfg.venue.cancel_on_stop)  # fmt: skip
        self.pipeline.on_folded = send.on_folded
        return send

    def _append_and_fold(self, drafts: list[Draft]) -> None:
        self.pipeline.append_and_fold(drafts)

    def _on_ingested(self, records: list[Recorded]) -> None:
        self.pipeline.confirm(records)
        self.pipeline.offer(records)
        self.pipeline.drain(to_head=False)  # commands other processes append: the poll's

    async def run_until(self, stop: asyncio.Event) -> None:
        folds = self.stage in ("all", "pipeline")
        if self.binding:
            self.journal.append(self.binding)
        if folds:
            self.pipeline.restore()
            self.pipeline.drain()  # catch up on what the last run journaled but did not fold
        freeze_start_up_heap()
        loop = self._monitoring if self.monitor_stage is not None else self._housekeeping
        tasks = [asyncio.create_task(loop(stop), name="housekeeping")]
        if self.stage in ("all", "ingest"):
            tasks.append(asyncio.create_task(self._ingest(stop), name="ingest"))
        if self.order_send is not None:
            tasks.append(asyncio.create_task(self.order_send.run(stop), name="order-send"))

        def stop_on_failure(task: asyncio.Task[None]) -> None:
            if not task.cancelled() and task.exception() is not None:
                stop.set()  # a failed task (a venue refusing the run) stops the others

        for task in tasks:
            task.add_done_callback(stop_on_failure)
        try:
            await stop.wait()
        finally:
            stop.set()
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
            if folds:
                self.pipeline.drain()
                self.pipeline.commit()
                self.pipeline.save_snapshot()
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome  # after the clean stop: what was journaled is folded and committed

    async def _ingest(self, stop: asyncio.Event) -> None:
        try:
            await self.ingest.run(stop)
        finally:
            self.ingest_done = True
            if self.stage == "ingest":
                stop.set()  # every source ended (a recorded file): this process is done

    async def _monitoring(self, stop: asyncio.Event) -> None:
        """The monitor stage's loop: fold what the others journal, judge heartbeats."""
        assert self.monitor_stage is not None
        poll_s = self.run.config.run.poll_ms / 1e3
        try:
            while not stop.is_set():
                self.monitor_stage.drain()
                self.monitor_stage.timers(_now_ns())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), poll_s)
        finally:
            self.monitor_stage.stop()

    async def _housekeeping(self, stop: asyncio.Event) -> None:
        cfg = self.run.config.run
        next_beat = 0.0
        while not stop.is_set():
            now = time.monotonic()
            if now >= next_beat:
                at = _now_ns()
                alive = [c for c in COMPONENTS if c != "ingest" or not self.ingest_done]
                if self.stage == "ingest":  # the pipeline's process journals its own beat
                    self.journal.append([heartbeat_draft("ingest", at)] if alive else [])
                    if self.ingest_done:
                        return
                else:
                    self.pipeline.append([heartbeat_draft(c, at) for c in alive])
                next_beat = now + cfg.heartbeat_ms / 1e3
            if self.stage == "ingest":
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), cfg.heartbeat_ms / 1e3)
                continue
            self.pipeline.drain()  # records other processes appended (commands)
            if self.pipeline.journals_monitor:  # else the monitor's process judges them
                self.pipeline.append(self.pipeline.monitor.check_heartbeats(_now_ns()))
            self.pipeline.drain()
            self.pipeline.monitor.metrics.observe_strategies(self.pipeline.signal.status())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), cfg.poll_ms / 1e3)


class RunLocked(RuntimeError):
    """Another runner holds this journal."""


def lock_journal(journal_path: Path, stage: str = "pipeline") -> IO[str]:
    """Hold `<journal>.lock` (the pipeline's; `<journal>.<stage>.lock` for another stage) for
    the life of the process, so two runners never fold and write one journal (their cursors and
    derived events would interleave); the OS drops the lock when the process dies, even by
    SIGKILL."""
    suffix = "lock" if stage == "pipeline" else f"{stage}.lock"
    handle = (journal_path.parent / f"{journal_path.name}.{suffix}").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise RunLocked(
            f"{journal_path}: another zkrisk run ({holder}) runs its {stage} stage on this "
            "journal: stop it, or give this run its own [run] journal"
        ) from None
    handle.truncate(0)
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    return handle


def decision_percentiles(samples: list[int]) -> dict[str, Decimal]:
    """p50 / p99 of quote-received → verdict times, µs."""
    if not samples:
        return {}
    ordered = sorted(samples)

    def at(q: float) -> Decimal:
        return Decimal(ordered[min(len(ordered) - 1, int(q * len(ordered)))]) / 1000

    return {"p50_us": at(0.50), "p99_us": at(0.99)}
