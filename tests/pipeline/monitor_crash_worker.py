"""The monitor as the runner drives it, over a real SQLite journal (for the SIGKILL test).

    python -m tests.pipeline.monitor_crash_worker JOURNAL

Start-up rebuilds the monitor by replaying the journal up to its durable cursor, then it
consumes the rest: each record's drafts are appended in one transaction with the cursor. It
prints the final state as JSON. `ZKRISK_CRASH_AT=monitor.breaker_transition[@n]` kills it with
SIGKILL between deciding a transition and appending it.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal

from zkrisk.engine.journal.sqlite import SQLiteJournal
from zkrisk.engine.pipeline.breakers import BreakerPolicy
from zkrisk.engine.pipeline.monitor import Monitor, MonitorConfig

CONSUMER = "monitor"
CONFIG = MonitorConfig(
    starting_equity_usd=Decimal(10_000),
    breakers=BreakerPolicy(reducing_drawdown_bps=100, halt_drawdown_bps=200),
)


def state_of(m: Monitor) -> dict[str, str]:
    return {"state": m.state.value, "reason": m.reason, "equity": str(m.book.equity()),
            "peak": str(m.peak), "day_open": str(m.day_open)}  # fmt: skip


def run(path: str) -> dict[str, str]:
    with SQLiteJournal(path) as journal:
        monitor = Monitor(CONFIG)
        done = journal.cursor(CONSUMER)
        for rec in journal.read(after=0, limit=done) if done else []:
            monitor.on_event(rec)  # its outputs are in the journal already
        while batch := journal.read(after=done, limit=100):
            for rec in batch:
                journal.append(monitor.on_event(rec), cursor=(CONSUMER, rec.position))
                done = rec.position
        return state_of(monitor)


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1])))
