"""Quotes decided before their commit (`Pipeline.fold_ahead`): the verdict is the one a fold of
the committed journal gives, also when another writer's record lands before the quote, and an
append that fails leaves nothing decided on the quote it lost. The real journal, no runner
process: the runner wires ingest's batch the same way (`Runner._on_ingested`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

import pytest

from zkrisk.engine.journal.events import Draft, PaperFill, Quote, Recorded, VerdictIssued
from zkrisk.engine.journal.sqlite import SQLiteJournal
from zkrisk.engine.pipeline.monitor import kill_switch_draft
from zkrisk.engine.pipeline.run_config import load_run_config
from zkrisk.engine.pipeline.runner import Pipeline, _ReadOnly
from zkrisk.engine.risk.models import VerdictKind

from .runner_support import free_port, write_config

BUYER = """[[signal.strategies]]
id = "buyer"
strategy = "tests.pipeline.plugin_strategies:BuyEveryQuote"
symbols = ["WETH"]
params = { quantity = "0.01" }
"""
T0 = 1_767_225_600_000_000_000


def quote(seq: int, mid: Decimal = Decimal(3000)) -> Draft:
    ts = T0 + seq * 1_000_000_000
    half = Decimal("0.5")
    return Draft(stream="md.feed", key=f"md:feed:WETH:{seq}",
                 event=Quote(source="feed", symbol="WETH", bid=mid - half, ask=mid + half,
                             bid_size=Decimal(1000), ask_size=Decimal(1000), source_seq=seq),
                 event_time_ns=ts, recv_time_ns=ts)  # fmt: skip


class Batch:
    """Ingest's side of the handshake: drafts wait here until `settle` appends them."""

    def __init__(self, journal: SQLiteJournal, pipeline: Pipeline) -> None:
        self.journal, self.pipeline, self.drafts = journal, pipeline, list[Draft]()
        self.fail = False
        pipeline.settle = self.settle

    def add(self, draft: Draft) -> None:
        self.drafts.append(draft)
        self.pipeline.fold_ahead(draft)

    def settle(self) -> None:
        drafts, self.drafts = self.drafts, []
        if self.fail:
            return  # the append raised: ingest's batch is gone, nothing comes back
        records = self.journal.append(drafts)
        self.pipeline.confirm(records)
        self.pipeline.offer(records)
        self.pipeline.drain(to_head=False)


def verdicts(journal: SQLiteJournal) -> list[tuple[str, VerdictKind, tuple[str, ...]]]:
    return [(r.causation_id or "", r.event.verdict.kind, r.event.verdict.codes)
            for r in journal.iter_from(0) if isinstance(r.event, VerdictIssued)]  # fmt: skip


def assert_replay_equal(journal: SQLiteJournal, pipeline: Pipeline) -> None:
    scratch = Pipeline(_ReadOnly(journal), pipeline.run)
    scratch.drain(live=False)
    assert scratch.position == pipeline.position == journal.head()
    for name in ("monitor", "signal", "pretrade"):
        assert getattr(scratch, name).to_bytes() == getattr(pipeline, name).to_bytes(), name


class Fold(NamedTuple):
    journal: SQLiteJournal
    other: SQLiteJournal
    """A second writer on the same journal file."""
    pipeline: Pipeline
    batch: Batch


@pytest.fixture
def fold(tmp_path: Path) -> Iterator[Fold]:
    loaded = load_run_config(write_config(tmp_path, free_port(), strategies=BUYER))
    journal, other = SQLiteJournal(loaded.journal_path), SQLiteJournal(loaded.journal_path)
    with closing(journal), closing(other):
        pipeline = Pipeline(journal, loaded)
        yield Fold(journal, other, pipeline, Batch(journal, pipeline))


def test_a_quote_decided_ahead_is_journaled_with_its_verdict_after_it_and_the_cursor(
    fold: Fold,
) -> None:
    journal, _, pipeline, batch = fold
    for seq in (1, 2):
        batch.add(quote(seq))
    assert journal.head() == 0 and len(pipeline.stats.decision_ns) == 0  # decided, unsaid
    assert [d.event.type for d in pipeline.pending].count("VerdictIssued") == 2
    batch.settle()
    recs: list[Recorded] = list(journal.iter_from(0))
    assert [r.event.type for r in recs[:2]] == ["Quote", "Quote"]
    assert [kind for _, kind, _ in verdicts(journal)] == [VerdictKind.APPROVE] * 2
    assert sum(isinstance(r.event, PaperFill) for r in recs) == 2
    assert journal.cursor("pipeline") == 2 and len(pipeline.stats.decision_ns) == 2
    assert pipeline.rewinds == 0 and pipeline.monitor.last_hash == recs[-1].hash
    assert_replay_equal(journal, pipeline)


