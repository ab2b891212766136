"""Journal records the dashboard tests append by hand (a run's journal, without a runner)."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

from zkrisk.engine.journal.events import (
    Draft,
    Event,
    FeedGap,
    PaperFill,
    Quarantined,
    Quote,
    ReconcileMismatch,
    VerdictIssued,
)
from zkrisk.engine.journal.sqlite import SQLiteJournal
from zkrisk.engine.risk.models import Side, Verdict, VerdictKind

D = Decimal


class RunJournal:
    """Appends to a run's journal the kinds of records a paper run writes."""

    def __init__(self, path: Path) -> None:
        self.journal = SQLiteJournal(path)
        self.n = 0

    def add(self, event: Event, stream: str, key: str, t: int | None = None) -> int:
        self.n += 1
        at = time.time_ns() if t is None else t
        return self.journal.append([Draft(stream, key, event, at, at)])[0].position

    def quote(self, mid: str, symbol: str = "WETH", t: int | None = None) -> int:
        self.n += 1
        half = D("0.5")
        event = Quote(source="feed", symbol=symbol, bid=D(mid) - half, ask=D(mid) + half,
                      bid_size=D(100), ask_size=D(100), source_seq=self.n)  # fmt: skip
        return self.add(event, "md.feed", f"md:feed:{symbol}:{self.n}", t)

    def fill(self, side: str, quantity: str, price: str, symbol: str = "WETH") -> int:
        coid = f"o-{self.n + 1}"
        event = PaperFill(client_order_id=coid, strategy_id="mom-weth", symbol=symbol,
                          side=Side(side), quantity=D(quantity), price=D(price))  # fmt: skip
        return self.add(event, "pretrade", f"paperfill:{coid}")

    def verdict(self, var: str, hf_bps: int | None) -> int:
        coid = f"v-{self.n + 1}"
        verdict = Verdict(kind=VerdictKind.APPROVE, client_order_id=coid, policy_id="p",
                          post_trade_var_usd=D(var), post_trade_health_factor_bps=hf_bps)  # fmt: skip
        return self.add(VerdictIssued(verdict=verdict), "pretrade", f"verdict:{coid}")

    def quarantined(self, reason: str = "BID_NOT_BELOW_ASK") -> int:
        event = Quarantined(source="feed", reason=reason, detail="bid 3001 ≥ ask 3000", raw="{}")
        return self.add(event, "quarantine", f"q:{self.n + 1}")

    def gap(self, expected: int, received: int) -> int:
        event = FeedGap(source="feed", symbol="WETH", expected=expected, received=received)
        return self.add(event, "ingest", f"gap:{self.n + 1}")

    def mismatch(self) -> int:
        event = ReconcileMismatch(venue="simex", symbol="WETH", book_quantity=D(10),
                                  venue_quantity=D(9), tolerance=D("0.001"), detail="one short")  # fmt: skip
        return self.add(event, "fills", f"recon:{self.n + 1}")

    def close(self) -> None:
        self.journal.close()
