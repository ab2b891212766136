"""Stage 6, monitor: live equity, drawdown and daily loss, breakers, heartbeats, alerts.

`Monitor.on_event(recorded) -> list[Draft]` is pure given the monitor's state (plus Prometheus
gauges it keeps current): the runner feeds it every record in journal order and appends what
it returns. Everything it decides is derived from the records (event times for the UTC day,
receive times for heartbeat ages) and keyed off the record that caused it, so a replay after a
crash re-derives the same drafts and their re-append is a no-op.

- Equity = starting equity + paper P&L (the `PaperBook` projection: fills and marks).
- Drawdown is measured from the peak equity, and the peak starts at the starting equity, so a
  loss on the very first mark is a drawdown.
- Daily loss is measured from the UTC day's opening equity: the equity before the first event
  stamped in that day.
- Breakers (`breakers.BreakerPolicy`) move the trading state up, never down; an operator's
  RESUME command (an `OperatorCommand` on stream 'control') is the only way back, and it resets
  the breaker baselines (peak and the day's opening equity) to the current equity. The kill
  switch is the same command path: KILL_SWITCH moves to HALTED through `breakers.transition`.
- A component whose last heartbeat is older than interval × tolerance raises one
  'HeartbeatMissed' alert; its next heartbeat raises one 'HeartbeatRecovered'.

Snapshots: `to_bytes()` / `Monitor.from_bytes(config, data)` carry every piece of state in a
`stage_snapshot` envelope (the Prometheus metrics are re-published from it); a record at or
before `position` is ignored, so a tail replay cannot apply one twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from pydantic import BaseModel, ConfigDict, Field, Strict

from ..journal.crashpoints import crash_point
from ..journal.events import (
    Alert,
    AlertSeverity,
    Draft,
    FeedHealth,
    FeedStatus,
    Heartbeat,
    OperatorCommand,
    OrderFilled,
    PaperFill,
    Quote,
    ReconcileMismatch,
    Recorded,
    StrategyDisabled,
    TradingStateChanged,
)
from ..risk import fixed_point as fp
from ..risk.models import ExactDecimal, TradingState
from .breakers import BreakerPolicy, Reading, TransitionReason, breach, transition
from .paper import PaperBook, is_market_data
from .signal import StrategyStatus
from .stage_snapshot import SnapshotError, decode, encode
from .strategies.base import DecimalText, StateModel

DAY_NS = 86_400 * 1_000_000_000
_MS = 1_000_000
CRASH_POINT = "monitor.breaker_transition"
SNAPSHOT = "monitor.stage"
"""The journal snapshot name of the monitor (`stage_snapshot.load_stage`)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class HeartbeatRule(_Frozen):
    interval_ms: Annotated[int, Field(ge=1)] = 1_000
    """How often the component sends a heartbeat."""
    tolerance: Annotated[ExactDecimal, Field(gt=1)] = Decimal(3)
    """A heartbeat older than interval × tolerance is missed."""


class MonitorConfig(_Frozen):
    starting_equity_usd: Annotated[ExactDecimal, Field(gt=0)]
    """Paper equity before the first fill, USD; also the first peak and day's opening equity."""
    breakers: BreakerPolicy = BreakerPolicy()
    heartbeats: dict[str, HeartbeatRule] = Field(default_factory=dict)
    """Components that must send heartbeats (missed from the start if they never do)."""
    default_heartbeat: HeartbeatRule = HeartbeatRule()
    """The rule for a component that sends heartbeats without being listed."""


@dataclass(slots=True)
class _Beat:
    last_ns: int
    last_key: str
    missed: bool = False


@dataclass(frozen=True, slots=True)
class HeartbeatStatus:
    age_seconds: Decimal
    missed: bool
    last_ns: int | None


