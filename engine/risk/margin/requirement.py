"""SPAN-style portfolio margin: the requirement of a signed book against public risk arrays.

Definition (CME Group, "CME SPAN Methodology Overview", Scanning Risk and Short Option
Minimum): the clearing side publishes, per instrument i, a risk array a_i[s] — the P&L of one
long unit under each scenario s (gain > 0, loss < 0) — and a short-option minimum m_i per short
unit (0 for anything that is not an option). For signed quantities q_i:

    loss_s      = −Σ_i q_i · a_i[s]                       (a long perp and a short call offset)
    scan risk   = max(0, max_s loss_s)
    SOM         = Σ_i max(−q_i, 0) · m_i                  (per short option contract)
    requirement = max(scan risk, SOM)  = max(0, SOM, loss_0, …, loss_{S−1})

SPAN's spread charges and credits are not modelled: every instrument of one array set is in one
combined commodity, so offsets count in full. Everything here is integer: q at QTY scale, a and
m at PRICE scale (USD per unit), so losses, SOM and the requirement are at VALUE scale — the same
integers circuits/PortfolioMargin.circom computes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from .. import fixed_point as fp

#: |a_i[s]| < 2^ARRAY_BITS and 0 ≤ m_i < 2^ARRAY_BITS (PRICE scale): one signed 64-bit word.
ARRAY_BITS = fp.PRICE_BITS - 1


def requirement_bits(slots: int) -> int:
    """LB of the circuit: |loss_s|, SOM and the margin held are all < 2^LB for in-range inputs."""
    return fp.QTY_BITS + fp.PRICE_BITS + fp.ceil_log2(slots)


def scenario_losses(quantities: Sequence[int], arrays: Sequence[Sequence[int]]) -> list[int]:
    """loss_s = −Σ_i q_i · a_i[s] for every scenario (VALUE scale; > 0 is a loss)."""
    if len(quantities) != len(arrays) or not arrays:
        raise ValueError(f"{len(quantities)} quantities for {len(arrays)} risk arrays")
    width = len(arrays[0])
    if width == 0 or any(len(row) != width for row in arrays):
        raise ValueError("every risk array needs the same non-zero number of scenarios")
    return [-sum(q * row[s] for q, row in zip(quantities, arrays, strict=True))
            for s in range(width)]  # fmt: skip


def short_option_minimum(quantities: Sequence[int], minimums: Sequence[int]) -> int:
    """SOM = Σ_i max(−q_i, 0) · m_i (VALUE scale): only short positions are charged."""
    if len(quantities) != len(minimums):
        raise ValueError(f"{len(quantities)} quantities for {len(minimums)} short-option minimums")
    return sum(max(-q, 0) * m for q, m in zip(quantities, minimums, strict=True))


@dataclass(frozen=True)
class MarginRequirement:
    """A book's requirement and how it arose (all VALUE scale)."""

    losses: tuple[int, ...]
    short_option_minimum: int

    @property
    def scan_risk(self) -> int:
        return max(0, *self.losses)

    @property
    def worst_scenario(self) -> int:
        """Index of the largest loss (the first on ties)."""
        return max(range(len(self.losses)), key=lambda s: (self.losses[s], -s))

    @property
    def requirement(self) -> int:
        return max(self.scan_risk, self.short_option_minimum)

    def candidates(self) -> tuple[int, ...]:
        """What the circuit maximises over: (0, SOM, loss_0, …, loss_{S−1})."""
        return (0, self.short_option_minimum, *self.losses)

    def argmax(self) -> int:
        """Index into candidates() of the requirement (the first on ties): the prover's pick."""
        values = self.candidates()
        return values.index(max(values))

    def excess(self, margin_held: int) -> int:
        """Margin held − requirement: < 0 is a shortfall (a margin call)."""
        return margin_held - self.requirement

    def covered_by(self, margin_held: int) -> bool:
        return self.requirement <= margin_held

    def float_view(self) -> dict[str, float | list[float]]:
        """USD floats for reports and charts (display only: decide on the integers)."""
        return {
            "losses": [float(usd(v)) for v in self.losses],
            "scan_risk": float(usd(self.scan_risk)),
            "short_option_minimum": float(usd(self.short_option_minimum)),
            "requirement": float(usd(self.requirement)),
        }


def margin_requirement(
    quantities: Sequence[int], arrays: Sequence[Sequence[int]], minimums: Sequence[int]
) -> MarginRequirement:
    """The SPAN requirement of signed quantities q_i (QTY scale) against arrays (PRICE scale)."""
    for i, row in enumerate(arrays):
        if any(abs(v) >= 1 << ARRAY_BITS for v in row):
            raise ValueError(f"risk array {i}: an entry is ≥ 2^{ARRAY_BITS} at PRICE scale")
    if any(not 0 <= m < 1 << ARRAY_BITS for m in minimums):
        raise ValueError(f"short-option minimums must lie in [0, 2^{ARRAY_BITS}) at PRICE scale")
    return MarginRequirement(
        losses=tuple(scenario_losses(quantities, arrays)),
        short_option_minimum=short_option_minimum(quantities, minimums),
    )


def usd(value: int) -> Decimal:
    """The float-free USD view of a VALUE-scale amount (exact)."""
    return fp.from_fixed(value, fp.VALUE_DECIMALS)
