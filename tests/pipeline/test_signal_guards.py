"""What a strategy may see: validated, fresh market data from healthy sources, and nothing else;
and when it is switched off automatically."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import pytest

from zkrisk.engine.journal.events import (
    FeedHealth,
    FeedStatus,
    IntentEmitted,
    Quarantined,
    Quote,
    StrategyDisabled,
    Trade,
)
from zkrisk.engine.pipeline.signal import (
    DisableCriteria,
    SignalConfig,
    SignalStage,
    StrategyConfig,
)
from zkrisk.engine.pipeline.strategies.base import Decision, StrategyContext
from zkrisk.engine.risk.models import Side

from .tape import NS, T0, Tape, events_of

D = Decimal
MS = 1_000_000


class Recording:
    """A real strategy that remembers every event it was shown and buys `size` on each quote."""

    def __init__(self, strategy_id: str, params: Mapping[str, Any]) -> None:
        self.id = strategy_id
        self.size = D(str(params.get("size", "0")))
        self.seen: list[Quote | Trade] = []

    def on_quote(self, quote: Quote, context: StrategyContext) -> Sequence[Decision]:
        self.seen.append(quote)
        return [Decision(quote.symbol, Side.BUY, self.size, quote.ask)] if self.size else []

    def on_trade(self, trade: Trade, context: StrategyContext) -> Sequence[Decision]:
        self.seen.append(trade)
        return []


PATH = "tests.pipeline.test_signal_guards:Recording"


def stage_with(**kw: Any) -> tuple[SignalStage, Recording]:
    criteria = kw.pop("criteria", DisableCriteria())
    params = kw.pop("params", {})
    config = SignalConfig(strategies=(StrategyConfig(id="rec", strategy=PATH, params=params,
        max_quote_age_ms=kw.pop("max_quote_age_ms", 500), criteria=criteria),), **kw)  # fmt: skip
    stage = SignalStage(config)
    strategy = stage.strategy("rec")
    assert isinstance(strategy, Recording)
    return stage, strategy


def health(tape: Tape, status: FeedStatus, *, t: int, source: str = "feed") -> None:
    tape.add(FeedHealth(source=source, status=status, reason="test", active_source=source),
             stream="ingest", key=f"health:{t}", t=t)  # fmt: skip


def test_a_quote_older_than_the_strategys_max_age_is_not_shown() -> None:
    stage, rec = stage_with(max_quote_age_ms=500)
    tape = Tape()
    tape.quote("99", "101", t=T0)  # fresh
    tape.quote("99", "102", t=T0 + 1 * NS, recv=T0 + 1 * NS + 501 * MS)  # arrived 501 ms late
    tape.quote("99", "103", t=T0 + 2 * NS, recv=T0 + 2 * NS + 500 * MS)  # 500 ms: still fresh
    tape.pump(stage.on_event)
    assert [q.ask for q in rec.seen if isinstance(q, Quote)] == [D(101), D(103)]
    assert stage.status()[0].skipped_stale == 1


def test_a_quote_that_arrives_behind_newer_events_is_stale_against_the_stage_clock() -> None:
    stage, rec = stage_with(max_quote_age_ms=500)
    tape = Tape()
    tape.quote("99", "101", t=T0 + 5 * NS)
    tape.quote("99", "102", t=T0, recv=T0 + 1 * MS)  # received promptly, but the clock is at +5 s
    tape.pump(stage.on_event)
    assert [q.ask for q in rec.seen if isinstance(q, Quote)] == [D(101)]


def test_quarantined_messages_and_quotes_off_the_md_streams_never_reach_a_strategy() -> None:
    stage, rec = stage_with()
    tape = Tape()
    tape.add(Quarantined(source="feed", reason="BID_NOT_BELOW_ASK", detail="bid 101 ≥ ask 100",
                         raw='{"bid": 101, "ask": 100}'), stream="ingest", key="q:feed:1", t=T0)  # fmt: skip
    # A Quote event that is not ingest's validated output (say a tool copied one elsewhere).
    copied = Quote(source="feed", symbol="WETH", bid=D(1), ask=D(2), bid_size=D(1), ask_size=D(1))
    tape.add(copied, stream="quarantine", key="copy:1", t=T0)
    tape.add(copied, stream="ingest", key="copy:2", t=T0)
    tape.quote("99", "101", t=T0)
    tape.pump(stage.on_event)
    assert [q.ask for q in rec.seen if isinstance(q, Quote)] == [D(101)]


def test_trades_on_md_streams_reach_on_trade() -> None:
    stage, rec = stage_with()
    tape = Tape()
    tape.add(Trade(source="feed", symbol="WETH", price=D(100), size=D(1)), stream="md.feed",
             key="md:feed:WETH:t1", t=T0)  # fmt: skip
    tape.pump(stage.on_event)
    assert [type(e).__name__ for e in rec.seen] == ["Trade"]


def test_a_down_source_pauses_strategies_until_it_is_healthy_again() -> None:
    stage, rec = stage_with()
    tape = Tape()
    health(tape, FeedStatus.DOWN, t=T0)
    tape.quote("99", "101", t=T0)
    tape.quote("99", "101", t=T0, source="backup")  # another source is unaffected
    health(tape, FeedStatus.HEALTHY, t=T0 + 1)
    tape.quote("99", "102", t=T0 + 1)
    tape.pump(stage.on_event)
    assert [(q.source, q.ask) for q in rec.seen if isinstance(q, Quote)] == [
        ("backup", D(101)), ("feed", D(102))]  # fmt: skip


def test_a_degraded_source_pauses_strategies_by_default() -> None:
    stage, rec = stage_with()
    tape = Tape()
    health(tape, FeedStatus.DEGRADED, t=T0)
    for i in range(5):
        tape.quote("99", "101", t=T0 + i * 100 * MS)
    tape.pump(stage.on_event)
    assert rec.seen == [] and stage.status()[0].skipped_degraded == 5


def test_a_degraded_source_is_throttled_to_one_event_per_interval_when_configured() -> None:
    stage, rec = stage_with(when_degraded="throttle", degraded_interval_ms=1_000)
    tape = Tape()
    tape.quote("99", "100", t=T0)
    health(tape, FeedStatus.DEGRADED, t=T0)
    for i in range(1, 26):  # 2.5 s of quotes every 100 ms
        tape.quote("99", str(100 + i), t=T0 + i * 100 * MS)
    tape.pump(stage.on_event)
    # Healthy: every quote. Degraded: at +0.1 s, +1.1 s, +2.1 s only.
    assert [q.ask for q in rec.seen if isinstance(q, Quote)] == [D(100), D(101), D(111), D(121)]


def test_a_disabled_strategy_sees_nothing_more() -> None:
    stage, rec = stage_with()
    tape = Tape()
    tape.quote("99", "101", t=T0)
    tape.add(StrategyDisabled(strategy_id="rec", reason="OPERATOR", detail="by hand"),
             stream="signal", key="disabled:rec:op", t=T0)  # fmt: skip
    tape.quote("99", "102", t=T0)
    tape.pump(stage.on_event)
    assert len(rec.seen) == 1 and stage.status()[0].disabled_reason == "OPERATOR"


def test_a_strategy_disabled_in_the_config_never_runs() -> None:
    config = SignalConfig(strategies=(StrategyConfig(id="rec", strategy=PATH, enabled=False),))
    stage = SignalStage(config)
    tape = Tape()
    tape.quote("99", "101", t=T0)
    tape.pump(stage.on_event)
    strategy = stage.strategy("rec")
    assert isinstance(strategy, Recording) and strategy.seen == []


# --- auto-disable ---------------------------------------------------------------------------


def test_more_intents_per_minute_than_allowed_disables_the_strategy_once() -> None:
    stage, rec = stage_with(params={"size": "1"},
                            criteria=DisableCriteria(max_intents_per_minute=3))  # fmt: skip
    tape = Tape()
    for i in range(6):
        tape.quote("99", "101", t=T0 + i * 10 * NS)  # one every 10 s: 6 in 50 s
    out = tape.pump(stage.on_event)
    assert len(events_of(out, IntentEmitted)) == 3
    [disabled] = events_of(out, StrategyDisabled)
    assert disabled.reason == "MAX_INTENTS_PER_MINUTE" and "limit is 3" in disabled.detail
    assert len(rec.seen) == 4  # the fourth quote's intent would breach; nothing after


def test_intents_spread_wider_than_a_minute_stay_within_the_rate() -> None:
    stage, _ = stage_with(params={"size": "1"}, criteria=DisableCriteria(max_intents_per_minute=3))
    tape = Tape()
    for i in range(6):
        tape.quote("99", "101", t=T0 + i * 20 * NS)  # one every 20 s: 3 per minute at most
    out = tape.pump(stage.on_event)
    assert len(events_of(out, IntentEmitted)) == 6 and not events_of(out, StrategyDisabled)
    assert stage.status()[0].intents_last_minute == 3


def test_a_paper_loss_beyond_the_limit_disables_the_strategy_on_the_mark() -> None:
    stage, rec = stage_with(criteria=DisableCriteria(max_loss_usd=D(50)))
    tape = Tape()
    tape.quote("99", "101", t=T0)
    tape.fill("rec", "BUY", "10", "101", t=T0)
    tape.quote("96", "98", t=T0 + 1)  # mark 97: P&L 10 · (97 - 101) = -40
    tape.quote("95", "97", t=T0 + 2)  # mark 96: P&L -50: the limit
    tape.quote("95", "97", t=T0 + 3)
    out = tape.pump(stage.on_event)
    [disabled] = events_of(out, StrategyDisabled)
    assert disabled.reason == "MAX_LOSS" and "-50" in disabled.detail
    assert len(rec.seen) == 2  # the breaching mark is not shown
    assert stage.status()[0].pnl_usd == D(-50)


def test_a_hit_rate_below_the_minimum_after_enough_closing_fills_disables_the_strategy() -> None:
    criteria = DisableCriteria(min_hit_rate_bps=5_000, min_closing_fills=4)
    stage, _ = stage_with(criteria=criteria)
    tape = Tape()
    tape.quote("99", "101", t=T0)
    # Round trips: win, loss, loss, then a loss on the 4th close: 1 of 4 = 25 % < 50 %.
    for i, exit_price in enumerate(("102", "99", "98", "97")):
        tape.fill("rec", "BUY", "1", "100", t=T0 + i)
        tape.fill("rec", "SELL", "1", exit_price, t=T0 + i)
    out = tape.pump(stage.on_event)
    [disabled] = events_of(out, StrategyDisabled)
    assert disabled.reason == "MIN_HIT_RATE" and "1 of 4" in disabled.detail
    status = stage.status()[0]
    assert (status.closing_fills, status.hits, status.hit_rate_bps) == (4, 1, 2_500)


def test_the_hit_rate_is_not_judged_before_the_minimum_number_of_closing_fills() -> None:
    stage, _ = stage_with(criteria=DisableCriteria(min_hit_rate_bps=5_000, min_closing_fills=4))
    tape = Tape()
    for i in range(3):
        tape.fill("rec", "BUY", "1", "100", t=T0 + i)
        tape.fill("rec", "SELL", "1", "90", t=T0 + i)
    assert not events_of(tape.pump(stage.on_event), StrategyDisabled)


def test_an_intent_the_risk_models_refuse_disables_the_strategy() -> None:
    stage, _ = stage_with(params={"size": "0.000000001"})  # 9 decimals: beyond QTY scale
    tape = Tape()
    tape.quote("99", "101", t=T0)
    [disabled] = events_of(tape.pump(stage.on_event), StrategyDisabled)
    assert disabled.reason == "INVALID_INTENT"


@pytest.mark.parametrize("field", ["max_loss_usd", "min_hit_rate_bps"])
def test_disable_criteria_refuse_unknown_fields_and_bad_values(field: str) -> None:
    with pytest.raises(ValueError):
        DisableCriteria(**{field: -1})
    with pytest.raises(ValueError, match="extra"):
        DisableCriteria.model_validate({"max_losss_usd": 1})
