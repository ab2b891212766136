"""The monitor as a process of its own (`zkrisk run --stage monitor`): a durable consumer.

It folds every journal record after its cursor ('monitor') through `Monitor.on_event` and
appends what that derives (trading-state changes, alerts) with the cursor in the same append:
exactly-once across a SIGKILL, as every stage. On a timer it judges heartbeats, so a pipeline
process that dies (or hangs) is reported by a process that did not die with it.

The pipeline process keeps a `Monitor` of its own as a projection (its drafts are not
journaled there, see `Pipeline(journals_monitor=False)`): a pure fold of the same records, so
the trading state pre-trade judges by is the one this process journals, as of the same
position — a breaker refuses the very intent its quote causes, as in one process.
"""

from __future__ import annotations

import logging

from ..journal.base import Journal
from ..journal.events import Draft
from .monitor import Monitor, MonitorConfig, PipelineMetrics
from .stage_snapshot import load_stage, save_stage

log = logging.getLogger(__name__)

CONSUMER = "monitor"
SNAPSHOT = "monitor.stage"


class MonitorStage:
    """The monitor folding the journal from its own cursor (see the module docstring)."""

    def __init__(
        self,
        journal: Journal,
        config: MonitorConfig,
        *,
        metrics: PipelineMetrics | None = None,
        snapshot_every: int = 5_000,
    ) -> None:
        self.journal, self.config = journal, config
        self.metrics = metrics or PipelineMetrics()
        self.snapshot_every = snapshot_every
        loaded = load_stage(
            journal,
            SNAPSHOT,
            fresh=lambda: Monitor(config, metrics=self.metrics),
            restore=lambda data: Monitor.from_bytes(config, data, metrics=self.metrics),
        )
        log.info("monitor stage: %s", loaded.note)
        self.monitor = loaded.stage
        self.cursor_at = journal.cursor(CONSUMER)
        self.folded = 0
        self._since_snapshot = 0

    def drain(self) -> int:
        """Fold every record up to the head; returns how many."""
        folded = 0
        while page := self.journal.read(after=self.monitor.position, limit=1000):
            for rec in page:
                drafts = self.monitor.on_event(rec)
                if drafts:
                    # Behind the committed cursor (a snapshot older than it), the outputs are
                    # there already: they dedupe by key and the cursor stays put.
                    ahead = rec.position > self.cursor_at
                    cursor = (CONSUMER, rec.position) if ahead else None
                    self.journal.append(drafts, cursor=cursor)
                    self.cursor_at = max(self.cursor_at, rec.position)
                self._since_snapshot += 1
                if self._since_snapshot >= self.snapshot_every:
                    self.save_snapshot()
            folded += len(page)
        self.folded += folded
        return folded

    def timers(self, now_ns: int) -> None:
        """Heartbeat ages as of now (alerts no record causes)."""
        drafts: list[Draft] = self.monitor.check_heartbeats(now_ns)
        if drafts:
            self.journal.append(drafts)

    def stop(self) -> None:
        """A clean stop: fold to the head, move the cursor, snapshot."""
        self.drain()
        if self.monitor.position > self.cursor_at:
            self.journal.commit_cursor(CONSUMER, self.monitor.position)
            self.cursor_at = self.monitor.position
        self.save_snapshot()

    def save_snapshot(self) -> None:
        self._since_snapshot = 0
        if self.monitor.position > self.cursor_at:  # a snapshot never runs ahead of the cursor
            self.journal.commit_cursor(CONSUMER, self.monitor.position)
            self.cursor_at = self.monitor.position
        save_stage(self.journal, SNAPSHOT, self.monitor)
