"""Stage 2, signal: feed validated market data to the strategies and journal their intents.

`SignalStage.on_event(recorded) -> list[Draft]` is pure given the stage's state: the runner
reads the journal in order, hands every record to it and appends what it returns. Its state is
derived from the records alone (the stage clock is the latest receive time seen, intent rates
use event times), so a replay after a crash re-derives the same drafts, and their keys make
the re-append a no-op.

Guards, in order, for each quote or trade:
- only `Quote`/`Trade` events on `md.*` streams reach a strategy (never quarantine or other
  streams);
- a source that ingest reports DOWN is paused; while DEGRADED, strategies are paused or, with
  `when_degraded = "throttle"`, shown at most one event per symbol per `degraded_interval_ms`;
- an event older than the strategy's `max_quote_age_ms` (against the stage clock) is skipped;
- a disabled strategy sees nothing.

Auto-disable (a `StrategyDisabled` event, once): the strategy's paper P&L reaches -max_loss_usd,
an intent would exceed `max_intents_per_minute`, its hit rate falls below `min_hit_rate_bps`
after `min_closing_fills` closing fills, or it produces an intent the risk models refuse.

Paper mode is the only mode until order send lands: intents go to the journal (and the runner's
pre-trade gate); fills come from `paper.paper_fill`.

Snapshots: `to_bytes()` / `SignalStage.from_bytes(config, data)` carry every piece of state
(each strategy's own `state()`, disable reasons, metric counters, feed health, the clock and the
paper book) in a `stage_snapshot` envelope; start-up is `stage_snapshot.load_stage` + the tail.
A record at or before `position` (the last one applied) is ignored, so a tail replay that
re-delivers one cannot apply it twice.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationError,
    model_validator,
)

from ..journal.events import (
    Draft,
    FeedHealth,
    FeedStatus,
    IntentEmitted,
    PaperFill,
    Quote,
    Recorded,
    StrategyDisabled,
    Trade,
)
from ..risk import fixed_point as fp
from ..risk.models import ExactDecimal, OrderIntent, Symbol, limit_intent
from .paper import PaperBook, is_market_data
from .stage_snapshot import SnapshotError, decode, encode
from .strategies.base import (
    Decision,
    StatefulStrategy,
    StateModel,
    Strategy,
    StrategyContext,
    build,
    mid,
)

MINUTE_NS = 60 * 1_000_000_000
_MS = 1_000_000
SNAPSHOT = "signal.stage"
"""The journal snapshot name of the signal stage (`stage_snapshot.load_stage`)."""

StrategyId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class DisableCriteria(_Frozen):
    """When a strategy is switched off automatically. Each criterion is optional (None = off)."""

    max_loss_usd: Annotated[ExactDecimal, Field(gt=0)] | None = None
    """Paper P&L (realised + unrealised) at or below -max_loss_usd disables it."""
    max_intents_per_minute: Annotated[int, Field(ge=1)] | None = None
    """An intent that would make more than this in the last 60 s (event time) disables it."""
    min_hit_rate_bps: Annotated[int, Field(ge=0, le=fp.BPS_SCALE)] | None = None
    """Share of closing fills that realised a profit, bps, below which it is disabled..."""
    min_closing_fills: Annotated[int, Field(ge=1)] = 10
    """...once it has made at least this many closing fills."""


class StrategyConfig(_Frozen):
    """One strategy of the run config."""

    id: StrategyId
    """Unique name, used in client order ids, events and metric labels."""
    strategy: str = Field(min_length=1)
    """'package.module:Class', an entry point of the group zkrisk.strategies, or a shipped
    name ('momentum', 'mean_reversion')."""
    params: dict[str, Any] = Field(default_factory=dict)
    """The strategy's own parameters (validated by the strategy)."""
    enabled: bool = True
    symbols: tuple[Symbol, ...] = ()
    """Symbols it is shown; empty means every symbol."""
    counterparty: str = Field(default="paper", min_length=1)
    """Venue its intents are addressed to (must be on the policy's allowlist); a run config's
    `[venue] kind` sets it for every strategy of the run (one venue per run)."""
    max_quote_age_ms: Annotated[int, Field(ge=1)] = 2_000
    """An event older than this against the stage clock is not shown to it."""
    criteria: DisableCriteria = DisableCriteria()


