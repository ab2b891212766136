"""Health(4) statements for the prover tests, built by the engine."""

from __future__ import annotations

from dataclasses import replace

from zkrisk.engine.statements.health import HealthStatement
from zkrisk.prover.signals import SignalValue

from ..circuits.health_cases import COIN, base_statement


def holding(nonce: int = 0) -> HealthStatement:
    """A statement that holds, with a binding of its own (the on-chain gate consumes each)."""
    return replace(base_statement(), binding=1_000_000 + nonce)


def not_holding() -> HealthStatement:
    """HF ≈ 1.95 but the statement claims HF ≥ 3: the circuit's final comparison fails."""
    return base_statement(threshold_bps=30_000)


def out_of_range() -> dict[str, SignalValue]:
    """Slot 2's collateral needs 200 bits: a range check (circomlib Num2Bits) fails.

    Edited signals, not a statement: the engine itself refuses such a quantity.
    """
    signals: dict[str, SignalValue] = dict(holding().signals())
    signals["collateral"] = [1_000 * COIN, 0, 2**200, 0]
    return signals
