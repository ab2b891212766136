"""Reconciliation (stage 5): the book against what the venue says it holds, pure.

The book is the fills the journal applied (`fills.Positions`, net per symbol); the venue's
answer is its balance per symbol (`Venue.balances`). Every traded symbol whose two quantities
differ by more than the tolerance is a `ReconcileMismatch` (stream 'fills'), which the monitor
turns into REDUCING (only reducing orders until an operator resumes) and an alert. The quote
asset is not compared: the venue's cash includes what the desk deposited, the book only the
fills' cash flow.

Keys are 'recon:<venue>:<symbol>:<book>:<venue quantity>': the same disagreement seen again is
one event, a new one (either side moved) another.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from decimal import Decimal

from ..journal.events import Draft, ReconcileMismatch

ZERO = Decimal(0)


def mismatches(
    book: Mapping[str, Decimal],
    venue_balances: Mapping[str, Decimal],
    *,
    venue: str,
    symbols: Collection[str],
    tolerance: Decimal,
    now_ns: int,
) -> list[Draft]:
    """A `ReconcileMismatch` draft per symbol of `symbols` (the ones the run trades) whose book
    and venue quantities differ by more than `tolerance`, in symbol order."""
    drafts = []
    for symbol in sorted(symbols):
        held, reported = book.get(symbol, ZERO), venue_balances.get(symbol, ZERO)
        if abs(held - reported) <= tolerance:
            continue
        detail = (f"the book holds {held} {symbol} from its fills, {venue} reports {reported} "
                  f"(difference {reported - held}, tolerance {tolerance})")  # fmt: skip
        event = ReconcileMismatch(venue=venue, symbol=symbol, book_quantity=held,
                                  venue_quantity=reported, tolerance=tolerance, detail=detail)  # fmt: skip
        key = f"recon:{venue}:{symbol}:{held.normalize()}:{reported.normalize()}"
        drafts.append(Draft("fills", key, event, now_ns, now_ns))
    return drafts
