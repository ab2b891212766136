"""The runner end to end: the real feed server, the real runner process, the real journal.

Invariants every test checks on what a run journaled (`assert_exactly_once`): every intent got
exactly one verdict, caused by it and after it; every paper fill follows an approval of the same
order; no order filled twice. Restarts must also leave the stages' state equal to a fold of the
whole journal from scratch (`assert_snapshot_equals_replay`).
"""

from __future__ import annotations

import os
import signal
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from zkrisk.engine.journal.events import (
    Draft,
    IntentEmitted,
    PaperFill,
    Quote,
    Recorded,
    TradingStateChanged,
    VerdictIssued,
)
from zkrisk.engine.journal.sqlite import SQLiteJournal
from zkrisk.engine.pipeline.run_config import load_run_config
from zkrisk.engine.pipeline.runner import Pipeline, _ReadOnly, rebuild
from zkrisk.engine.risk.models import TradingState, VerdictKind

from .runner_support import (
    count_types,
    free_port,
    records,
    records_so_far,
    start_feed,
    start_runner,
    wait_until,
    write_config,
    zkrisk,
)

BUY_EVERY_QUOTE = """[[signal.strategies]]
id = "buyer"
strategy = "tests.pipeline.plugin_strategies:BuyEveryQuote"
symbols = ["WETH"]
params = { quantity = "100" }
"""


def _metrics(port: int) -> bytes:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).content
    except httpx.TransportError:
        return b""


def assert_exactly_once(recs: list[Recorded]) -> dict[str, Recorded]:
    """Every intent one verdict (after it, caused by it); fills only of approvals, once."""
    keys = [r.key for r in recs]
    assert len(keys) == len(set(keys))
    intents = {
        r.event.intent.client_order_id: r for r in recs if isinstance(r.event, IntentEmitted)
    }
    verdicts: dict[str, Recorded] = {}
    for r in recs:
        if isinstance(r.event, VerdictIssued):
            coid = r.event.verdict.client_order_id
            assert coid not in verdicts, f"two verdicts for {coid}"
            assert coid in intents and intents[coid].position < r.position
            assert r.causation_id == intents[coid].key
            verdicts[coid] = r
    assert set(verdicts) == set(intents), "an intent without a verdict"
    filled: set[str] = set()
    for r in recs:
        if isinstance(r.event, PaperFill):
            coid = r.event.client_order_id
            assert coid not in filled
            verdict = verdicts[coid]
            assert isinstance(verdict.event, VerdictIssued)
            assert (
                verdict.event.verdict.kind is VerdictKind.APPROVE and verdict.position < r.position
            )
            filled.add(coid)
    return verdicts


def assert_snapshot_equals_replay(config: Path) -> None:
    """The stages as a restart sees them (snapshot + tail) equal a fold from position 0."""
    loaded = load_run_config(config)
    with closing(SQLiteJournal(loaded.journal_path, readonly=True)) as journal:
        restored = rebuild(journal, loaded)
        assert restored.restored_from > 0, "the run saved no snapshot to restore from"
        scratch = Pipeline(_ReadOnly(journal), loaded)
        scratch.drain(live=False)
        assert scratch.position == restored.position == journal.head()
        assert scratch.monitor.to_bytes() == restored.monitor.to_bytes()
        assert scratch.signal.to_bytes() == restored.signal.to_bytes()
        assert scratch.pretrade.to_bytes() == restored.pretrade.to_bytes()


@pytest.fixture
def feed() -> object:
    port = free_port()
    proc = start_feed(port, "--rate", "400", "--seed", "11")
    yield port
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=10)


def test_a_paper_run_journals_quotes_intents_verdicts_and_fills_exactly_once(
    tmp_path: Path, feed: int
) -> None:
    config = write_config(tmp_path, feed)
    port = free_port()
    run = start_runner(config, "--duration", "5", "--metrics-port", str(port))
    wait_until(lambda: b"zkrisk_feed_messages_total{" in _metrics(port), what="metrics")
    scraped = _metrics(port).decode()
    for name in ("zkrisk_pipeline_trading_state{state=\"ACTIVE\"} 1.0",
                 "zkrisk_pipeline_equity_usd", "zkrisk_pipeline_strategy_intents_total",
                 "zkrisk_feed_active_source{source=\"feed\"} 1.0"):  # fmt: skip
        assert name in scraped, name
    out, err = run.communicate(timeout=60)
    assert run.returncode == 0, err.decode()
    text = out.decode()
    assert "paper mode" in text and "quote → verdict: p50" in text
    recs = records(tmp_path / "journal.db")
    types = count_types(recs)
    assert types["Quote"] > 500 and types["Heartbeat"] >= 4
    assert types["IntentEmitted"] > 0 and types["VerdictIssued"] == types["IntentEmitted"]
    verdicts = assert_exactly_once(recs)
    assert any(isinstance(v.event, VerdictIssued) and v.event.verdict.approved
               for v in verdicts.values())  # fmt: skip
    assert zkrisk("journal", "verify", str(tmp_path / "journal.db")).returncode == 0
    status = zkrisk("status", "--config", str(config), "--json")
    assert status.returncode == 0, status.stderr
    assert '"trading_state": "ACTIVE"' in status.stdout and '"md.feed"' in status.stdout