def test_a_kill_switch_landing_before_a_quote_decided_ahead_refuses_its_intent(
    fold: Fold,
) -> None:
    journal, other, pipeline, batch = fold
    batch.add(quote(1))
    batch.settle()
    batch.add(quote(2))  # approved on the state this process knows...
    other.append([kill_switch_draft(True, "drill", actor="test", now_ns=T0)])
    batch.settle()  # ...but the journal holds the halt first: decided again, refused
    assert pipeline.rewinds == 1
    assert verdicts(journal) == [
        ("intent:buyer:md:feed:WETH:1", VerdictKind.APPROVE, ()),
        ("intent:buyer:md:feed:WETH:2", VerdictKind.REJECT, ("TRADING_HALTED",)),
    ]
    assert len(pipeline.stats.decision_ns) == 2  # the refusal once, not the approval
    assert_replay_equal(journal, pipeline)


def test_a_failed_append_voids_what_was_decided_on_the_quotes_it_lost(
    fold: Fold,
) -> None:
    journal, _, pipeline, batch = fold
    batch.add(quote(1))
    batch.fail = True
    pipeline.commit()  # settles first: the batch never comes back
    assert pipeline.rewinds == 1 and journal.head() == 0 and not pipeline.pending
    batch.fail = False
    batch.add(quote(1))  # the feed resends it (ingest resumes from the journal)
    batch.settle()
    assert [kind for _, kind, _ in verdicts(journal)] == [VerdictKind.APPROVE]
    assert_replay_equal(journal, pipeline)


def test_a_batch_that_holds_other_records_decides_their_quotes_after_the_commit(
    fold: Fold,
) -> None:
    journal, _, pipeline, batch = fold
    batch.add(quote(1))
    batch.add(kill_switch_draft(True, "drill", actor="test", now_ns=T0))  # not market data
    batch.add(quote(2))  # after it in the batch: waits for the commit
    assert len(pipeline.ahead) == 1 and pipeline.ahead_closed
    batch.settle()
    assert [kind for _, kind, _ in verdicts(journal)] == [VerdictKind.APPROVE,
                                                          VerdictKind.REJECT]  # fmt: skip
    assert pipeline.rewinds == 0
    assert_replay_equal(journal, pipeline)


def test_the_decision_clock_stops_when_the_gate_has_decided_before_the_verdicts_drafts(
    fold: Fold, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`tick_to_decision`'s clock: read once per verdict, right after the gate's check and
    before the verdict's drafts and paper fill are built; the sample is that reading minus the
    quote's receive time."""
    from zkrisk.engine.pipeline import pretrade

    _, _, pipeline, batch = fold
    order: list[str] = []

    def clock() -> int:
        order.append("clock")
        return T0 + 5 * 1_000_000_000 + 123_000

    check, fill = pipeline.pretrade.engine.check, pretrade.paper_fill_draft
    monkeypatch.setattr(pipeline.pretrade, "clock", clock)
    monkeypatch.setattr(pipeline.pretrade.engine, "check",
                        lambda *a: (order.append("check"), check(*a))[1])  # fmt: skip
    monkeypatch.setattr(pretrade, "paper_fill_draft",
                        lambda *a, **k: (order.append("fill"), fill(*a, **k))[1])  # fmt: skip
    batch.add(quote(5))
    batch.settle()
    assert order == ["check", "clock", "fill"]
    assert pipeline.stats.decision_ns == [123_000]


def test_a_folded_fill_has_the_gates_portfolio_built_before_the_next_quote(
    fold: Fold,
) -> None:
    """The pre-trade stage builds the gate's portfolio as it folds each fill (off the next
    quote's way to its verdict): after the fill, the book's portfolio is already the one a
    build from the filled book gives."""
    _, _, pipeline, batch = fold
    batch.add(quote(1))
    batch.settle()  # the approval's paper fill is journaled and folded
    book, account = pipeline.monitor.book, pipeline.run.config.run.account
    assert book.position_of("buyer", "WETH") == Decimal("0.01")
    warm = book._portfolio
    assert warm is not None
    book._portfolio = None
    fresh = book.portfolio(account, pipeline.pretrade.engine.policy.quote_symbol)
    assert warm[1] == fresh and fresh.quantity_fixed("WETH") > 0