class SignalConfig(_Frozen):
    strategies: tuple[StrategyConfig, ...] = ()
    when_degraded: Literal["pause", "throttle"] = "pause"
    """What a DEGRADED source means for strategies (a DOWN one always pauses)."""
    degraded_interval_ms: Annotated[int, Field(ge=1)] = 5_000
    """Throttle: at most one event per symbol per interval reaches a strategy while DEGRADED."""

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        ids = [s.id for s in self.strategies]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"strategy ids must be unique; repeated: {', '.join(repeated)}")
        return self


@dataclass(frozen=True, slots=True)
class StrategyStatus:
    """One strategy's metrics, for `zkrisk status` and Prometheus."""

    id: str
    enabled: bool
    disabled_reason: str
    pnl_usd: Decimal
    realised_usd: Decimal
    unrealised_usd: Decimal
    fills: int
    closing_fills: int
    hits: int
    hit_rate_bps: int | None
    intents_total: int
    intents_last_minute: int
    skipped_stale: int
    skipped_degraded: int


@dataclass(slots=True)
class _Runtime:
    config: StrategyConfig
    strategy: Strategy
    disabled: str = ""
    intent_times: deque[int] = field(default_factory=deque)
    intents_total: int = 0
    skipped_stale: int = 0
    skipped_degraded: int = 0
    last_shown_degraded: dict[str, int] = field(default_factory=dict)


def client_order_id(strategy_id: str, cause_key: str, index: int) -> str:
    """Deterministic: the same strategy, cause and index give the same id (≤ 64 chars)."""
    digest = hashlib.sha256(f"{strategy_id}\x00{cause_key}\x00{index}".encode()).hexdigest()
    return f"{strategy_id}-{digest[:20]}"