# Each crash point is also tested on the journal alone (tests/journal/test_crash_recovery.py);
# the whole runner is killed at one of them by default, at all three in `make test-slow`.
CRASH_POINTS = ["journal.mid_batch@30"] + (
    ["journal.after_append_before_cursor@20", "journal.mid_snapshot@2"]
    if os.environ.get("ZKRISK_SLOW") else []
)  # fmt: skip


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_sigkilled_run_restarts_with_nothing_lost_and_nothing_twice(
    tmp_path: Path, feed: int, point: str
) -> None:
    config = write_config(tmp_path, feed, extra="")
    text = config.read_text().replace(
        "heartbeat_ms = 500", "heartbeat_ms = 500\nsnapshot_every = 150"
    )
    config.write_text(text)
    crashed = start_runner(config, "--duration", "20", env={"ZKRISK_CRASH_AT": point})
    crashed.communicate(timeout=60)
    assert crashed.returncode == -signal.SIGKILL, f"the run did not crash at {point}"
    before = records(tmp_path / "journal.db")
    again = start_runner(config, "--duration", "3")
    _, err = again.communicate(timeout=60)
    assert again.returncode == 0, err.decode()
    after = records(tmp_path / "journal.db")
    assert [r.key for r in after[: len(before)]] == [r.key for r in before], "history changed"
    assert count_types(after)["Quote"] > count_types(before)["Quote"]
    assert_exactly_once(after)
    assert_snapshot_equals_replay(config)


def test_the_kill_switch_halts_a_live_run_and_every_later_intent_is_refused(
    tmp_path: Path, feed: int
) -> None:
    config = write_config(tmp_path, feed, strategies=BUY_EVERY_QUOTE.replace('"100"', '"0.01"'))
    run = start_runner(config, "--duration", "30")
    journal = tmp_path / "journal.db"
    try:
        wait_until(lambda: count_types(records_so_far(journal))["VerdictIssued"] > 3,
                   what="first verdicts")  # fmt: skip
        engaged = zkrisk("killswitch", "engage", "--config", str(config), "--reason", "drill")
        assert engaged.returncode == 0, engaged.stderr

        def halted_then_refused() -> bool:
            recs = records_so_far(journal)
            halt = [r.position for r in recs if isinstance(r.event, TradingStateChanged)
                    and r.event.current is TradingState.HALTED]  # fmt: skip
            return bool(halt) and any(isinstance(r.event, VerdictIssued) and r.position > halt[0]
                                      for r in recs)  # fmt: skip

        wait_until(halted_then_refused, what="a verdict after the halt")
    finally:
        run.send_signal(signal.SIGTERM)
        run.communicate(timeout=60)
    assert run.returncode == 0
    recs = records(journal)
    assert_exactly_once(recs)
    halt = next(r for r in recs if isinstance(r.event, TradingStateChanged))
    assert isinstance(halt.event, TradingStateChanged) and halt.event.reason == "KILL_SWITCH"
    later = [r.event.verdict for r in recs if isinstance(r.event, VerdictIssued)
             and r.position > halt.position]  # fmt: skip
    assert later and all(v.kind is VerdictKind.REJECT and "TRADING_HALTED" in v.codes
                         for v in later)  # fmt: skip
    status = zkrisk("status", "--config", str(config), "--json")
    assert '"trading_state": "HALTED"' in status.stdout


def _quote(seq: int, mid: Decimal) -> Draft:
    ts = 1_767_225_600_000_000_000 + seq * 1_000_000_000
    half = Decimal("0.5")
    return Draft(stream="md.feed", key=f"md:feed:WETH:{seq}",
                 event=Quote(source="feed", symbol="WETH", bid=mid - half, ask=mid + half,
                             bid_size=Decimal(1000), ask_size=Decimal(1000), source_seq=seq),
                 event_time_ns=ts, recv_time_ns=ts)  # fmt: skip


