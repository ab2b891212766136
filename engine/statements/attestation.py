"""The risk attestation (circuits/RiskAttestation.circom): limits plus VaR_α ≤ L and ES_α ≤ E.

VaR_α is the (m + 1)-th largest scenario loss, m = ⌊K(1 − α)⌋, and ES_α is Acerbi–Tasche:
K(1 − α) · ES_α = (sum of the m largest losses) + (K(1 − α) − m) · VaR_α.

Over K public historical scenarios, scenario k's loss is −Σ_i value_i · r_ki (LOSS scale), with
value_i the slot's signed value at the public prices (margin in slot 0). The verdicts come from
the engine's metrics (`var_within_limit`, `es_within_limit_bps`, the limits of `limits.py`); the
circuit must accept exactly when `holds()` is True. The prover's extra witness — the tail set
and the VaR scenario — is computed here, so nothing is assembled by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from ..risk.fixed_point import BPS_SCALE, PRICE_BITS, QTY_BITS, RETURN_BITS, ceil_log2
from ..risk.metrics.var import (
    es_within_limit_bps,
    historical_es_fixed,
    historical_var_fixed,
    scenario_losses_fixed,
    tail_count_bps,
    var_within_limit,
)
from ..risk.models import Portfolio, PriceSnapshot, ScenarioSet
from .book_slots import BookSlots, book_slots, slot_prices
from .limits import PUBLIC_SIGNALS as LIMITS_PUBLIC
from .limits import LimitParams, LimitsStatement, flatten_public

PUBLIC_SIGNALS = (*LIMITS_PUBLIC, "alphaBps", "varLimit", "esLimit", "returns")
RETURN_OFFSET = 1 << (RETURN_BITS - 1)  # public returns are encoded as r + 2^(RETURN_BITS-1)


def loss_bits(slots: int) -> int:
    """LB of the circuit: |loss| < 2^LB for any in-range book, prices and returns."""
    return QTY_BITS + PRICE_BITS + RETURN_BITS - 1 + ceil_log2(slots + 1)


def encode_return(r: int) -> int:
    if not -RETURN_OFFSET <= r < RETURN_OFFSET:
        raise ValueError(f"return {r} outside [-2^{RETURN_BITS - 1}, 2^{RETURN_BITS - 1}) fixed")
    return r + RETURN_OFFSET


@dataclass(frozen=True)
class TailWitness:
    """The prover's tail set (the m+1 largest losses) and its least member (the VaR scenario)."""

    tail: tuple[int, ...]
    pick: tuple[int, ...]


def tail_witness(losses: Sequence[int], m: int) -> TailWitness:
    order = sorted(range(len(losses)), key=lambda k: (-losses[k], k))
    members = set(order[: m + 1])
    return TailWitness(
        tail=tuple(int(k in members) for k in range(len(losses))),
        pick=tuple(int(k == order[m]) for k in range(len(losses))),
    )


@dataclass(frozen=True)
class AttestationStatement:
    """All inputs of RiskAttestation(N, K), as integers in the engine's fixed point."""

    limits: LimitsStatement
    alpha_bps: int
    var_limit: int  # LOSS scale
    es_limit: int
    returns: tuple[tuple[int, ...], ...]  # K rows × N slots, RETURN scale, signed

    def __post_init__(self) -> None:
        n = self.limits.book.slots
        if not self.returns or any(len(row) != n for row in self.returns):
            raise ValueError(f"returns must be a non-empty K × {n} matrix (one column per slot)")
        if not 0 < self.alpha_bps < BPS_SCALE:
            raise ValueError(
                f"alpha {self.alpha_bps} bps must lie strictly inside (0, {BPS_SCALE})"
            )
        bound = 1 << loss_bits(n)
        for name, v in (("VaR", self.var_limit), ("ES", self.es_limit)):
            if not 0 <= v < bound:
                raise ValueError(f"{name} limit {v} outside [0, 2^{loss_bits(n)}) at LOSS scale")

    @property
    def alpha(self) -> Decimal:
        return Decimal(self.alpha_bps) / BPS_SCALE

    def losses(self) -> list[int]:
        view = self.limits.view()
        # value_i = q_i·p_i (+ margin·p_0): the quantity that loses r_ki, as scenario_losses_fixed
        # expects (q, p) pairs: pass the values with unit prices.
        return scenario_losses_fixed(list(view.values), [1] * len(view.values), self.returns)

    def tail_count(self) -> int:
        return tail_count_bps(self.alpha_bps, len(self.returns))

    def var(self) -> int:
        return historical_var_fixed(self.losses(), self.alpha)

    def es(self) -> int:
        return historical_es_fixed(self.losses(), self.alpha)

    def breaches(self) -> list[str]:
        reasons = self.limits.breaches()
        losses = self.losses()
        if not var_within_limit(losses, self.alpha, self.var_limit):
            reasons.append(f"VaR {historical_var_fixed(losses, self.alpha)} above {self.var_limit}")
        if not es_within_limit_bps(losses, self.alpha_bps, self.es_limit):
            reasons.append(f"ES {historical_es_fixed(losses, self.alpha)} above {self.es_limit}")
        return reasons

    def holds(self) -> bool:
        return not self.breaches()

    def public_inputs(self) -> dict[str, int | list[int] | list[list[int]]]:
        return {
            **self.limits.public_inputs(),
            "alphaBps": self.alpha_bps,
            "varLimit": self.var_limit,
            "esLimit": self.es_limit,
            "returns": [[encode_return(r) for r in row] for row in self.returns],
        }

    def public_signals(self) -> tuple[int, ...]:
        return flatten_public(self.public_inputs(), PUBLIC_SIGNALS)

    def signals(self) -> dict[str, int | list[int] | list[list[int]]]:
        witness = tail_witness(self.losses(), self.tail_count())
        return {
            **self.public_inputs(),
            **self.limits.book.private_signals(),
            "tail": list(witness.tail),
            "pick": list(witness.pick),
        }


def scenario_columns(
    scenarios: ScenarioSet, symbols: Sequence[str], *, slots: int
) -> tuple[tuple[int, ...], ...]:
    """The scenario returns laid out on slots; unused slots get 0 (they hold nothing)."""
    missing = [s for s in symbols if s not in scenarios.symbols]
    if missing:
        raise ValueError(f"the scenario set has no returns for {', '.join(missing)}")
    column = [scenarios.symbols.index(s) for s in symbols]
    pad = (0,) * (slots - len(symbols))
    return tuple(tuple(row[c] for c in column) + pad for row in scenarios.returns_fixed)


def attestation_statement(
    portfolio: Portfolio,
    snapshot: PriceSnapshot,
    scenarios: ScenarioSet,
    symbols: Sequence[str],
    *,
    slots: int,
    salt: int,
    params: LimitParams,
    alpha_bps: int,
    var_limit: int,
    es_limit: int,
) -> AttestationStatement:
    """Lay out book, prices and scenarios on `slots` slots (slot 0 = margin asset)."""
    book: BookSlots = book_slots(portfolio, symbols, slots=slots, salt=salt)
    limits = LimitsStatement(
        book=book,
        margin=portfolio.margin_fixed,
        price=slot_prices(snapshot, symbols, slots=slots),
        params=params,
    )
    return AttestationStatement(
        limits=limits,
        alpha_bps=alpha_bps,
        var_limit=var_limit,
        es_limit=es_limit,
        returns=scenario_columns(scenarios, symbols, slots=slots),
    )
