"""The limits statement (circuits/Limits.circom, circuits/BookLimits.circom).

At public prices, a committed book keeps
    caps:          |q_i| · price_i ≤ notionalCap_i                 every slot
    concentration: |q_i| · price_i · 10⁴ ≤ concentration_bps · gross   every slot
    leverage:      gross · 10⁴ ≤ leverage_bps · equity
with gross = Σ |q_i|·price_i and equity = Σ q_i·price_i + margin·price_0 (slot 0 = margin
asset). The verdicts come from the engine's exposure metrics; the circuit must accept exactly
when `holds()` is True.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from ..risk.fixed_point import BPS_BITS, LEVERAGE_BITS, PRICE_BITS, QTY_BITS, VALUE_BITS
from ..risk.metrics.exposure import exceeds_concentration, within_leverage
from ..risk.models import Portfolio, PriceSnapshot, usd_to_value
from .book_slots import BookSlots, book_slots, slot_prices

PUBLIC_SIGNALS = (
    "commitment", "margin", "price", "notionalCap", "concentrationBps", "leverageBps",
)  # fmt: skip


@dataclass(frozen=True)
class LimitParams:
    """The public limits, in fixed point: caps at VALUE scale per slot, the rest in bps."""

    notional_cap: tuple[int, ...]
    concentration_bps: int
    leverage_bps: int

    def __post_init__(self) -> None:
        for i, cap in enumerate(self.notional_cap):
            if not 0 <= cap < 1 << VALUE_BITS:
                raise ValueError(f"notional cap of slot {i} outside [0, 2^{VALUE_BITS}) VALUE")
        limits = (
            ("concentration", self.concentration_bps, BPS_BITS),
            ("leverage", self.leverage_bps, LEVERAGE_BITS),
        )
        for name, v, bits in limits:
            if not 0 <= v < 1 << bits:
                raise ValueError(f"{name} limit {v} bps outside [0, 2^{bits})")


@dataclass(frozen=True)
class LimitsView:
    """Every number the limits compare, computed once from a book at prices."""

    notional: tuple[int, ...]  # |q_i|·price_i
    gross: int
    equity: int
    values: tuple[int, ...]  # signed q_i·price_i, margin added to slot 0


def limits_view(book: BookSlots, margin: int, price: Sequence[int]) -> LimitsView:
    if not 0 <= margin < 1 << QTY_BITS:
        raise ValueError(f"margin {margin} outside [0, 2^{QTY_BITS}) in quantity fixed point")
    for i, p in enumerate(price):
        if not 0 <= p < 1 << PRICE_BITS:
            raise ValueError(f"price of slot {i} outside [0, 2^{PRICE_BITS}) in price fixed point")
    notional = tuple((lg + sh) * p for lg, sh, p in zip(book.long, book.short, price, strict=True))
    values = [q * p for q, p in zip(book.net(), price, strict=True)]
    values[0] += margin * price[0]
    return LimitsView(notional, sum(notional), sum(values), tuple(values))


def limit_breaches(view: LimitsView, params: LimitParams) -> list[str]:
    """Every limit the book breaks, as readable reasons (empty when all hold)."""
    reasons = [
        f"slot {i}: notional {n} above cap {cap}"
        for i, (n, cap) in enumerate(zip(view.notional, params.notional_cap, strict=True))
        if n > cap
    ]
    reasons += [
        f"slot {i}: concentration above {params.concentration_bps} bps of gross"
        for i, n in enumerate(view.notional)
        if exceeds_concentration(n, view.gross, params.concentration_bps)
    ]
    if not within_leverage(view.gross, view.equity, params.leverage_bps):
        reasons.append(f"leverage above {params.leverage_bps} bps (gross {view.gross}, "
                       f"equity {view.equity})")  # fmt: skip
    return reasons


@dataclass(frozen=True)
class LimitsStatement:
    """All inputs of Limits(N), as integers in the engine's fixed point."""

    book: BookSlots
    margin: int
    price: tuple[int, ...]
    params: LimitParams

    def __post_init__(self) -> None:
        n = self.book.slots
        if len(self.price) != n or len(self.params.notional_cap) != n:
            raise ValueError(f"prices and caps must have one entry per slot ({n})")

    def view(self) -> LimitsView:
        return limits_view(self.book, self.margin, self.price)

    def breaches(self) -> list[str]:
        return limit_breaches(self.view(), self.params)

    def holds(self) -> bool:
        return not self.breaches()

    def public_inputs(self) -> dict[str, int | list[int]]:
        self.view()  # validates ranges before anything is encoded
        return {
            "commitment": self.book.commitment(),
            "margin": self.margin,
            "price": list(self.price),
            "notionalCap": list(self.params.notional_cap),
            "concentrationBps": self.params.concentration_bps,
            "leverageBps": self.params.leverage_bps,
        }

    def public_signals(self) -> tuple[int, ...]:
        return flatten_public(self.public_inputs(), PUBLIC_SIGNALS)

    def signals(self) -> dict[str, int | list[int]]:
        return {**self.public_inputs(), **self.book.private_signals()}


def flatten_public(inputs: Mapping[str, object], order: Sequence[str]) -> tuple[int, ...]:
    """The verifier's ordered public signals: declaration order, arrays row-major."""
    out: list[int] = []

    def walk(v: object) -> None:
        if isinstance(v, int):
            out.append(v)
        elif isinstance(v, list | tuple):
            for x in v:
                walk(x)
        else:
            raise TypeError(f"public input of type {type(v).__name__}")

    for name in order:
        walk(inputs[name])
    return tuple(out)


def limit_params(
    symbols: Sequence[str],
    *,
    slots: int,
    notional_caps_usd: Mapping[str, Decimal],
    concentration_bps: int,
    leverage_bps: int,
) -> LimitParams:
    """Caps per slot from USD amounts; a slot without a cap (or unused) is capped at 0."""
    unknown = sorted(set(notional_caps_usd) - set(symbols))
    if unknown:
        raise ValueError(f"notional caps for assets without a slot: {', '.join(unknown)}")
    caps = [
        usd_to_value(notional_caps_usd[s], name=f"notional cap {s}")
        if s in notional_caps_usd
        else 0
        for s in symbols
    ]
    return LimitParams(tuple(caps) + (0,) * (slots - len(symbols)), concentration_bps, leverage_bps)


def limits_statement(
    portfolio: Portfolio,
    snapshot: PriceSnapshot,
    symbols: Sequence[str],
    *,
    slots: int,
    salt: int,
    params: LimitParams,
) -> LimitsStatement:
    """Lay a portfolio out on `slots` slots (slot i = symbols[i], slot 0 the margin asset)."""
    return LimitsStatement(
        book=book_slots(portfolio, symbols, slots=slots, salt=salt),
        margin=portfolio.margin_fixed,
        price=slot_prices(snapshot, symbols, slots=slots),
        params=params,
    )