def test_a_drawdown_breach_refuses_the_intent_of_the_breaching_quote_itself(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, free_port(), strategies=BUY_EVERY_QUOTE,
                          breakers="halt_drawdown_bps = 250")  # fmt: skip
    loaded = load_run_config(config)
    with closing(SQLiteJournal(loaded.journal_path)) as journal:
        pipeline = Pipeline(journal, loaded)
        for seq, mid in enumerate([Decimal(3000), Decimal(2990), Decimal(2850)], 1):
            pipeline.offer(journal.append([_quote(seq, mid)]))
            pipeline.drain()
        recs = list(journal.iter_from(0))
    verdicts = [r for r in recs if isinstance(r.event, VerdictIssued)]
    fills = [r for r in recs if isinstance(r.event, PaperFill)]
    # quote 1: buy 100 at 3000.5, filled; quote 2: 1,050 USD down (0.1 %), buy 100 at 2990.5;
    # quote 3: the 200 WETH are 29,100 USD down, 2.9 % below the peak: HALTED by that quote.
    assert [v.event.verdict.kind for v in verdicts] == [  # type: ignore[union-attr]
        VerdictKind.APPROVE,
        VerdictKind.APPROVE,
        VerdictKind.REJECT,
    ]
    assert len(fills) == 2
    halt = next(r for r in recs if isinstance(r.event, TradingStateChanged))
    third = verdicts[2]
    assert isinstance(third.event, VerdictIssued) and "TRADING_HALTED" in third.event.verdict.codes
    assert halt.causation_id == "md:feed:WETH:3" and halt.position < third.position
    assert pipeline.monitor.state is TradingState.HALTED


def test_a_bad_run_config_names_the_field_and_exits_2(tmp_path: Path) -> None:
    config = write_config(tmp_path, free_port())
    config.write_text(config.read_text().replace("heartbeat_ms = 500", "heartbeat_ms = 5"))
    result = zkrisk("run", "--config", str(config), "--no-live", "--duration", "1")
    assert result.returncode == 2
    assert "heartbeat_ms" in result.stderr and "greater than or equal to 10" in result.stderr
    missing = zkrisk("status", "--config", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "run config not found" in missing.stderr
    no_journal = zkrisk("status", "--config", str(write_config(tmp_path, free_port())))
    assert no_journal.returncode == 2 and "no journal yet" in no_journal.stderr


def test_an_unknown_venue_is_refused_naming_the_ones_there_are(tmp_path: Path) -> None:
    config = write_config(tmp_path, free_port())
    result = zkrisk("run", "--config", str(config), "--venue", "nasdaq")
    assert result.returncode == 2 and "use paper, simex or uniswap" in result.stderr
    token = (
        config.read_text() + '\n[venue]\nkind = "simex"\nsimex = { token_env = "NO_SUCH_ENV" }\n'
    )
    config.write_text(token)
    missing = zkrisk("run", "--config", str(config), "--duration", "1")
    assert missing.returncode == 2 and "$NO_SUCH_ENV" in missing.stderr


def test_a_snapshot_of_another_config_is_not_used_and_the_fold_starts_over(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, free_port(), strategies=BUY_EVERY_QUOTE)
    loaded = load_run_config(config)
    with closing(SQLiteJournal(loaded.journal_path)) as journal:
        first = Pipeline(journal, loaded)
        for seq in (1, 2):
            first.offer(journal.append([_quote(seq, Decimal(3000))]))
            first.drain()
        first.save_snapshot()
        assert Pipeline(journal, loaded).restore() == first.position  # same config: used
        config.write_text(config.read_text().replace('quantity = "100"', 'quantity = "50"'))
        changed = Pipeline(journal, load_run_config(config))
        assert changed.restore() == 0
        assert "not used" in changed.restore_note and "params" in changed.restore_note
        changed.drain()
        assert changed.position == journal.head()


def test_append_and_fold_folds_what_another_writer_put_between_and_leaves_the_rest_to_drain(
    tmp_path: Path,
) -> None:
    loaded = load_run_config(write_config(tmp_path, free_port()))
    with (
        closing(SQLiteJournal(loaded.journal_path)) as journal,
        closing(SQLiteJournal(loaded.journal_path)) as other,
    ):  # a second writer, as `zkrisk killswitch` is
        pipeline = Pipeline(journal, loaded)
        pipeline.append_and_fold([_quote(1, Decimal(3000))])
        other.append([_quote(2, Decimal(3000))])  # between ours: a gap in what we offered
        pipeline.append_and_fold([_quote(3, Decimal(3000))])
        assert pipeline.position == journal.head() and pipeline.stats.by_type["Quote"] == 3
        other.append([_quote(4, Decimal(3000))])  # after ours: the runner's poll folds it
        pipeline.append_and_fold([])
        assert pipeline.position == journal.head() - 1
        pipeline.drain()
        assert pipeline.position == journal.head() and pipeline.stats.by_type["Quote"] == 4


def test_a_second_runner_on_the_same_journal_is_refused_while_the_first_runs(
    tmp_path: Path, feed: int
) -> None:
    config = write_config(tmp_path, feed)
    first = start_runner(config, "--duration", "20")
    try:
        wait_until(lambda: count_types(records_so_far(tmp_path / "journal.db"))["Quote"] > 0,
                   what="the first run's quotes")  # fmt: skip
        second = zkrisk("run", "--config", str(config), "--no-live", "--duration", "1")
        assert second.returncode == 2
        assert (
            "another zkrisk run (pid" in second.stderr and "its own [run] journal" in second.stderr
        )
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert first.returncode == 0
    assert_exactly_once(records(tmp_path / "journal.db"))