class SignalStage:
    """Strategies behind the data guards; see the module docstring."""

    def __init__(
        self, config: SignalConfig, *, strategies: Mapping[str, Strategy] | None = None
    ) -> None:
        """Builds each enabled strategy from its config, unless given ready-made by id."""
        self.config = config
        given = dict(strategies or {})
        self._runtimes: dict[str, _Runtime] = {}
        for c in config.strategies:
            strategy = given.get(c.id) or build(c.strategy, c.id, c.params)
            self._runtimes[c.id] = _Runtime(c, strategy, "" if c.enabled else "CONFIG_DISABLED")
        self.book = PaperBook(starting_equity=Decimal(0))
        self.health: dict[str, FeedStatus] = {}
        self.clock_ns = 0
        self.position = 0
        """The position of the last record applied."""
        self.last_hash = ""
        """That record's hash (binds a snapshot to its journal)."""

    # -- the stage ------------------------------------------------------------------------

    def on_event(self, recorded: Recorded) -> list[Draft]:
        if recorded.position <= self.position:
            return []  # applied already (a replay re-delivering the snapshot's last records)
        self.position, self.last_hash = recorded.position, recorded.hash
        self.clock_ns = max(self.clock_ns, recorded.recv_time_ns)
        self.book.apply(recorded)
        event = recorded.event
        if isinstance(event, FeedHealth):
            self.health[event.source] = event.status
        elif isinstance(event, StrategyDisabled):
            runtime = self._runtimes.get(event.strategy_id)
            if runtime is not None and not runtime.disabled:
                runtime.disabled = event.reason
        elif isinstance(event, PaperFill):
            runtime = self._runtimes.get(event.strategy_id)
            if runtime is not None and not runtime.disabled:
                return self._judge(runtime, recorded)
        elif isinstance(event, Quote | Trade) and is_market_data(recorded):
            return self._dispatch(event, recorded)
        return []

    def _dispatch(self, event: Quote | Trade, recorded: Recorded) -> list[Draft]:
        status = self.health.get(event.source, FeedStatus.HEALTHY)
        if status is FeedStatus.DOWN:
            return []
        drafts: list[Draft] = []
        age_ns = self.clock_ns - recorded.event_time_ns
        for runtime in self._runtimes.values():
            c = runtime.config
            if runtime.disabled or (c.symbols and event.symbol not in c.symbols):
                continue
            if isinstance(event, Quote):
                # The mark just moved this strategy's P&L: judge it before it acts again.
                disabled = self._judge(runtime, recorded)
                if disabled:
                    drafts.extend(disabled)
                    continue
            if age_ns > c.max_quote_age_ms * _MS:
                runtime.skipped_stale += 1
                continue
            if status is FeedStatus.DEGRADED and not self._degraded_pass(runtime, event, recorded):
                runtime.skipped_degraded += 1
                continue
            context = StrategyContext(
                position=self.book.position_of(c.id, event.symbol),
                event_time_ns=recorded.event_time_ns,
            )
            if isinstance(event, Quote):
                decisions = runtime.strategy.on_quote(event, context)
            else:
                decisions = runtime.strategy.on_trade(event, context)
            drafts.extend(self._intents(runtime, decisions, event, recorded))
        return drafts

    def _degraded_pass(self, runtime: _Runtime, event: Quote | Trade, recorded: Recorded) -> bool:
        if self.config.when_degraded == "pause":
            return False
        last = runtime.last_shown_degraded.get(event.symbol)
        interval = self.config.degraded_interval_ms * _MS
        if last is not None and recorded.event_time_ns - last < interval:
            return False
        runtime.last_shown_degraded[event.symbol] = recorded.event_time_ns
        return True

    def _intents(
        self,
        runtime: _Runtime,
        decisions: Sequence[Decision],
        event: Quote | Trade,
        recorded: Recorded,
    ) -> list[Draft]:
        c = runtime.config
        now = recorded.event_time_ns
        times = runtime.intent_times
        while times and now - times[0] >= MINUTE_NS:
            times.popleft()
        reference = mid(event) if isinstance(event, Quote) else event.price
        drafts: list[Draft] = []
        for index, decision in enumerate(decisions):
            limit = c.criteria.max_intents_per_minute
            if limit is not None and len(times) + 1 > limit:
                drafts.append(self._disable(runtime, recorded, "MAX_INTENTS_PER_MINUTE",
                    f"{len(times)} intents in the last minute already; the limit is {limit}"))  # fmt: skip
                break
            try:
                coid = client_order_id(c.id, recorded.key, index)
                intent = limit_intent(coid, decision.symbol, decision.side, decision.quantity,
                                      decision.limit_price, c.counterparty, c.id) if (
                    decision.limit_price is not None  # (a LIMIT order: the common decision)
                ) else OrderIntent(client_order_id=coid, symbol=decision.symbol,
                                   side=decision.side, quantity=decision.quantity,
                                   limit_price=decision.limit_price, counterparty=c.counterparty,
                                   strategy_id=c.id)  # fmt: skip
                emitted = IntentEmitted(strategy_id=c.id, intent=intent, reference_price=reference)
            except (ValidationError, ValueError) as exc:
                drafts.append(self._disable(runtime, recorded, "INVALID_INTENT",
                    f"{decision} is not a valid order intent: {exc}"))  # fmt: skip
                break
            suffix = "" if index == 0 else f":{index}"
            drafts.append(Draft(stream="signal", key=f"intent:{c.id}:{recorded.key}{suffix}",
                                event=emitted, event_time_ns=now,
                                recv_time_ns=recorded.recv_time_ns,
                                causation_id=recorded.key))  # fmt: skip
            times.append(now)
            runtime.intents_total += 1
        return drafts

    def _judge(self, runtime: _Runtime, recorded: Recorded) -> list[Draft]:
        """Disable the strategy when its P&L or hit rate breaches its criteria."""
        criteria, sid = runtime.config.criteria, runtime.config.id
        pnl = self.book.pnl(sid)
        if criteria.max_loss_usd is not None and pnl <= -criteria.max_loss_usd:
            return [self._disable(runtime, recorded, "MAX_LOSS",
                f"paper P&L {pnl} USD reached the loss limit -{criteria.max_loss_usd} USD")]  # fmt: skip
        record = self.book.strategies.get(sid)
        floor = criteria.min_hit_rate_bps
        if (
            floor is not None
            and record is not None
            and record.closing_fills >= criteria.min_closing_fills
            and record.hits * fp.BPS_SCALE < floor * record.closing_fills
        ):
            return [self._disable(runtime, recorded, "MIN_HIT_RATE",
                f"{record.hits} of {record.closing_fills} closing fills were profitable, below "
                f"the minimum hit rate {floor} bps")]  # fmt: skip
        return []

    def _disable(self, runtime: _Runtime, recorded: Recorded, reason: str, detail: str) -> Draft:
        runtime.disabled = reason
        sid = runtime.config.id
        return Draft(
            stream="signal",
            key=f"disabled:{sid}:{recorded.key}",
            event=StrategyDisabled(strategy_id=sid, reason=reason, detail=detail),
            event_time_ns=recorded.event_time_ns,
            recv_time_ns=recorded.recv_time_ns,
            causation_id=recorded.key,
        )

    # -- status ---------------------------------------------------------------------------

    def status(self) -> list[StrategyStatus]:
        """Every strategy's metrics as of the last event."""
        out = []
        for sid, r in self._runtimes.items():
            record = self.book.strategies.get(sid)
            closing = 0 if record is None else record.closing_fills
            hits = 0 if record is None else record.hits
            recent = sum(1 for t in r.intent_times if self.clock_ns - t < MINUTE_NS)
            out.append(
                StrategyStatus(
                    id=sid,
                    enabled=not r.disabled,
                    disabled_reason=r.disabled,
                    pnl_usd=self.book.pnl(sid),
                    realised_usd=self.book.realised(sid),
                    unrealised_usd=self.book.unrealised(sid),
                    fills=0 if record is None else record.fills,
                    closing_fills=closing,
                    hits=hits,
                    hit_rate_bps=None if closing == 0 else hits * fp.BPS_SCALE // closing,
                    intents_total=r.intents_total,
                    intents_last_minute=recent,
                    skipped_stale=r.skipped_stale,
                    skipped_degraded=r.skipped_degraded,
                )
            )
        return out

    def strategy(self, strategy_id: str) -> Strategy:
        return self._runtimes[strategy_id].strategy

    # -- snapshots ------------------------------------------------------------------------

    def snapshot_refusal(self) -> str | None:
        """Why this stage cannot be snapshotted (a strategy without state/restore), or None."""
        lacking = [f"{sid} ({r.config.strategy})" for sid, r in self._runtimes.items()
                   if not isinstance(r.strategy, StatefulStrategy)]  # fmt: skip
        if not lacking:
            return None
        return (
            f"strategies without state() and restore() cannot be snapshotted: "
            f"{', '.join(lacking)}; add both (see strategies.base.StatefulStrategy) or start-up "
            "replays the journal from genesis"
        )

    def to_bytes(self) -> bytes:
        """The whole state as a snapshot (`SnapshotError` when `snapshot_refusal()` says why)."""
        refusal = self.snapshot_refusal()
        if refusal is not None:
            raise SnapshotError(f"signal snapshot: {refusal}")
        runtimes = {
            sid: {
                "disabled": r.disabled,
                "intent_times": pack_times(r.intent_times),
                "intents_total": r.intents_total,
                "skipped_stale": r.skipped_stale,
                "skipped_degraded": r.skipped_degraded,
                "last_shown_degraded": r.last_shown_degraded,
                "strategy": _stateful(r).state(),
            }
            for sid, r in self._runtimes.items()
        }
        state = {"clock_ns": self.clock_ns, "book": self.book.to_json(),
                 "health": {k: v.value for k, v in self.health.items()}, "runtimes": runtimes}  # fmt: skip
        return encode("signal", self.config, self.position, self.last_hash, state)

    @classmethod
    def from_bytes(
        cls,
        config: SignalConfig,
        data: bytes,
        *,
        strategies: Mapping[str, Strategy] | None = None,
    ) -> SignalStage:
        """A new stage in the state `to_bytes` saved (see `restore`)."""
        stage = cls(config, strategies=strategies)
        stage.restore(data)
        return stage

    def restore(self, data: bytes) -> None:
        """Load a snapshot into this stage, which must not have applied a record yet.

        `SnapshotError` (and the stage unchanged) when the snapshot is not one of this config's
        (another strategy set, other params), is damaged, or a strategy refuses its state.
        """
        if self.position:
            raise SnapshotError(
                f"signal snapshot: this stage has applied records up to {self.position}; "
                "restore into a freshly built stage"
            )
        opened = decode("signal", self.config, data, explain=_strategy_ids_differ)
        refusal = self.snapshot_refusal()
        if refusal is not None:
            raise SnapshotError(f"signal snapshot: {refusal}")
        try:
            state = _SignalState.model_validate(opened.state)
            book = PaperBook.from_json(state.book)
        except ValueError as exc:
            raise SnapshotError(f"signal snapshot: the state is malformed: {exc}") from exc
        if state.runtimes.keys() != self._runtimes.keys():
            raise SnapshotError(
                f"signal snapshot holds strategies {sorted(state.runtimes)} but the config has "
                f"{sorted(self._runtimes)}"
            )
        before = {sid: _stateful(r).state() for sid, r in self._runtimes.items()}
        for sid, saved in state.runtimes.items():
            try:
                _stateful(self._runtimes[sid]).restore(saved.strategy)
            except (ValueError, TypeError, KeyError) as exc:
                for other, previous in before.items():  # all or nothing
                    _stateful(self._runtimes[other]).restore(previous)
                raise SnapshotError(
                    f"signal snapshot: strategy {sid!r} refuses its saved state: {exc}"
                ) from exc
        for sid, saved in state.runtimes.items():
            runtime = self._runtimes[sid]
            runtime.disabled = saved.disabled
            runtime.intent_times = deque(saved.intent_times)
            runtime.intents_total = saved.intents_total
            runtime.skipped_stale = saved.skipped_stale
            runtime.skipped_degraded = saved.skipped_degraded
            runtime.last_shown_degraded = dict(saved.last_shown_degraded)
        self.book, self.health, self.clock_ns = book, dict(state.health), state.clock_ns
        self.position, self.last_hash = opened.position, opened.hash


