"""Pre-trade decides an intent in its cause's fold, once: its own record, when folded, is not
decided again (the rate limit would count the approval twice), even across a snapshot."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from zkrisk.engine.journal.events import Draft, IntentEmitted, Quote, Recorded, VerdictIssued
from zkrisk.engine.pipeline.monitor import Monitor, PipelineMetrics
from zkrisk.engine.pipeline.pretrade import PreTradeStage
from zkrisk.engine.pipeline.run_config import load_run_config
from zkrisk.engine.risk.models import OrderIntent, Side, TradingState

from .runner_support import EXAMPLES

T0 = 1_767_225_600 * 1_000_000_000


def recorded(position: int, stream: str, key: str, event: object) -> Recorded:
    return Recorded(position, stream, position, key, event, T0, T0, None, f"h{position}")  # type: ignore[arg-type]


def stage() -> tuple[PreTradeStage, Monitor]:
    loaded = load_run_config(Path(EXAMPLES / "run.toml"))
    monitor = Monitor(loaded.config.monitor, metrics=PipelineMetrics())
    gate = PreTradeStage(loaded.engine(), monitor.book, account=loaded.config.run.account)
    quote = Quote(source="feed", symbol="WETH", bid=Decimal("3000"), ask=Decimal("3001"),
                  bid_size=Decimal(5), ask_size=Decimal(5), source_seq=1)  # fmt: skip
    rec = recorded(1, "md.feed", "md:feed:WETH:1", quote)
    monitor.on_event(rec)
    gate.on_event(rec, TradingState.ACTIVE)
    return gate, monitor


def intent_draft() -> Draft:
    intent = OrderIntent(client_order_id="buyer-1", symbol="WETH", side=Side.BUY,
                         quantity=Decimal("0.01"), limit_price=Decimal("3001"),
                         counterparty="paper", strategy_id="buyer")  # fmt: skip
    event = IntentEmitted(strategy_id="buyer", intent=intent, reference_price=Decimal("3000.5"))
    return Draft("signal", "intent:buyer:md:feed:WETH:1", event, T0, T0, "md:feed:WETH:1")


def as_recorded(draft: Draft, position: int) -> Recorded:
    return Recorded(position, draft.stream, 1, draft.key, draft.event, draft.event_time_ns,
                    draft.recv_time_ns, draft.causation_id, f"h{position}")  # fmt: skip


def test_an_intent_decided_with_its_quote_is_not_decided_again_when_its_record_is_folded() -> None:
    gate, _ = stage()
    draft = intent_draft()
    decided = gate.decide_derived(draft, TradingState.ACTIVE)
    assert isinstance(decided[0].event, VerdictIssued) and decided[0].event.verdict.approved
    assert gate.on_event(as_recorded(draft, 2), TradingState.ACTIVE) == []
    assert len(gate.approved_at) == 1  # the rate limit counts the approval once
    assert not gate.decided


def test_the_intents_decided_ahead_of_their_record_survive_a_snapshot() -> None:
    gate, _ = stage()
    draft = intent_draft()
    gate.decide_derived(draft, TradingState.ACTIVE)
    restored, _ = stage()
    restored.restore(gate.to_bytes())
    assert restored.on_event(as_recorded(draft, 2), TradingState.ACTIVE) == []
    assert len(restored.approved_at) == 1


def test_an_intent_another_writer_journaled_is_decided_when_its_record_is_folded() -> None:
    gate, _ = stage()
    drafts = gate.on_event(as_recorded(intent_draft(), 2), TradingState.HALTED)
    assert isinstance(drafts[0].event, VerdictIssued)
    assert [r.code for r in drafts[0].event.verdict.reasons] == ["TRADING_HALTED"]
