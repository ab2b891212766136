"""Stage 1, ingest: sources → validate → dedupe → order → batched journal appends.

One asyncio task per source pumps its items into one bounded queue (a full queue stops the
reading, so a burst is held by the socket, not by memory); one writer task validates
(validate.py), orders (ordering.py), judges health (health.py) and appends batches of up to
`batch_size` events, or whatever arrived within `batch_ms`, in one journal transaction each.
On a journal whose commit waits on a server (JetStream), when no stage in the same process
folds ingest's records, a batch is sent from a thread while the next one is validated, and
what gathers meanwhile goes as up to `in_flight` batches at once (`append_many`).

Only the active source's messages are journaled (to `md.<source>`; refusals, gaps and health
changes to `ingest`); the others are kept connected and ordered, as a hot standby, so a failover
loses nothing that the standby had. On start the last sequence per source and stream comes from
the journal (heads.py), so a restarted ingest asks the server to resume after it and drops the
copies that still arrive.

Entry point for the runner: `await run_ingest(journal, config, stop)`; `Ingest` for a status
view (`snapshot()`) and for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from ..journal.base import Journal
from ..journal.events import Draft, FeedGap, FeedHealth, Quarantined, Recorded
from .heads import SequenceHeads
from .health import Failover, HealthChange, HealthRules
from .ingest_config import IngestConfig, SourceConfig
from .ordering import Gap, Monotone, Outcome, Reorderer
from .sources.base import Item, Link, RawMessage, Source
from .validate import (
    Accepted,
    Reason,
    Refused,
    Rules,
    parse_message,
    quarantine_key,
    truncate_raw,
)

MS = 1_000_000
TICK_S = 0.02
"""How often health and reorder timeouts are judged when no message arrives."""
_WAKE = Link("", True, "a batch landed", 0)
"""Queued when a batch on the way lands, so a writer waiting for messages looks again."""


class IngestMetrics:
    """Prometheus metrics on a private registry (serve them with the component's /metrics)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.messages = Counter("zkrisk_feed_messages", "Market-data messages by outcome "
                                "(accepted, duplicate, quarantined, standby).",
                                ["source", "outcome"], registry=self.registry)  # fmt: skip
        self.quarantined = Counter("zkrisk_feed_quarantined", "Quarantined messages by reason.",
                                   ["source", "reason"], registry=self.registry)  # fmt: skip
        self.gaps = Counter("zkrisk_feed_gaps", "Sequence gaps declared.", ["source"],
                            registry=self.registry)  # fmt: skip
        self.active = Gauge("zkrisk_feed_active_source", "1 for the source ingest reads from.",
                            ["source"], registry=self.registry)  # fmt: skip
        self.lag = Gauge("zkrisk_feed_lag_seconds", "Receive time minus event time of the last "
                         "accepted message.", ["source"], registry=self.registry)  # fmt: skip


def build_source(cfg: SourceConfig, symbols: Sequence[str], resume: Any) -> Source:
    """The source a config entry names (imports lazily: web3 only for chain sources)."""
    if cfg.kind == "websocket":
        from .sources.ws import WebSocketSource

        assert cfg.url is not None
        return WebSocketSource(cfg.name, cfg.url, symbols, resume_points=resume,
                               backoff_s=cfg.backoff_ms / 1e3,
                               max_backoff_s=cfg.max_backoff_ms / 1e3)  # fmt: skip
    if cfg.kind == "file":
        from .sources.recorded import RecordedSource

        assert cfg.path is not None
        return RecordedSource(cfg.name, cfg.path, clock=cfg.clock, rate_hz=cfg.rate_hz)
    from .sources.chain import ChainFeedSource

    assert cfg.url is not None
    return ChainFeedSource(cfg.name, cfg.url, cfg.feeds, poll_s=cfg.poll_ms / 1e3,
                           resume_points=resume, backoff_s=cfg.backoff_ms / 1e3,
                           max_backoff_s=cfg.max_backoff_ms / 1e3)  # fmt: skip


@dataclass
class _Ordered:
    """What waits in the reorder buffer: an accepted event or a refusal that holds a sequence."""

    msg: RawMessage
    parsed: Accepted | Refused


@dataclass
class _Counts:
    by_outcome: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: str, n: int = 1) -> None:
        self.by_outcome[outcome] = self.by_outcome.get(outcome, 0) + n