def _strategy_ids(config: Any) -> set[str]:
    strategies = config.get("strategies") if isinstance(config, dict) else None
    if not isinstance(strategies, list):
        return set()
    return {str(s.get("id")) for s in strategies if isinstance(s, dict)}


def _strategy_ids_differ(saved: Any, current: Any) -> str | None:
    """The clearest account of a config change: strategies added or removed."""
    was, now = _strategy_ids(saved), _strategy_ids(current)
    gone, new = sorted(was - now), sorted(now - was)
    if not gone and not new:
        return None
    parts = [f"{', '.join(gone)} no longer configured" if gone else "",
             f"{', '.join(new)} not in the snapshot" if new else ""]  # fmt: skip
    return "strategies " + "; ".join(p for p in parts if p)


def _stateful(runtime: _Runtime) -> StatefulStrategy:
    if not isinstance(runtime.strategy, StatefulStrategy):
        raise SnapshotError(f"strategy {runtime.config.id!r} has no state() and restore()")
    return runtime.strategy


_Count = Annotated[int, Field(ge=0)]


def pack_times(times: Sequence[int]) -> str:
    """Intent times for a snapshot: base64 of little-endian int64s. A busy strategy holds a
    minute of them (24,000 at 400 intents/s), and as a JSON list, dumped twice and hashed,
    they made the snapshot a stall of milliseconds on the event loop every few seconds."""
    return base64.b64encode(np.fromiter(times, dtype="<i8", count=len(times)).tobytes()).decode()


def _unpack_times(value: object) -> object:
    """The packed form (`pack_times`), or the JSON list snapshots held before it."""
    if not isinstance(value, str):
        return value
    try:
        raw = base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"packed intent times are not base64: {exc}") from exc
    if len(raw) % 8:
        raise ValueError(f"packed intent times are {len(raw)} bytes, not a multiple of 8")
    return np.frombuffer(raw, dtype="<i8").tolist()


class _RuntimeState(StateModel):
    disabled: str
    intent_times: Annotated[list[int], BeforeValidator(_unpack_times)]
    intents_total: _Count
    skipped_stale: _Count
    skipped_degraded: _Count
    last_shown_degraded: dict[str, int]
    strategy: dict[str, Any]


class _SignalState(StateModel):
    clock_ns: int
    book: dict[str, Any]
    health: dict[str, Annotated[FeedStatus, Strict(False)]]
    runtimes: dict[str, _RuntimeState]