@dataclass(frozen=True, slots=True)
class MonitorStatus:
    """The monitor's view for `zkrisk status`."""

    trading_state: TradingState
    reason: str
    detail: str
    equity_usd: Decimal
    pnl_usd: Decimal
    peak_usd: Decimal
    drawdown_bps: Decimal
    daily_loss_usd: Decimal
    heartbeats: dict[str, HeartbeatStatus]
    alerts: dict[tuple[str, str], int]


class PipelineMetrics:
    """Prometheus metrics of the pipeline, on a private registry (stable names)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.trading_state = Gauge("zkrisk_pipeline_trading_state",
            "1 for the current trading state, 0 for the others.", ["state"], registry=r)  # fmt: skip
        self.equity = Gauge("zkrisk_pipeline_equity_usd", "Paper equity, USD.", registry=r)
        self.drawdown = Gauge("zkrisk_pipeline_drawdown_ratio",
            "Drawdown from the peak equity, as a fraction of the peak (0.05 = 5%).", registry=r)  # fmt: skip
        self.drawdown_limit = Gauge("zkrisk_pipeline_drawdown_limit_ratio",
            "The drawdown breaker that moves to `state` (one series per configured breaker).",
            ["state"], registry=r)  # fmt: skip
        self.daily_loss = Gauge("zkrisk_pipeline_daily_loss_usd",
            "Loss since the UTC day's opening equity, USD.", registry=r)  # fmt: skip
        self.alerts = Counter("zkrisk_pipeline_alerts_total", "Alerts journaled.",
                              ["name", "severity"], registry=r)  # fmt: skip
        self.heartbeat_age = Gauge("zkrisk_pipeline_heartbeat_age_seconds",
            "Seconds since the component's last heartbeat.", ["component"], registry=r)  # fmt: skip
        self.heartbeat_missed = Gauge("zkrisk_pipeline_heartbeat_missed",
            "1 while the monitor holds the component's heartbeat missed.", ["component"],
            registry=r)  # fmt: skip
        self.reconcile_mismatches = Counter("zkrisk_pipeline_reconcile_mismatches_total",
            "ReconcileMismatch events: the book disagrees with the venue (incremented by "
            "reconciliation, issue 13; 0 until it lands).", registry=r)  # fmt: skip
        self.strategy_pnl = Gauge("zkrisk_pipeline_strategy_pnl_usd",
            "A strategy's paper P&L, USD.", ["strategy"], registry=r)  # fmt: skip
        self.strategy_intents = Counter("zkrisk_pipeline_strategy_intents_total",
            "Intents a strategy emitted.", ["strategy"], registry=r)  # fmt: skip
        self._intents_seen: dict[str, int] = {}
        self.reading: Reading | None = None
        """The monitor's latest reading, which the equity, drawdown and daily-loss gauges
        convert when scraped (`publish`): an event costs one assignment on the quote → verdict
        path, not three Decimal conversions."""
        self.equity.set_function(lambda: self._of(lambda r: r.equity))
        self.drawdown.set_function(lambda: self._of(lambda r: r.drawdown_bps / fp.BPS_SCALE))
        self.daily_loss.set_function(lambda: self._of(lambda r: r.daily_loss))
        self.set_state(TradingState.ACTIVE)

    def publish(self, reading: Reading) -> None:
        self.reading = reading  # one store: a scrape from another thread sees a whole reading

    def _of(self, figure: Callable[[Reading], Decimal]) -> float:
        reading = self.reading
        return 0.0 if reading is None else float(figure(reading))

    def set_breakers(self, policy: BreakerPolicy) -> None:
        """Publish the drawdown breakers, so an alert can compare the drawdown with them."""
        limits = {TradingState.REDUCING: policy.reducing_drawdown_bps,
                  TradingState.HALTED: policy.halt_drawdown_bps}  # fmt: skip
        for state, bps in limits.items():
            if bps is not None:
                self.drawdown_limit.labels(state=state.value).set(bps / fp.BPS_SCALE)

    def set_state(self, state: TradingState) -> None:
        for s in TradingState:
            self.trading_state.labels(state=s.value).set(1 if s is state else 0)

    def observe_strategies(self, strategies: list[StrategyStatus]) -> None:
        """Copy the signal stage's per-strategy metrics (call after each batch)."""
        for s in strategies:
            self.strategy_pnl.labels(strategy=s.id).set(float(s.pnl_usd))
            delta = s.intents_total - self._intents_seen.get(s.id, 0)
            if delta > 0:
                self.strategy_intents.labels(strategy=s.id).inc(delta)
            self._intents_seen[s.id] = s.intents_total