class Ingest:
    """The writer side of ingest; `run()` drives it from the sources until `stop` is set."""

    def __init__(
        self,
        journal: Journal,
        config: IngestConfig,
        *,
        metrics: IngestMetrics | None = None,
        sources: Mapping[str, Source] | None = None,
        on_records: Callable[[list[Recorded]], None] | None = None,
        on_pending: Callable[[Draft], None] | None = None,
    ) -> None:
        """`on_records` sees each appended batch (the runner folds it without reading it back);
        `on_pending` each draft as it joins the batch, in batch order, before its append (the
        runner decides on a quote before its commit: `Pipeline.fold_ahead`)."""
        self.journal, self.config = journal, config
        self.on_records, self.on_pending = on_records, on_pending
        self.metrics = metrics or IngestMetrics()
        self.symbols = frozenset(config.symbols)
        self.order = [s.name for s in config.sources]
        self.rules = {
            s.name: Rules(self.symbols, s.max_age_ms * MS, s.max_skew_ms * MS)
            for s in config.sources
        }
        now = time.time_ns()
        down = {s.name: s for s in config.sources}
        self.failover = Failover(
            self.order,
            HealthRules(
                down_after_ns=min(down[n].down_after_ms for n in self.order) * MS,
                max_silence_ns=min(down[n].max_silence_ms for n in self.order) * MS,
                gap_threshold=config.gap_threshold,
                gap_window_ns=config.gap_window_ms * MS,
                failback_after_ns=config.failback_after_ms * MS,
            ),
            now,
        )
        self.heads = SequenceHeads.load(journal, self.order)
        self.reorder: dict[str, Reorderer[_Ordered]] = {}
        self.rounds: dict[str, Monotone] = {}
        for name in self.order:
            self.reorder[name] = Reorderer(config.reorder_window, config.reorder_timeout_ms * MS)
            self.rounds[name] = Monotone()
            for stream, seq in self.heads.heads.get(name, {}).items():
                (self.rounds if stream.startswith("0x") else self.reorder)[name].seed(stream, seq)
        self.sources = dict(sources) if sources is not None else {
            s.name: build_source(s, config.symbols, self._resume_for(s.name))
            for s in config.sources
        }  # fmt: skip
        self.queue: asyncio.Queue[Item] = asyncio.Queue(maxsize=config.queue_size)
        self.pending: list[Draft] = []
        self._overlap = journal.in_flight > 1 and on_pending is None and on_records is None
        """Send batches from a thread while reading on (a journal whose commit waits on its
        server, when no stage in this process folds what ingest writes: `_hand_over`)."""
        self._gather = config.batch_size * journal.in_flight
        """Drafts gathered while a batch is on the way: up to `in_flight` batches at once."""
        self._on_the_way: asyncio.Future[tuple[int, list[Recorded]]] | None = None
        self._pending_since = 0.0
        self._since_snapshot = 0
        self.counts = _Counts()
        self.max_queue_seen = 0
        self.max_batch_seen = 0
        self._counters: dict[tuple[str, str], Any] = {}
        """Each (source, outcome)'s message counter, looked up once (see `_count`)."""
        self._lag_ns = dict.fromkeys(self.order, 0)
        """Each source's last lag, ns: its gauge converts it when scraped (set_function),
        so a message costs one store, not a gauge's lock and a float."""
        for name in self.order:
            self.metrics.lag.labels(name).set_function(partial(self._lag_seconds, name))
        self._set_active_metric()

    # --- resume points ---------------------------------------------------------------------

    def _resume_for(self, source: str) -> Any:
        def points() -> dict[str, int]:
            return self.resume_points(source)

        return points

    def resume_points(self, source: str) -> dict[str, int]:
        """Called by a source on each connect: the active one resumes where ingest stands;
        a standby joins live (its old head would only replay what nobody will journal)."""
        if source == self.failover.active:
            return {**self.reorder[source].heads(), **self.rounds[source].heads()}
        for stream in list(self.reorder[source].heads()):
            self.reorder[source].forget(stream)
        return {}

    # --- handling one item -----------------------------------------------------------------

    def handle(self, item: Item, now_ns: int) -> None:
        if isinstance(item, Link):
            if item.up:
                self.failover.connected(item.source, now_ns)
            else:
                self.failover.disconnected(item.source, now_ns)
            return
        self.failover.message(item.source, now_ns)
        parsed = parse_message(item.source, item.text, item.recv_time_ns, self.rules[item.source])
        standby = item.source != self.failover.active
        if isinstance(parsed, Accepted) and parsed.seq is not None and not parsed.gapless:
            if not self.rounds[item.source].offer(parsed.stream_id, parsed.seq):
                return self._count(item.source, "duplicate")
            return self._release(item, parsed, standby)
        seq = parsed.seq
        symbol = parsed.stream_id if isinstance(parsed, Accepted) else parsed.symbol
        if seq is None or symbol not in self.symbols:
            return self._release(item, parsed, standby)
        step = self.reorder[item.source].offer(symbol, seq, _Ordered(item, parsed), now_ns)
        if step.outcome is Outcome.DUPLICATE:
            self._count(item.source, "duplicate")
        elif step.outcome is Outcome.LATE:
            late = Refused(Reason.LATE, f"sequence {seq} of {symbol} arrived after it was "
                           "declared a gap", symbol, seq)  # fmt: skip
            self._release(item, late, standby)
        self._apply_step(item.source, step.released, step.gaps, standby, now_ns)

    def _apply_step(
        self, source: str, released: list[_Ordered], gaps: list[Gap], standby: bool, now: int
    ) -> None:
        for gap in gaps:
            self.failover.gap(source, now)
            if not standby:
                self.metrics.gaps.labels(source).inc()
                event = FeedGap(source=source, symbol=gap.stream, expected=gap.expected,
                                received=gap.received)  # fmt: skip
                key = f"gap:{source}:{gap.stream}:{gap.expected}"
                self._add(Draft("ingest", key, event, now, now))
        for item in released:
            self._release(item.msg, item.parsed, standby)

    def _release(self, msg: RawMessage, parsed: Accepted | Refused, standby: bool) -> None:
        if standby:
            return self._count(msg.source, "standby")
        if isinstance(parsed, Accepted):
            self._add(Draft(f"md.{msg.source}", parsed.key, parsed.event, parsed.event_time_ns,
                            msg.recv_time_ns))  # fmt: skip
            self._lag_ns[msg.source] = msg.recv_time_ns - parsed.event_time_ns
            return
        known = parsed.symbol in self.symbols
        event = Quarantined(source=msg.source, reason=parsed.reason.value, detail=parsed.detail,
                            raw=truncate_raw(msg.text), symbol=parsed.symbol if known else None,
                            source_seq=parsed.seq if known else None)  # fmt: skip
        key = quarantine_key(msg.source, msg.text)
        self._add(Draft("ingest", key, event, msg.recv_time_ns, msg.recv_time_ns))

    def _add(self, draft: Draft) -> None:
        self.pending.append(draft)
        if self.on_pending is not None:
            self.on_pending(draft)

    def _lag_seconds(self, source: str) -> float:
        return self._lag_ns[source] / 1e9

    def _count(self, source: str, outcome: str) -> None:
        self.counts.add(outcome)
        child = self._counters.get((source, outcome))
        if child is None:  # (`labels` takes a lock and builds its key: once per pair)
            child = self._counters[(source, outcome)] = self.metrics.messages.labels(
                source, outcome
            )
        child.inc()

    def tick(self, now_ns: int) -> None:
        """Reorder timeouts and health: run whenever the queue is idle or a batch is flushed."""
        for source in self.order:
            step = self.reorder[source].expire(now_ns)
            standby = source != self.failover.active
            self._apply_step(source, step.released, step.gaps, standby, now_ns)
        for change in self.failover.evaluate(now_ns):
            self._health(change, now_ns)

    def _health(self, change: HealthChange, now: int) -> None:
        event = FeedHealth(source=change.source, status=change.status, reason=change.reason,
                           active_source=change.active_source)  # fmt: skip
        key = f"health:{change.source}:{change.status.value}:{now}"
        self._add(Draft("ingest", key, event, now, now))
        self._set_active_metric()

    def _set_active_metric(self) -> None:
        for name in self.order:
            self.metrics.active.labels(name).set(1 if name == self.failover.active else 0)

    # --- writing ---------------------------------------------------------------------------

    def flush(self) -> list[Recorded]:
        """Append what is pending now and account for it (the caller waits for the commit)."""
        if not self.pending:
            return []
        drafts, self.pending = self.pending, []
        return self._recorded(*self._append(drafts))

    def _append(self, drafts: list[Draft]) -> tuple[int, list[Recorded]]:
        """(the head before, the records): one batch, or the batches a burst gathered."""
        size = self.config.batch_size
        self.max_batch_seen = max(self.max_batch_seen, min(len(drafts), size))
        before = self.journal.head()
        if len(drafts) <= size:
            return before, self.journal.append(drafts)
        chunks = [drafts[i : i + size] for i in range(0, len(drafts), size)]
        return before, [r for batch in self.journal.append_many(chunks) for r in batch]

    def _recorded(self, before: int, records: list[Recorded]) -> list[Recorded]:
        fresh: set[int] = set()  # a key repeated within the batch returns the same record
        for rec in records:
            self.heads.apply(rec)
            new = rec.position > before and rec.position not in fresh
            fresh.add(rec.position)
            if rec.stream.startswith("md."):
                outcome = "accepted" if new else "duplicate"
                source = rec.stream[3:]
            elif isinstance(rec.event, Quarantined):
                outcome = "quarantined" if new else "duplicate"
                source = rec.event.source
                if outcome == "quarantined":
                    self.metrics.quarantined.labels(source, rec.event.reason).inc()
            else:
                continue
            self._count(source, outcome)
        self._since_snapshot += len(records)
        if self._since_snapshot >= self.config.snapshot_every:
            self.heads.save(self.journal)
            self._since_snapshot = 0
        if self.on_records is not None:
            self.on_records(records)
        return records

    async def _hand_over(self) -> None:
        """Overlapped flush: wait for the batch on the way (its records are accounted for in
        commit order), then send what is pending from a thread and go back to reading. The
        journal's commit waits on its server, so ingest validates the next batch meanwhile
        instead of idling; one batch (or one `append_many`) is on the way at a time."""
        await self._land()
        if self.pending:
            drafts, self.pending = self.pending, []
            self._on_the_way = asyncio.ensure_future(asyncio.to_thread(self._append, drafts))
            self._on_the_way.add_done_callback(self._wake)

    async def _land(self) -> None:
        if self._on_the_way is not None:
            landed, self._on_the_way = self._on_the_way, None
            self._recorded(*await landed)

    def _wake(self, _: object) -> None:
        with contextlib.suppress(asyncio.QueueFull):  # a full queue: the loop is not waiting
            self.queue.put_nowait(_WAKE)

    # --- running ---------------------------------------------------------------------------

    async def _pump(self, source: Source) -> None:
        await source.connect()
        async for item in source.stream():
            await self.queue.put(item)

    async def run(self, stop: asyncio.Event) -> None:
        pumps = [asyncio.create_task(self._pump(s), name=f"ingest:{n}")
                 for n, s in self.sources.items()]  # fmt: skip
        try:
            await self._write_loop(stop, pumps)
        finally:
            for source in self.sources.values():
                await source.close()
            for task in pumps:
                task.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            await self._land()
            self.tick(time.time_ns())
            self.flush()
            self.heads.save(self.journal)

    async def _write_loop(self, stop: asyncio.Event, pumps: list[asyncio.Task[None]]) -> None:
        batch_s = self.config.batch_ms / 1e3
        last_tick = time.monotonic()
        while not stop.is_set():
            self.max_queue_seen = max(self.max_queue_seen, self.queue.qsize())
            if self.queue.empty():
                if all(t.done() for t in pumps):
                    for t in pumps:
                        if not t.cancelled() and t.exception() is not None:
                            raise t.exception()  # type: ignore[misc]
                    return  # every source ended (recorded files)
                wait = batch_s if self.pending else TICK_S
                try:  # (`timeout`, not `wait_for`: no task of its own to hop through)
                    async with asyncio.timeout(wait):
                        item = await self.queue.get()
                except TimeoutError:
                    item = None
            else:
                item = self.queue.get_nowait()
            now = time.time_ns()
            if item is not None and item is not _WAKE:
                if not self.pending:
                    self._pending_since = time.monotonic()
                self.handle(item, now)
            mono = time.monotonic()
            if mono - last_tick >= TICK_S:
                self.tick(now)
                last_tick = mono
            # Group commit: append as soon as nothing more is queued (a lone quote waits for
            # no one), so batches grow only under a burst, up to batch_size / batch_ms.
            full = len(self.pending) >= self.config.batch_size
            due = full or self.queue.empty() or mono - self._pending_since >= batch_s
            if not self.pending or not due:
                continue
            if not self._overlap:
                self.flush()
                await asyncio.sleep(0)  # let the pumps refill the queue
            else:  # the batch on the way has landed, or it is slow and enough has gathered
                on_the_way = self._on_the_way
                if on_the_way is None or on_the_way.done() or len(self.pending) >= self._gather:
                    await self._hand_over()

    def snapshot(self) -> dict[str, Any]:
        """Per-source health, the active source, counts and stream heads (for `zkrisk status`)."""
        return {
            "active_source": self.failover.active,
            "sources": self.failover.snapshot(),
            "counts": dict(self.counts.by_outcome),
            "heads": {s: dict(h) for s, h in self.heads.heads.items()},
            "queued": self.queue.qsize(),
        }


async def run_ingest(
    journal: Journal,
    config: IngestConfig,
    stop: asyncio.Event,
    *,
    metrics: IngestMetrics | None = None,
) -> Ingest:
    """Run ingest until `stop` is set (or every source has ended); returns it for its stats."""
    ingest = Ingest(journal, config, metrics=metrics)
    await ingest.run(stop)
    return ingest
