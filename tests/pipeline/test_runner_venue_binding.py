"""A journal trades on one venue: a run on another (or another account, chain, wallet) refuses
to continue it, naming both. Real runner processes and feed/simex servers for the paper ↔
simex directions; the binding itself on a real SQLite journal for the rest."""

from __future__ import annotations

from contextlib import closing
from decimal import Decimal
from pathlib import Path

import pytest

from zkrisk.engine.journal.events import (
    Draft,
    OrderAccepted,
    OrderSpec,
    OrderSubmitted,
    PaperFill,
    VenueBound,
)
from zkrisk.engine.journal.sqlite import SQLiteJournal
from zkrisk.engine.pipeline.venue_binding import KEY, JournalVenueMismatch, bind
from zkrisk.engine.risk.models import Side

from ..api.server_fixtures import free_port
from .runner_support import records, records_so_far, start_feed, start_runner, wait_until
from .runner_support import write_config as write_run_config
from .test_runner_venue import CROSSER, start_simex, stop

WALLET = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
OTHER_WALLET = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


def _simex(port: int, account: str = "desk") -> str:
    return (f'\n[venue]\nkind = "simex"\n'
            f'simex = {{ url = "ws://127.0.0.1:{port}", account = "{account}" }}\n')  # fmt: skip


def _run_briefly(config: Path, *args: str) -> tuple[int, str]:
    run = start_runner(config, "--duration", "3", *args)
    _, err = run.communicate(timeout=60)
    return run.returncode, err.decode()


def test_a_paper_journal_continued_by_a_simex_run_is_refused_naming_both_and_left_as_it_was(
    tmp_path: Path,
) -> None:
    feed_port = free_port()
    feed = start_feed(feed_port, "--rate", "200")
    journal = tmp_path / "journal.db"
    try:
        config = write_run_config(tmp_path, feed_port)  # paper, the shipped strategies
        code, err = _run_briefly(config)
        assert code == 0, err
        before = [r.key for r in records(journal)]
        assert KEY in before
        code, err = _run_briefly(config, "--venue", "simex")
        assert code == 2, err
        for said in ("written trading on paper (fills at the quote)",
                     "this run trades on simex (account 'desk')", "a journal of its own",
                     "--venue paper"):  # fmt: skip
            assert said in err, err
        assert [r.key for r in records(journal)] == before  # nothing appended
        code, err = _run_briefly(config, "--venue", "paper")  # the same venue continues it
        assert code == 0, err
    finally:
        stop(feed)


def test_a_simex_journal_continued_by_a_paper_run_or_another_account_is_refused(
    tmp_path: Path,
) -> None:
    feed_port, simex_port = free_port(), free_port()
    feed = start_feed(feed_port, "--rate", "200")
    simex = start_simex(simex_port)
    journal = tmp_path / "journal.db"
    config = write_run_config(tmp_path, feed_port, strategies=CROSSER, extra=_simex(simex_port))
    run = start_runner(config, "--duration", "30")
    try:
        wait_until(lambda: any(isinstance(r.event, OrderAccepted)
                               for r in records_so_far(journal)), what="an ack")  # fmt: skip
        stop(run)
        assert run.returncode == 0
        before = [r.key for r in records(journal)]
        code, err = _run_briefly(config, "--venue", "paper")
        assert code == 2, err
        assert "written trading on simex (account 'desk')" in err, err
        assert "this run trades on paper" in err and "the same [venue.simex] account" in err
        other = write_run_config(tmp_path, feed_port, strategies=CROSSER,
                                 extra=_simex(simex_port, "desk-2"))  # fmt: skip
        code, err = _run_briefly(other)
        assert code == 2 and "this run trades on simex (account 'desk-2')" in err, err
        assert [r.key for r in records(journal)] == before
    finally:
        stop(run, simex, feed)


def _draft(key: str, event: PaperFill | OrderSubmitted | VenueBound, stream: str) -> Draft:
    return Draft(stream, key, event, 1, 1)


def _order(venue: str) -> OrderSubmitted:
    return OrderSubmitted(order=OrderSpec(client_order_id="c1", venue=venue, symbol="WETH",
                                          side=Side.BUY, quantity=Decimal(1),
                                          reference_price=Decimal(3000)))  # fmt: skip


PAPER_FILL = PaperFill(client_order_id="c1", strategy_id="s", symbol="WETH", side=Side.BUY,
                       quantity=Decimal(1), price=Decimal(3000))  # fmt: skip


@pytest.mark.parametrize(
    ("history", "run", "said"),
    [
        # written before VenueBound existed: judged by its orders or paper fills
        ([_draft("paperfill:c1", PAPER_FILL, "pretrade")], VenueBound(kind="simex"),
         "written trading on paper"),
        ([_draft("order:c1", _order("simex"), "orders")], VenueBound(kind="paper"),
         "written trading on simex"),
        # a uniswap journal: another wallet, another chain
        ([_draft(KEY, VenueBound(kind="uniswap", chain_id=31337, wallet=WALLET), "run")],
         VenueBound(kind="uniswap", chain_id=31337, wallet=OTHER_WALLET),
         f"this run trades on uniswap (wallet {OTHER_WALLET} on chain 31337)"),
        ([_draft(KEY, VenueBound(kind="uniswap", chain_id=31337, wallet=WALLET), "run")],
         VenueBound(kind="uniswap", chain_id=1, wallet=WALLET), "--venue uniswap, the same chain"),
        ([_draft(KEY, VenueBound(kind="uniswap", chain_id=31337, wallet=WALLET), "run")],
         VenueBound(kind="simex"), f"written trading on uniswap (wallet {WALLET} on chain 31337)"),
    ],
    ids=["legacy-paper-to-simex", "legacy-simex-to-paper", "uniswap-other-wallet",
         "uniswap-other-chain", "uniswap-to-simex"],
)  # fmt: skip
def test_a_journal_of_another_venue_account_chain_or_wallet_is_refused(
    tmp_path: Path, history: list[Draft], run: VenueBound, said: str
) -> None:
    with closing(SQLiteJournal(tmp_path / "j.db")) as journal:
        journal.append(history)
        with pytest.raises(JournalVenueMismatch, match="a journal of its own") as refused:
            bind(journal, run, journal_path=tmp_path / "j.db", now_ns=2)
    assert said in str(refused.value)


def test_the_same_venue_continues_its_journal_and_a_journal_without_trades_takes_any() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, closing(SQLiteJournal(Path(tmp) / "j.db")) as j:
        mine = VenueBound(kind="uniswap", chain_id=31337, wallet=WALLET)
        first = bind(j, mine, journal_path=Path(tmp), now_ns=1)
        assert [d.key for d in first] == [KEY]  # nothing traded yet: this run binds it
        j.append(first)
        same = VenueBound(kind="uniswap", chain_id=31337, wallet=WALLET.lower())
        assert bind(j, same, journal_path=Path(tmp), now_ns=2) == []  # addresses: any case