@dataclass(slots=True)
class Monitor:
    config: MonitorConfig
    metrics: PipelineMetrics = field(default_factory=PipelineMetrics)
    state: TradingState = TradingState.ACTIVE
    reason: str = ""
    detail: str = ""
    book: PaperBook = field(init=False)
    peak: Decimal = field(init=False)
    day: int | None = None
    day_open: Decimal = field(init=False)
    started_ns: int | None = None
    clock_ns: int = 0
    """The latest receive time seen: heartbeat ages are measured against it."""
    beats: dict[str, _Beat] = field(default_factory=dict)
    alerts: dict[tuple[str, str], int] = field(default_factory=dict)
    position: int = 0
    """The position of the last record applied."""
    last_hash: str = ""
    """That record's hash (binds a snapshot to its journal)."""
    _due_ns: int | None = field(default=None, init=False, repr=False, compare=False)
    """No heartbeat can be missed before this (the earliest last beat + limit of the beats
    not missed; None: not known, judge them all): `check_heartbeats` runs on every event, and
    looping over the components was a tenth of a quote's monitor time. Any change to `beats`
    sets it back to None."""

    def __post_init__(self) -> None:
        start = self.config.starting_equity_usd
        self.book = PaperBook(starting_equity=start)
        self.peak = start
        self.day_open = start
        self.metrics.publish(Reading(equity=start, peak=start, day_open=start))
        self.metrics.set_breakers(self.config.breakers)

    # -- the stage ------------------------------------------------------------------------

    def on_event(self, recorded: Recorded) -> list[Draft]:
        if recorded.position <= self.position:
            return []  # applied already (a replay re-delivering the snapshot's last records)
        self.position, self.last_hash = recorded.position, recorded.hash
        if self.started_ns is None:
            self.started_ns = recorded.recv_time_ns
        self.clock_ns = max(self.clock_ns, recorded.recv_time_ns)
        event = recorded.event
        drafts: list[Draft] = []
        if isinstance(event, TradingStateChanged):
            self._set_state(event.current, event.reason, event.detail)
        elif isinstance(event, Alert):
            self._on_alert(event)
        elif isinstance(event, Heartbeat):
            drafts.extend(self._on_heartbeat(event, recorded))
        elif isinstance(event, OperatorCommand):
            drafts.extend(self._on_command(event, recorded))
        elif isinstance(event, PaperFill | OrderFilled) or (
            isinstance(event, Quote) and is_market_data(recorded)
        ):
            drafts.extend(self._on_book_event(recorded))
        elif isinstance(event, ReconcileMismatch):
            self.metrics.reconcile_mismatches.inc()
            drafts.extend(self._move(TradingState.REDUCING, TransitionReason.RECONCILE_MISMATCH,
                f"{event.venue}: {event.detail}", recorded))  # fmt: skip
        elif isinstance(event, FeedHealth) and event.status is not FeedStatus.HEALTHY:
            name = "FeedDown" if event.status is FeedStatus.DOWN else "FeedDegraded"
            drafts.append(self._alert(name, AlertSeverity.WARNING, recorded,
                f"source {event.source} is {event.status}: {event.reason}; ingest reads "
                f"{event.active_source}", component="ingest"))  # fmt: skip
        elif isinstance(event, StrategyDisabled):
            drafts.append(self._alert("StrategyDisabled", AlertSeverity.WARNING, recorded,
                f"strategy {event.strategy_id} disabled ({event.reason}): {event.detail}",
                component="signal"))  # fmt: skip
        drafts.extend(self.check_heartbeats(self.clock_ns))
        return drafts

    def check_heartbeats(self, now_ns: int) -> list[Draft]:
        """Missed-heartbeat alerts as of `now_ns` (the runner also calls it on a timer)."""
        if self._due_ns is not None and now_ns <= self._due_ns:
            return []
        drafts = []
        due: int | None = _NEVER
        for component in sorted({*self.config.heartbeats, *self.beats}):
            beat = self.beats.get(component)
            if beat is None:
                if self.started_ns is None:
                    due = None  # (this component's beat starts with the first record)
                    continue
                beat = self.beats[component] = _Beat(self.started_ns, "start")
            rule = self._rule(component)
            limit_ns = rule.tolerance * rule.interval_ms * _MS
            if beat.missed:
                continue
            if now_ns - beat.last_ns <= limit_ns:
                if due is not None:  # (⌊last + limit⌋: an integer clock is past it iff past both)
                    due = min(due, int(beat.last_ns + limit_ns))
                continue
            beat.missed = True
            age = Decimal(now_ns - beat.last_ns) / 1_000_000_000
            drafts.append(Draft(stream="monitor",
                key=f"alert:HeartbeatMissed:{component}:{beat.last_key}",
                event=Alert(name="HeartbeatMissed", severity=AlertSeverity.CRITICAL,
                    message=f"{component} sent no heartbeat for {age}s (limit "
                            f"{rule.interval_ms} ms × {rule.tolerance})", component=component),
                event_time_ns=now_ns, recv_time_ns=now_ns,
                causation_id=None if beat.last_key == "start" else beat.last_key))  # fmt: skip
        self._due_ns = due
        return drafts

    def _rule(self, component: str) -> HeartbeatRule:
        return self.config.heartbeats.get(component, self.config.default_heartbeat)

    def _on_heartbeat(self, event: Heartbeat, recorded: Recorded) -> list[Draft]:
        beat = self.beats.get(event.component)
        was_missed = beat is not None and beat.missed
        self.beats[event.component] = _Beat(recorded.recv_time_ns, recorded.key)
        self._due_ns = None
        if not was_missed:
            return []
        return [self._alert("HeartbeatRecovered", AlertSeverity.INFO, recorded,
            f"{event.component} sends heartbeats again", component=event.component)]  # fmt: skip

    def _on_alert(self, event: Alert) -> None:
        key = (event.name, event.severity.value)
        self.alerts[key] = self.alerts.get(key, 0) + 1
        self.metrics.alerts.labels(name=event.name, severity=event.severity.value).inc()
        # A replayed alert restores the state that produced it (a live timer may have raised it).
        beat = self.beats.get(event.component)
        if beat is not None and event.name in ("HeartbeatMissed", "HeartbeatRecovered"):
            beat.missed = event.name == "HeartbeatMissed"
            self._due_ns = None
            self.metrics.heartbeat_missed.labels(component=event.component).set(beat.missed)

    def _on_book_event(self, recorded: Recorded) -> list[Draft]:
        day = recorded.event_time_ns // DAY_NS
        if self.day is None or day > self.day:
            self.day, self.day_open = day, self.book.equity()
        self.book.apply(recorded)
        reading = self.reading()
        self.peak = reading.peak
        self.metrics.publish(reading)
        found = breach(self.config.breakers, reading)
        if found is None:
            return []
        return self._move(found.target, found.reason, found.detail, recorded)

    def _on_command(self, event: OperatorCommand, recorded: Recorded) -> list[Draft]:
        said = f"{event.actor}: {event.reason}"
        if event.command == "KILL_SWITCH":
            return self._move(TradingState.HALTED, TransitionReason.KILL_SWITCH, said, recorded)
        if event.resume_to is TradingState.HALTED:
            return []
        drafts = self._move(event.resume_to, TransitionReason.RESUME,
            f"{said}; breaker baselines reset to the current equity", recorded)  # fmt: skip
        if drafts:
            self.peak = self.day_open = self.book.equity()
        return drafts

    def _move(
        self, to: TradingState, reason: TransitionReason, detail: str, recorded: Recorded
    ) -> list[Draft]:
        change = transition(self.state, to, reason, detail)
        if change is None:
            return []
        self._set_state(change.current, change.reason, change.detail)
        # The decision is made and not yet journaled: the SIGKILL test kills here.
        crash_point(CRASH_POINT)
        severity = AlertSeverity.CRITICAL if to is TradingState.HALTED else AlertSeverity.WARNING
        if reason is TransitionReason.RESUME:
            severity = AlertSeverity.INFO
        return [
            Draft(stream="monitor", key=f"state:{recorded.key}", event=change,
                  event_time_ns=recorded.event_time_ns, recv_time_ns=recorded.recv_time_ns,
                  causation_id=recorded.key),
            self._alert("TradingStateChanged", severity, recorded,
                f"{change.previous} -> {change.current} ({reason}): {change.detail}"),
        ]  # fmt: skip

    def _set_state(self, state: TradingState, reason: str, detail: str) -> None:
        self.state, self.reason, self.detail = state, reason, detail
        self.metrics.set_state(state)

    def _alert(
        self,
        name: str,
        severity: AlertSeverity,
        recorded: Recorded,
        message: str,
        *,
        component: str = "monitor",
    ) -> Draft:
        return Draft(
            stream="monitor",
            key=f"alert:{name}:{recorded.key}",
            event=Alert(name=name, severity=severity, message=message, component=component),
            event_time_ns=recorded.event_time_ns,
            recv_time_ns=recorded.recv_time_ns,
            causation_id=recorded.key,
        )

    # -- readings -------------------------------------------------------------------------

    def reading(self) -> Reading:
        equity = self.book.equity()
        return Reading(equity=equity, peak=max(self.peak, equity), day_open=self.day_open)

    def status(self, now_ns: int | None = None) -> MonitorStatus:
        """The monitor's state; heartbeat ages against `now_ns` (default: the monitor clock)."""
        now = self.clock_ns if now_ns is None else now_ns
        reading = self.reading()
        beats = {}
        for component in sorted({*self.config.heartbeats, *self.beats}):
            beat = self.beats.get(component)
            last = None if beat is None or beat.last_key == "start" else beat.last_ns
            since = last if last is not None else (self.started_ns or now)
            age = Decimal(max(now - since, 0)) / 1_000_000_000
            beats[component] = HeartbeatStatus(age, beat is not None and beat.missed, last)
            self.metrics.heartbeat_age.labels(component=component).set(float(age))
        return MonitorStatus(
            trading_state=self.state,
            reason=self.reason,
            detail=self.detail,
            equity_usd=reading.equity,
            pnl_usd=self.book.pnl(),
            peak_usd=reading.peak,
            drawdown_bps=reading.drawdown_bps,
            daily_loss_usd=reading.daily_loss,
            heartbeats=beats,
            alerts=dict(self.alerts),
        )

    # -- snapshots ------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The whole state (not the Prometheus metrics, which derive from it) as a snapshot."""
        state = {
            "state": self.state.value,
            "reason": self.reason,
            "detail": self.detail,
            "book": self.book.to_json(),
            "peak": str(self.peak),
            "day": self.day,
            "day_open": str(self.day_open),
            "started_ns": self.started_ns,
            "clock_ns": self.clock_ns,
            "beats": {c: [b.last_ns, b.last_key, b.missed] for c, b in self.beats.items()},
            "alerts": sorted([name, severity, n] for (name, severity), n in self.alerts.items()),
        }
        return encode("monitor", self.config, self.position, self.last_hash, state)

    @classmethod
    def from_bytes(
        cls, config: MonitorConfig, data: bytes, *, metrics: PipelineMetrics | None = None
    ) -> Monitor:
        """A new monitor in the state `to_bytes` saved (see `restore`)."""
        monitor = cls(config) if metrics is None else cls(config, metrics)
        monitor.restore(data)
        return monitor

    def restore(self, data: bytes) -> None:
        """Load a snapshot into this monitor, which must not have applied a record yet, and
        publish its metrics as a replay would have. `SnapshotError` (and the monitor unchanged)
        when the snapshot is not one of this config's or is damaged."""
        if self.position or self.started_ns is not None:
            raise SnapshotError(
                f"monitor snapshot: this monitor has applied records up to {self.position}; "
                "restore into a freshly built one"
            )
        opened = decode("monitor", self.config, data)
        try:
            s = _MonitorState.model_validate(opened.state)
            book = PaperBook.from_json(s.book)
        except ValueError as exc:
            raise SnapshotError(f"monitor snapshot: the state is malformed: {exc}") from exc
        self.book, self.peak, self.day, self.day_open = book, s.peak, s.day, s.day_open
        self.started_ns, self.clock_ns = s.started_ns, s.clock_ns
        self.position, self.last_hash = opened.position, opened.hash
        self.beats = {c: _Beat(ns, key, missed) for c, (ns, key, missed) in s.beats.items()}
        self._due_ns = None
        self.alerts = {(name, severity): n for name, severity, n in s.alerts}
        self._set_state(s.state, s.reason, s.detail)
        self.metrics.publish(self.reading())
        for (name, severity), n in self.alerts.items():
            self.metrics.alerts.labels(name=name, severity=severity).inc(n)
        for component, beat in self.beats.items():
            self.metrics.heartbeat_missed.labels(component=component).set(beat.missed)


