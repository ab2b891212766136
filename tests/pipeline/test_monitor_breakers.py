"""Equity, drawdown from the peak (the starting equity included), the UTC daily loss, and the
breakers that move the trading state up, never down by themselves."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.risk_fixtures import ACCOUNT, engine
from zkrisk.engine.journal.events import (
    Alert,
    IntentEmitted,
    OperatorCommand,
    TradingStateChanged,
)
from zkrisk.engine.pipeline.breakers import (
    BreakerPolicy,
    Reading,
    TransitionReason,
    breach,
    may_send,
    refusal,
    transition,
)
from zkrisk.engine.pipeline.monitor import Monitor, MonitorConfig, kill_switch_draft
from zkrisk.engine.pipeline.signal import SignalConfig, SignalStage, StrategyConfig
from zkrisk.engine.risk.models import OrderIntent, Side, TradingState

from .tape import NS, T0, Tape, events_of

D = Decimal
A, R, H = TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED
DAY = 86_400 * NS
MIDNIGHT = (T0 // DAY + 1) * DAY  # the next UTC midnight after T0


def monitor(**breakers: Any) -> Monitor:
    return Monitor(MonitorConfig(starting_equity_usd=D(10_000), breakers=BreakerPolicy(**breakers)))


def states(out: list[Any]) -> list[tuple[str, str, str]]:
    return [(e.previous, e.current, e.reason) for e in events_of(out, TradingStateChanged)]


def test_a_loss_on_the_first_mark_is_a_drawdown_from_the_starting_equity() -> None:
    m, tape = monitor(), Tape()
    tape.fill("mom", "BUY", "10", "101", t=T0)
    tape.quote("99", "101", t=T0)  # mark 100: equity 10,000 - 10 = 9,990
    tape.pump(m.on_event)
    status = m.status()
    assert (status.equity_usd, status.peak_usd, status.drawdown_bps) == (D(9_990), D(10_000),
                                                                         D(10))  # fmt: skip
    assert status.pnl_usd == D(-10)


def test_the_peak_follows_new_highs_and_the_drawdown_is_measured_from_it() -> None:
    m, tape = monitor(), Tape()
    tape.fill("mom", "BUY", "10", "100", t=T0)
    tape.quote("109", "111", t=T0)  # equity 10,100: the new peak
    tape.quote("104", "106", t=T0 + 1)  # equity 10,050: 50 / 10,100 = 49.5049… bps
    tape.pump(m.on_event)
    assert m.status().peak_usd == D(10_100)
    assert m.status().drawdown_bps == D(50) * 10_000 / D(10_100)


def test_breakers_move_active_to_reducing_to_halted_and_never_back_by_themselves() -> None:
    m, tape = monitor(reducing_drawdown_bps=100, halt_drawdown_bps=200), Tape()
    tape.fill("mom", "BUY", "10", "100", t=T0)
    tape.quote("99", "101", t=T0)  # equity 10,000: no drawdown
    tape.quote("89", "91", t=T0 + 1)  # 9,900: 100 bps: REDUCING
    tape.quote("84", "86", t=T0 + 2)  # 9,850: 150 bps: still REDUCING
    tape.quote("79", "81", t=T0 + 3)  # 9,800: 200 bps: HALTED
    tape.quote("84", "86", t=T0 + 4)  # back to 150 bps: a REDUCING reading does not lower HALTED
    tape.quote("109", "111", t=T0 + 5)  # 10,100: a new high does not lift the halt
    out = tape.pump(m.on_event)
    assert states(out) == [(A, R, "DRAWDOWN"), (R, H, "DRAWDOWN")]
    assert m.state is H and "200" in m.detail
    first = events_of(out, TradingStateChanged)[0]
    assert "drawdown 100.00 bps from the peak 10000" in first.detail
    changes = [r for r in out if isinstance(r.event, TradingStateChanged)]
    assert [r.causation_id for r in changes] == [tape.records[2].key, tape.records[4].key]
    assert [r.key for r in changes] == [f"state:{tape.records[2].key}",
                                        f"state:{tape.records[4].key}"]  # fmt: skip
    alerts = [(a.name, a.severity) for a in events_of(out, Alert)]
    assert alerts == [("TradingStateChanged", "WARNING"), ("TradingStateChanged", "CRITICAL")]


def test_a_breach_jumping_straight_past_reducing_goes_to_halted_in_one_step() -> None:
    m, tape = monitor(reducing_drawdown_bps=100, halt_drawdown_bps=200), Tape()
    tape.fill("mom", "BUY", "10", "100", t=T0)
    tape.quote("69", "71", t=T0)  # 9,700: 300 bps
    assert states(tape.pump(m.on_event)) == [(A, H, "DRAWDOWN")]


def test_only_an_explicit_resume_moves_the_state_down_and_it_says_so() -> None:
    m, tape = monitor(halt_drawdown_bps=100), Tape()
    tape.fill("mom", "BUY", "10", "100", t=T0)
    tape.quote("89", "91", t=T0)  # 9,900: HALTED
    tape.pump(m.on_event)
    resume = kill_switch_draft(False, "loss reviewed", actor="ops", now_ns=T0 + NS)
    tape.record(resume)
    out = tape.pump(m.on_event)
    [change] = events_of(out, TradingStateChanged)
    assert (change.previous, change.current, change.reason) == (H, A, "RESUME")
    assert change.detail.startswith("explicit resume command from HALTED to ACTIVE: ops")
    # The baselines were reset: the same equity no longer breaches...
    tape.quote("89", "91", t=T0 + 2)
    assert states(tape.pump(m.on_event)) == []
    # ...a further 100 bps does.
    tape.quote("79", "81", t=T0 + 3)
    assert states(tape.pump(m.on_event)) == [(A, H, "DRAWDOWN")]


def test_the_transition_function_refuses_every_downward_move_but_resume() -> None:
    for reason in (TransitionReason.DRAWDOWN, TransitionReason.DAILY_LOSS,
                   TransitionReason.KILL_SWITCH):  # fmt: skip
        assert transition(H, A, reason) is None
        assert transition(R, A, reason) is None
        assert transition(H, R, reason) is None
    assert transition(A, A, TransitionReason.DRAWDOWN) is None
    up = transition(A, R, TransitionReason.DAILY_LOSS, "x")
    assert up is not None and (up.previous, up.current, up.detail) == (A, R, "x")
    down = transition(H, R, TransitionReason.RESUME, "ops")
    assert (
        down is not None and down.detail == "explicit resume command from HALTED to REDUCING: ops"
    )


def test_breach_picks_the_most_severe_state_the_reading_demands() -> None:
    policy = BreakerPolicy(reducing_drawdown_bps=100, halt_daily_loss_usd=D(500))
    reading = Reading(equity=D(9_400), peak=D(10_000), day_open=D(10_000))
    found = breach(policy, reading)
    assert found is not None and (found.target, found.reason) == (H, "DAILY_LOSS")
    assert breach(policy, Reading(equity=D(9_901), peak=D(10_000), day_open=D(10_000))) is None


_LIMIT_BPS = st.none() | st.integers(1, 10_000)
_LIMIT_USD = st.none() | st.integers(1, 2_000).map(D)
_USD = st.integers(-1_000, 12_000).map(D)


@settings(max_examples=300, deadline=None)
@given(_LIMIT_BPS, _LIMIT_BPS, _LIMIT_USD, _LIMIT_USD, _USD, _USD, _USD)
def test_breach_is_the_most_severe_hit_with_a_drawdown_before_a_daily_loss(
    reduce_bps: int | None, halt_bps: int | None, reduce_usd: Decimal | None,
    halt_usd: Decimal | None, equity: Decimal, peak: Decimal, day_open: Decimal,
) -> None:  # fmt: skip
    """Against every limit written out and the most severe hit taken (drawdown · 10⁴ ≥ limit ·
    peak for a positive peak, loss ≥ limit), drawdowns listed before daily losses."""
    policy = BreakerPolicy(reducing_drawdown_bps=reduce_bps, halt_drawdown_bps=halt_bps,
                           reducing_daily_loss_usd=reduce_usd, halt_daily_loss_usd=halt_usd)  # fmt: skip
    reading = Reading(equity=equity, peak=peak, day_open=day_open)
    drawdown, loss = max(peak - equity, D(0)), max(day_open - equity, D(0))
    hits = [(target, reason) for target, reason, limit, hit in (
        (H, "DRAWDOWN", halt_bps, lambda b: peak > 0 and drawdown * 10_000 >= b * peak),
        (R, "DRAWDOWN", reduce_bps, lambda b: peak > 0 and drawdown * 10_000 >= b * peak),
        (H, "DAILY_LOSS", halt_usd, lambda u: loss >= u),
        (R, "DAILY_LOSS", reduce_usd, lambda u: loss >= u),
    ) if limit is not None and hit(limit)]  # fmt: skip
    found = breach(policy, reading)
    if not hits:
        assert found is None
    else:
        expected = max(hits, key=lambda h: 1 if h[0] is H else 0)
        assert found is not None and (found.target, found.reason) == expected
        assert str(found.target) in found.detail


def test_the_daily_loss_counts_from_the_utc_days_opening_equity() -> None:
    m, tape = monitor(halt_daily_loss_usd=D(100)), Tape()
    tape.fill("mom", "BUY", "10", "100", t=MIDNIGHT - 10 * NS)
    tape.quote("93", "95", t=MIDNIGHT - 5 * NS)  # 9,940: day loss 60
    tape.pump(m.on_event)
    assert m.status().daily_loss_usd == D(60)
    # Midnight: the new day opens at 9,940; a further 60 is 60 today, not 120: no halt.
    tape.quote("87", "89", t=MIDNIGHT)  # 9,880
    assert states(tape.pump(m.on_event)) == []
    assert (m.status().daily_loss_usd, m.day_open) == (D(60), D(9_940))
    tape.quote("83", "85", t=MIDNIGHT + 3_600 * NS)  # 9,840: 100 today
    assert states(tape.pump(m.on_event)) == [(A, H, "DAILY_LOSS")]


def test_the_same_losses_within_one_utc_day_do_halt() -> None:
    m, tape = monitor(halt_daily_loss_usd=D(100)), Tape()
    tape.fill("mom", "BUY", "10", "100", t=MIDNIGHT)
    tape.quote("93", "95", t=MIDNIGHT + NS)
    tape.quote("87", "89", t=MIDNIGHT + 2 * NS)  # 120 down within the day
    assert states(tape.pump(m.on_event)) == [(A, H, "DAILY_LOSS")]


def test_the_kill_switch_halts_through_the_same_transition_path() -> None:
    m, tape = monitor(), Tape()
    tape.record(kill_switch_draft(True, "venue outage", actor="ops", now_ns=T0))
    out = tape.pump(m.on_event)
    [change] = events_of(out, TradingStateChanged)
    assert (change.previous, change.current, change.reason) == (A, H, "KILL_SWITCH")
    assert change.detail == "ops: venue outage" and m.state is H
    # Engaging again changes nothing (already HALTED).
    tape.record(kill_switch_draft(True, "again", actor="ops", now_ns=T0 + 1))
    assert states(tape.pump(m.on_event)) == []


def test_a_resume_to_halted_is_no_move() -> None:
    m, tape = monitor(), Tape()
    tape.add(OperatorCommand(command="RESUME", actor="ops", reason="x", resume_to=H),
             stream="control", key="cmd:1", t=T0)  # fmt: skip
    assert states(tape.pump(m.on_event)) == []


def test_the_monitor_state_follows_recorded_changes_on_replay() -> None:
    m, tape = monitor(), Tape()
    tape.add(TradingStateChanged(previous=A, current=R, reason="DRAWDOWN", detail="earlier run"),
             stream="monitor", key="state:x", t=T0)  # fmt: skip
    tape.pump(m.on_event)
    assert m.state is R


def order(side: str, quantity: str = "1") -> OrderIntent:
    return OrderIntent(client_order_id="c", symbol="WETH", side=Side(side), quantity=D(quantity),
                       limit_price=D(100), counterparty="venue-a")  # fmt: skip


def test_reducing_lets_only_position_reducing_intents_through_and_halted_none() -> None:
    assert may_send(A, order("BUY"), D(0))
    assert may_send(R, order("SELL", "1"), D(2)) and may_send(R, order("SELL", "2"), D(2))
    assert not may_send(R, order("SELL", "3"), D(2))  # flips the sign
    assert not may_send(R, order("BUY"), D(2))  # grows it
    assert not may_send(R, order("BUY"), D(0))  # opens one
    assert may_send(R, order("BUY"), D(-1))
    assert not may_send(H, order("SELL"), D(2))
    assert "HALTED" in (refusal(H, order("SELL"), D(2)) or "")


def test_a_drawdown_breach_halts_new_intents_within_one_event() -> None:
    """Runner order per record: monitor first, then signal, then the gate for each intent."""
    m = monitor(halt_drawdown_bps=100)
    stage = SignalStage(SignalConfig(strategies=(StrategyConfig(id="buyer",
        strategy="tests.pipeline.test_signal_guards:Recording", params={"size": "1"},
        counterparty="venue-a"),)))  # fmt: skip
    gate = engine(policy_id="test/1")
    tape = Tape()
    tape.fill("buyer", "BUY", "10", "2000", t=T0)
    tape.quote("1999", "2001", t=T0)  # equity 10,000
    tape.quote("1899", "1901", t=T0 + NS)  # 9,000: 1,000 bps: the breaching mark
    verdicts = []
    position = 0
    while position < len(tape.records):  # the runner: every record, in journal order
        rec = tape.records[position]
        position += 1
        for draft in m.on_event(rec):
            tape.record(draft)
        for draft in stage.on_event(rec):
            emitted = tape.record(draft)
            if not isinstance(emitted.event, IntentEmitted):
                continue
            intent = emitted.event.intent
            held = m.book.net_position(intent.symbol)
            inputs = m.book.check_inputs(intent, account=ACCOUNT, quote_symbol="USDC",
                trading_state=m.state, now=emitted.event_time_ns // NS)  # fmt: skip
            verdicts.append((emitted.causation_id, may_send(m.state, intent, held),
                             gate.check(intent, *inputs).codes))  # fmt: skip
    first, second = tape.records[1].key, tape.records[2].key
    assert verdicts[0] == (first, True, ())
    # The intent caused by the breaching mark itself is already refused.
    assert verdicts[1][0] == second and verdicts[1][1] is False
    assert verdicts[1][2][0] == "TRADING_HALTED"


@pytest.mark.parametrize("bps", [0, 10_001])
def test_breaker_policy_refuses_out_of_range_limits(bps: int) -> None:
    with pytest.raises(ValueError):
        BreakerPolicy(halt_drawdown_bps=bps)
