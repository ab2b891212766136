"""A private book laid out on a circuit's asset slots, in the explicit signed encoding.

Slot i holds the position in `symbols[i]` as two magnitudes, long_i and short_i (both below
2^QTY_BITS, at most one non-zero), exactly as circuits/SignedQuantity.circom checks them, and
the commitment opens as circuits/CommittedBook.circom does — the same for every statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..risk.fixed_point import QTY_BITS
from ..risk.models import Portfolio, PriceSnapshot
from .commitment import account_to_int, portfolio_commitment


@dataclass(frozen=True)
class BookSlots:
    """The private part every statement opens: account, salt and the signed slots."""

    account: int
    salt: int
    long: tuple[int, ...]  # QTY fixed point
    short: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.long) != len(self.short) or not self.long:
            raise ValueError("long and short must be non-empty and the same length")

    @property
    def slots(self) -> int:
        return len(self.long)

    def net(self) -> tuple[int, ...]:
        return tuple(lg - sh for lg, sh in zip(self.long, self.short, strict=True))

    def commitment(self) -> int:
        return portfolio_commitment(self.account, self.salt, self.long, self.short)

    def private_signals(self) -> dict[str, int | list[int]]:
        return {
            "account": self.account,
            "salt": self.salt,
            "long": list(self.long),
            "short": list(self.short),
        }


def check_slot_symbols(portfolio: Portfolio, symbols: Sequence[str], slots: int) -> None:
    """Every position has a slot and slot 0 is the margin asset; else a ValueError that says so."""
    if not symbols or len(symbols) > slots:
        raise ValueError(f"{len(symbols)} assets do not fit a {slots}-slot circuit")
    if len(set(symbols)) != len(symbols):
        raise ValueError(f"slot symbols must be unique: {list(symbols)}")
    unknown = sorted(set(portfolio.quantities_fixed()) - set(symbols))
    if unknown:
        raise ValueError(f"positions in assets without a slot: {', '.join(unknown)}")
    if portfolio.margin_fixed > 0 and portfolio.margin_symbol != symbols[0]:
        raise ValueError(
            f"margin is in {portfolio.margin_symbol} but slot 0 (the margin asset) is {symbols[0]}"
        )


def book_slots(portfolio: Portfolio, symbols: Sequence[str], *, slots: int, salt: int) -> BookSlots:
    """Lay `portfolio` out with slot i = symbols[i]; unused slots are flat."""
    check_slot_symbols(portfolio, symbols, slots)
    quantities = [portfolio.quantity_fixed(s) for s in symbols] + [0] * (slots - len(symbols))
    for s, q in zip(symbols, quantities, strict=False):
        if abs(q) >= 1 << QTY_BITS:
            raise ValueError(f"|{s} position| does not fit {QTY_BITS} bits in quantity fixed point")
    return BookSlots(
        account=account_to_int(portfolio.account),
        salt=salt,
        long=tuple(max(q, 0) for q in quantities),
        short=tuple(max(-q, 0) for q in quantities),
    )


def slot_prices(snapshot: PriceSnapshot, symbols: Sequence[str], *, slots: int) -> tuple[int, ...]:
    """PRICE fixed point per slot (0 for unused slots); a missing price is an error, never 0."""
    missing = [s for s in symbols if s not in snapshot.prices]
    if missing:
        raise ValueError(f"snapshot {snapshot.snapshot_id} has no price for {', '.join(missing)}")
    return tuple(snapshot.prices[s].price_fixed for s in symbols) + (0,) * (slots - len(symbols))