_Row = Strict(False)  # a JSON array is a row (strict mode would want a tuple); cells stay strict


class _MonitorState(StateModel):
    state: Annotated[TradingState, Strict(False)]
    reason: str
    detail: str
    book: dict[str, Any]
    peak: DecimalText
    day: int | None
    day_open: DecimalText
    started_ns: int | None
    clock_ns: int
    beats: dict[str, Annotated[tuple[int, str, bool], _Row]]
    alerts: list[Annotated[tuple[str, str, Annotated[int, Field(ge=1)]], _Row]]


# --- drafts the runner and the CLI append --------------------------------------------------


_NEVER = 1 << 63
"""A deadline no clock reaches (every beat is missed: only a new beat can change that)."""


def heartbeat_draft(component: str, now_ns: int) -> Draft:
    """A component's heartbeat (stream 'monitor', key 'hb:<component>:<ns>')."""
    return Draft(stream="monitor", key=f"hb:{component}:{now_ns}",
                 event=Heartbeat(component=component), event_time_ns=now_ns,
                 recv_time_ns=now_ns)  # fmt: skip


def command_draft(command: OperatorCommand, *, now_ns: int) -> Draft:
    """An operator's command (stream 'control', key 'cmd:<command>:<actor>:<ns>')."""
    return Draft(stream="control", key=f"cmd:{command.command}:{command.actor}:{now_ns}",
                 event=command, event_time_ns=now_ns, recv_time_ns=now_ns)  # fmt: skip


def kill_switch_draft(engaged: bool, reason: str, *, actor: str, now_ns: int) -> Draft:
    """The kill switch as a command: engaging halts; releasing is an explicit resume to ACTIVE
    (the same two values the risk service's `KillSwitchState` holds)."""
    command = OperatorCommand(
        command="KILL_SWITCH" if engaged else "RESUME", actor=actor, reason=reason
    )
    return command_draft(command, now_ns=now_ns)
