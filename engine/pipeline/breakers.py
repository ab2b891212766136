"""Breaker policy and the one trading-state transition function (pure).

States rank ACTIVE < REDUCING < HALTED. Breakers and the kill switch only ever move the state
up; nothing moves it down except an explicit RESUME command, and the event it produces says so.
`transition` is the single path every change takes, so the journal records each change the same
way whoever caused it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from ..journal.events import TradingStateChanged
from ..risk import fixed_point as fp
from ..risk.models import ExactDecimal, OrderIntent, Side, TradingState

RANK = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


class TransitionReason(StrEnum):
    DRAWDOWN = "DRAWDOWN"
    DAILY_LOSS = "DAILY_LOSS"
    KILL_SWITCH = "KILL_SWITCH"
    RECONCILE_MISMATCH = "RECONCILE_MISMATCH"
    """The book disagrees with the venue: only reducing orders until an operator resumes."""
    RESUME = "RESUME"
    """An operator's explicit command: the only way back down."""


class BreakerPolicy(BaseModel):
    """When the monitor moves the trading state up. Every limit is optional (None = off)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    reducing_drawdown_bps: Annotated[int, Field(ge=1, le=fp.BPS_SCALE)] | None = None
    """Drawdown from the peak equity (the starting equity included) that moves to REDUCING."""
    halt_drawdown_bps: Annotated[int, Field(ge=1, le=fp.BPS_SCALE)] | None = None
    """Drawdown from the peak equity that moves to HALTED."""
    reducing_daily_loss_usd: Annotated[ExactDecimal, Field(gt=0)] | None = None
    """Loss since the UTC day's opening equity that moves to REDUCING, USD."""
    halt_daily_loss_usd: Annotated[ExactDecimal, Field(gt=0)] | None = None
    """Loss since the UTC day's opening equity that moves to HALTED, USD."""


@dataclass(frozen=True, slots=True)
class Reading:
    """The monitor's risk numbers after one event."""

    equity: Decimal
    peak: Decimal
    day_open: Decimal

    @property
    def drawdown(self) -> Decimal:
        return max(self.peak - self.equity, Decimal(0))

    @property
    def drawdown_bps(self) -> Decimal:
        """(peak - equity) / peak in bps; 0 when the peak is not positive (undefined)."""
        if self.peak <= 0:
            return Decimal(0)
        return self.drawdown * fp.BPS_SCALE / self.peak

    @property
    def daily_loss(self) -> Decimal:
        return max(self.day_open - self.equity, Decimal(0))


@dataclass(frozen=True, slots=True)
class Breach:
    target: TradingState
    reason: TransitionReason
    detail: str


def breach(policy: BreakerPolicy, reading: Reading) -> Breach | None:
    """The most severe state the reading demands (HALTED before REDUCING; at one state a
    drawdown before a daily loss), with why."""
    # The monitor asks after every mark: the limits are tried in that order and the first
    # hit is the answer (only its sentence is formatted, `_detail`), with no lists built.
    drawdown_limits = policy.halt_drawdown_bps, policy.reducing_drawdown_bps
    loss_limits = policy.halt_daily_loss_usd, policy.reducing_daily_loss_usd
    peak = reading.peak
    bps = reading.drawdown * fp.BPS_SCALE if peak > 0 else None
    daily_loss = reading.daily_loss
    for target, limit, usd in zip(_SEVERE_FIRST, drawdown_limits, loss_limits, strict=True):
        # Compare exactly: drawdown · 10000 ≥ limit · peak, no division.
        if limit is not None and bps is not None and bps >= limit * peak:
            return Breach(target, TransitionReason.DRAWDOWN,
                          _detail(reading, target, TransitionReason.DRAWDOWN, limit))  # fmt: skip
        if usd is not None and daily_loss >= usd:
            return Breach(target, TransitionReason.DAILY_LOSS,
                          _detail(reading, target, TransitionReason.DAILY_LOSS, usd))  # fmt: skip
    return None


_SEVERE_FIRST = (TradingState.HALTED, TradingState.REDUCING)


def _detail(reading: Reading, target: TradingState, reason: TransitionReason,
            limit: Decimal | int) -> str:  # fmt: skip
    if reason is TransitionReason.DRAWDOWN:
        return (f"drawdown {reading.drawdown_bps:.2f} bps from the peak {reading.peak} "
                f"(equity {reading.equity}) reached the {target} limit {limit} bps")  # fmt: skip
    return (f"daily loss {reading.daily_loss} USD from the day's opening equity "
            f"{reading.day_open} reached the {target} limit {limit} USD")  # fmt: skip


def transition(
    current: TradingState, to: TradingState, reason: TransitionReason, detail: str = ""
) -> TradingStateChanged | None:
    """The event moving `current` to `to`, or None when it is no move or not allowed.

    Up (towards HALTED) is always allowed. Down only with reason RESUME: breakers and the kill
    switch can never lift a state, and the recorded detail says that a person resumed it.
    """
    if to is current:
        return None
    if RANK[to] < RANK[current] and reason is not TransitionReason.RESUME:
        return None
    if reason is TransitionReason.RESUME:
        detail = f"explicit resume command from {current} to {to}: {detail}".rstrip(": ")
    return TradingStateChanged(previous=current, current=to, reason=reason, detail=detail)


def refusal(state: TradingState, intent: OrderIntent, held: Decimal) -> str | None:
    """Why a new intent may not go to the gate in `state`, or None when it may.

    REDUCING lets through only intents that shrink |position| without flipping its sign (the
    same rule as `RiskEngine.check`); HALTED lets none through. `held` is the signed position
    of the intent's symbol.
    """
    if state is TradingState.HALTED:
        return "trading is HALTED: no new intent goes to the gate"
    if state is TradingState.REDUCING:
        after = held + (intent.quantity if intent.side is Side.BUY else -intent.quantity)
        reduces = held != 0 and abs(after) < abs(held) and (after == 0 or (after > 0) == (held > 0))
        if not reduces:
            return (
                f"trading is REDUCING and this intent takes {intent.symbol} from {held} to "
                f"{after}: only intents that shrink the position without flipping it pass"
            )
    return None


def may_send(state: TradingState, intent: OrderIntent, held: Decimal) -> bool:
    """True when a new intent may go to the pre-trade gate in this trading state."""
    return refusal(state, intent, held) is None
