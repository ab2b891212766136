"""Health(4) statements near the edges, built by the engine (never hand-assembled signals)."""

from __future__ import annotations

from dataclasses import replace

from zkrisk.engine.statements.health import HealthMode, HealthStatement

COIN = 10**8  # one unit in quantity / price fixed point


def base_statement(**overrides: object) -> HealthStatement:
    """A 4-slot book: margin asset (USD), ETH, BTC, and an empty slot."""
    statement = HealthStatement(
        account=0x00000000000000000000000000000000DE5C0001,
        salt=0x1234_5678_9ABC_DEF0_1234_5678_9ABC_DEF0,
        snapshot_id=7,
        collateral=(1_000 * COIN, 0, COIN // 10, 0),
        debt=(0, 1 * COIN, 0, 0),  # HF = (1500·0.9 + 6000·0.75) / 3000 = 1.95
        price=(COIN, 3_000 * COIN, 60_000 * COIN, COIN),
        lt=(9_000, 8_000, 7_500, 0),
        margin=500 * COIN,
        threshold_bps=10_500,
        mode=HealthMode.AT_LEAST,
        binding=123_456_789,
    )
    return replace(statement, **overrides)  # type: ignore[arg-type]


def with_threshold_at_exact_hf(statement: HealthStatement, offset: int) -> HealthStatement:
    """Move the debt so that HF·10⁴ = threshold exactly, then shift the threshold by `offset`.

    weighted = threshold·debt exactly when debt_value = weighted / threshold; we pick the
    threshold that divides the weighted collateral instead: threshold = weighted / debt_value.
    """
    w, d = statement.weighted_collateral(), statement.debt_value()
    exact, remainder = divmod(w, d)
    assert remainder == 0, "pick a book whose weighted collateral is a multiple of its debt"
    return replace(statement, threshold_bps=exact + offset)
