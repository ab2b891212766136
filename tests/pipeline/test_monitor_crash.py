"""SIGKILL during a breaker transition: on restart the monitor re-derives the transition from
the journal and appends it exactly once; its state equals a from-scratch replay."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.pipeline.monitor_crash_worker import CONFIG, state_of
from zkrisk.engine.journal.events import Draft, PaperFill, Quote, TradingStateChanged
from zkrisk.engine.journal.sqlite import SQLiteJournal
from zkrisk.engine.pipeline.monitor import CRASH_POINT, Monitor
from zkrisk.engine.risk.models import Side

from .tape import NS, T0

D = Decimal
# Equity 10,000 → 9,950 → 9,900 (100 bps: REDUCING) → 9,850 → 9,800 (200 bps: HALTED) → 9,750
MIDS = ("100", "99.5", "99", "98.5", "98", "97.5")


def inputs() -> list[Draft]:
    fill = PaperFill(client_order_id="c-1", strategy_id="mom", symbol="WETH", side=Side.BUY,
                     quantity=D(100), price=D(100))  # fmt: skip
    drafts = [Draft("pretrade", "paperfill:c-1", fill, T0, T0)]
    for i, m in enumerate(MIDS, start=1):
        quote = Quote(source="feed", symbol="WETH", bid=D(m) - D("0.01"), ask=D(m) + D("0.01"),
                      bid_size=D(1), ask_size=D(1), source_seq=i)  # fmt: skip
        drafts.append(Draft("md.feed", f"md:feed:WETH:{i}", quote, T0 + i * NS, T0 + i * NS))
    return drafts


def worker(path: Path, crash_at: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ZKRISK_CRASH_AT"}
    if crash_at:
        env["ZKRISK_CRASH_AT"] = crash_at
    return subprocess.run([sys.executable, "-m", "tests.pipeline.monitor_crash_worker", str(path)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)  # fmt: skip


def changes(path: Path) -> list[tuple[str, str | None]]:
    with SQLiteJournal(path) as journal:
        return [(r.key, r.causation_id) for r in journal.iter_from(0)
                if isinstance(r.event, TradingStateChanged)]  # fmt: skip


@pytest.mark.parametrize("nth", [1, 2])
def test_a_sigkill_during_a_breaker_transition_loses_nothing_and_doubles_nothing(
    tmp_path: Path, nth: int
) -> None:
    path = tmp_path / "journal.db"
    with SQLiteJournal(path) as journal:
        journal.append(inputs())

    crashed = worker(path, f"{CRASH_POINT}@{nth}")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    # Killed after deciding transition n, before appending it: only the earlier ones are there.
    assert len(changes(path)) == nth - 1

    restarted = worker(path, None)
    assert restarted.returncode == 0, restarted.stderr
    final = json.loads(restarted.stdout)
    # Both transitions, each exactly once, each caused by its breaching quote (3rd and 5th).
    assert changes(path) == [("state:md:feed:WETH:3", "md:feed:WETH:3"),
                             ("state:md:feed:WETH:5", "md:feed:WETH:5")]  # fmt: skip
    assert final["state"] == "HALTED" and final["equity"] == "9750.00"

    # A from-scratch replay reaches the same state, and everything it re-derives is present.
    with SQLiteJournal(path) as journal:
        head = journal.head()
        replay = Monitor(CONFIG)
        drafts = [d for rec in journal.read(after=0, limit=head) for d in replay.on_event(rec)]
        journal.append(drafts)
        assert journal.head() == head
    assert state_of(replay) == final

    # A third start finds nothing left to do.
    assert worker(path, None).returncode == 0
    assert len(changes(path)) == 2
