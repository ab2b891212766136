"""Drafts for the journal tests: realistic quotes and derived events, keyed by convention."""

from __future__ import annotations

from decimal import Decimal

from zkrisk.engine.journal.events import Draft, Heartbeat, Quote

T0 = 1_700_000_000_000_000_000


def quote(n: int, *, source: str = "feed", symbol: str = "ETH") -> Draft:
    """The n-th quote of a source: key md:<source>:<symbol>:<n>, stream md.<source>."""
    event = Quote(source=source, symbol=symbol, bid=Decimal("3000.10") + n,
                  ask=Decimal("3000.20") + n, bid_size=Decimal("1.5"), ask_size=Decimal("2"),
                  source_seq=n)  # fmt: skip
    return Draft(f"md.{source}", f"md:{source}:{symbol}:{n}", event, T0 + n, T0 + n + 7)


def heartbeat(component: str, ns: int, *, cause: str | None = None) -> Draft:
    return Draft("monitor", f"hb:{component}:{ns}", Heartbeat(component=component), ns, ns, cause)
