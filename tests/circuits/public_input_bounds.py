"""What every public input of every registered circuit must be: range-checked to a width, or
allow-listed with the reason it needs no range check. Widths come from the engine's constants."""

from __future__ import annotations

from zkrisk.engine.risk.fixed_point import (
    BINDING_BITS,
    BPS_BITS,
    BPS_SCALE,
    LEVERAGE_BITS,
    PRICE_BITS,
    QTY_BITS,
    VALUE_BITS,
)

#: Public input (by base name) → the most bits the R1CS may allow it.
RANGE_CHECKED: dict[str, int] = {
    "margin": QTY_BITS,
    "price": PRICE_BITS,
    # No check of its own: cap − |q|·price ∈ [0, 2^VALUE_BITS) bounds it. The audit does not
    # use long·short = 0, so it sees |q| < 2^(QTY_BITS+1) and the cap below 2^(VALUE_BITS+2).
    "notionalCap": VALUE_BITS + 2,
    "concentrationBps": BPS_BITS,
    "leverageBps": LEVERAGE_BITS,
    "alphaBps": (BPS_SCALE - 1).bit_length(),  # TailCount: 1 ≤ α ≤ 9999
    "thresholdMode": BPS_BITS + 1,  # threshold bps + mode bit
    "binding": BINDING_BITS,
    "marginHeld": VALUE_BITS,  # PortfolioMargin: USD at VALUE scale
}

#: Public inputs with no range check, and why none is needed (argued in the template headers).
ALLOWED_UNBOUNDED: dict[str, str] = {
    "commitment": "a Poseidon output compared by equality: any field element, nothing to wrap",
    "snapshotHash": "a Poseidon output compared by equality: any field element, nothing to wrap",
    "riskArrays": "the verifier's own published risk arrays; the folded verifier's fold() and the "
    "builder (array_words) refuse minimums ≥ 2^63 and offset entries ≥ 2^64 (PortfolioMargin "
    "header); 528 in-circuit 64-bit checks would cost ~34,000 constraints",
    "returns": "the verifier's own scenario data, encoded by its builder; N·K range checks "
    "(32 bits each, 128,000 for attest16x250) are twice the 2^16 budget (RiskAttestation header)",
    "varLimit": "only the upper side of varLimit − VaR ∈ [0, 2^(LB+1)): a wrapped limit can only "
    "lower the bound, never prove a false statement (RiskAttestation header)",
    "esLimit": "only the upper side of K·(10⁴ − α)·esLimit − 10⁴·K(1 − α)·ES ≥ 0 with "
    "K·(10⁴ − α) ≥ 1: reduction mod p can only lower the bound (RiskAttestation header)",
}
