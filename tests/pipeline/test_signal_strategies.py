"""The shipped strategies on hand-built quote sequences: known crossings give known decisions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from zkrisk.engine.journal.events import IntentEmitted, Quote
from zkrisk.engine.pipeline.signal import SignalConfig, SignalStage, StrategyConfig
from zkrisk.engine.pipeline.strategies.base import Decision, StrategyContext
from zkrisk.engine.pipeline.strategies.mean_reversion import MeanReversionStrategy, z_score
from zkrisk.engine.pipeline.strategies.momentum import MomentumStrategy
from zkrisk.engine.risk.models import Side

from .tape import NS, T0, Tape

D = Decimal


def q(mid: str, spread: str = "1") -> Quote:
    m, s = D(mid), D(spread) / 2
    return Quote(source="feed", symbol="WETH", bid=m - s, ask=m + s, bid_size=D(5), ask_size=D(5))


def ctx(position: str = "0") -> StrategyContext:
    return StrategyContext(position=D(position), event_time_ns=T0)


def test_momentum_buys_on_an_upward_cross_and_reverses_on_a_downward_cross() -> None:
    s = MomentumStrategy("mom", {"fast": 2, "slow": 3, "quantity": "1"})
    # First full window [103, 102, 101]: fast 101.5 < slow 102 sets the side, no signal.
    assert [s.on_quote(q(m), ctx()) for m in ("103", "102", "101", "100")] == [[], [], [], []]
    # [101, 100, 104]: fast 102 > slow 101.67, a cross up: buy 1 at the ask.
    assert s.on_quote(q("104"), ctx()) == [Decision("WETH", Side.BUY, D(1), D("104.5"))]
    # [100, 104, 99]: fast 101.5 > slow 101, still up: nothing.
    assert s.on_quote(q("99"), ctx("1")) == []
    # [104, 99, 95]: fast 97 < slow 99.33, a cross down: from +1 to -1 is a sell of 2 at the bid.
    assert s.on_quote(q("95"), ctx("1")) == [Decision("WETH", Side.SELL, D(2), D("94.5"))]


def test_momentum_long_only_goes_flat_on_a_downward_cross() -> None:
    s = MomentumStrategy("mom", {"fast": 2, "slow": 3, "quantity": "1", "allow_short": False})
    for m in ("103", "102", "101", "100", "104"):
        s.on_quote(q(m), ctx())
    s.on_quote(q("99"), ctx("1"))
    assert s.on_quote(q("95"), ctx("1")) == [Decision("WETH", Side.SELL, D(1), D("94.5"))]


def test_momentum_refuses_a_fast_window_not_below_the_slow_one() -> None:
    with pytest.raises(ValidationError, match="fast"):
        MomentumStrategy("mom", {"fast": 3, "slow": 3, "quantity": "1"})


def test_z_score_is_exact_on_a_hand_computed_window() -> None:
    # mean 100, population variance 2/3: z of 102 = 2 / sqrt(2/3) = sqrt(6) ≈ 2.449489742783178
    assert z_score(D(102), [D(100), D(101), D(99)]) == D(6).sqrt()
    assert z_score(D(5), [D(1), D(1)]) is None


def test_mean_reversion_sells_a_spike_and_closes_back_at_the_mean() -> None:
    s = MeanReversionStrategy("mr", {"window": 3, "entry_z": "2", "exit_z": "0.5", "quantity": "2"})
    assert [s.on_quote(q(m), ctx()) for m in ("100", "101", "99")] == [[], [], []]
    # z(102 | 100, 101, 99) = 2.449 ≥ 2: short 2 at the bid.
    assert s.on_quote(q("102"), ctx()) == [Decision("WETH", Side.SELL, D(2), D("101.5"))]
    # z(100.5 | 101, 99, 102) = -0.13, inside the exit band: buy the 2 back at the ask.
    assert s.on_quote(q("100.5"), ctx("-2")) == [Decision("WETH", Side.BUY, D(2), D("101.0"))]
    # Still inside the band and already flat: nothing more.
    assert s.on_quote(q("100.6"), ctx("0")) == []


def test_mean_reversion_buys_a_dip() -> None:
    s = MeanReversionStrategy("mr", {"window": 3, "quantity": "1"})
    for m in ("100", "101", "99"):
        s.on_quote(q(m), ctx())
    assert s.on_quote(q("97"), ctx()) == [Decision("WETH", Side.BUY, D(1), D("97.5"))]


def _intents(stage: SignalStage, *, fill_the_buy: bool) -> list[IntentEmitted]:
    tape, out = Tape(), []
    for i, m in enumerate(("103", "102", "101", "100", "104", "99", "95")):
        mid = D(m)
        tape.quote(str(mid - D("0.5")), str(mid + D("0.5")), t=T0 + i * NS)
        out += tape.pump(stage.on_event)
        if fill_the_buy and m == "104":
            tape.fill("mom", "BUY", "1", "104.5", t=T0 + i * NS)
    return [r.event for r in out if isinstance(r.event, IntentEmitted)]


CONFIG = SignalConfig(strategies=(StrategyConfig(id="mom", strategy="momentum",
    params={"fast": 2, "slow": 3, "quantity": "1"}, counterparty="venue-a"),))  # fmt: skip


def test_the_stage_turns_decisions_into_intents_with_ids_derived_from_the_causing_quote() -> None:
    first = _intents(SignalStage(CONFIG), fill_the_buy=False)
    again = _intents(SignalStage(CONFIG), fill_the_buy=False)
    # No fill came back, so the paper position is still 0 at the cross down: sell 1.
    assert [(e.intent.side, e.intent.quantity) for e in first] == [(Side.BUY, D(1)),
                                                                   (Side.SELL, D(1))]  # fmt: skip
    assert first == again  # a replay emits the very same intents and client order ids
    assert first[0].intent.client_order_id != first[1].intent.client_order_id
    assert first[0].intent.counterparty == "venue-a" and first[0].strategy_id == "mom"
    assert first[0].reference_price == D(104) and first[0].intent.limit_price == D("104.5")


def test_the_strategy_sees_its_paper_position_from_the_fills() -> None:
    intents = _intents(SignalStage(CONFIG), fill_the_buy=True)
    assert [(e.intent.side, e.intent.quantity) for e in intents] == [(Side.BUY, D(1)),
                                                                     (Side.SELL, D(2))]  # fmt: skip


def test_mid_is_each_quotes_own_when_quotes_alternate() -> None:
    """`mid` remembers the last quote's mid (a fold asks four times): by identity, so an
    equal-looking or alternating quote is never given another's mid."""
    from zkrisk.engine.pipeline.strategies.base import mid

    def q(bid: str, ask: str) -> Quote:
        return Quote(source="feed", symbol="WETH", bid=Decimal(bid), ask=Decimal(ask),
                     bid_size=Decimal(1), ask_size=Decimal(1))  # fmt: skip

    a, b = q("2999", "3001"), q("3999", "4002")
    assert [mid(a), mid(a), mid(b), mid(a), mid(b)] == [Decimal(3000), Decimal(3000),
                                                         Decimal("4000.5"), Decimal(3000),
                                                         Decimal("4000.5")]  # fmt: skip
