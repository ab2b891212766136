"""Health(4) accepts exactly what the engine accepts at the threshold edges (witness generation)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from zkrisk.engine.statements.health import HealthMode, HealthStatement
from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.field import SNARK_SCALAR_FIELD
from zkrisk.prover.snarkjs_cli import WitnessError, calculate_witness

from .health_cases import COIN, base_statement, with_threshold_at_exact_hf


def accepts(artifacts: CircuitArtifacts, signals: dict[str, int | list[int]], tmp: Path) -> bool:
    try:
        calculate_witness(artifacts.compiled, signals, tmp / "w.wtns")
    except WitnessError:
        return False
    return True


def exact_book() -> HealthStatement:
    # weighted = 1000·1·0.9 + 500·1·0.9 (margin) = 1350 USD·1e4·…, debt = 2·ETH at 675 USD
    return base_statement(
        collateral=(1_000 * COIN, 0, 0, 0),
        debt=(0, 2 * COIN, 0, 0),
        price=(COIN, 675 * COIN, COIN, COIN),
    )


@pytest.mark.parametrize(("offset", "mode"), [(-1, HealthMode.AT_LEAST), (0, HealthMode.AT_LEAST),
                                              (1, HealthMode.AT_LEAST), (-1, HealthMode.BELOW),
                                              (0, HealthMode.BELOW), (1, HealthMode.BELOW)])  # fmt: skip
def test_threshold_edges_match_the_engine(
    health4: CircuitArtifacts, tmp_path: Path, offset: int, mode: HealthMode
) -> None:
    statement = replace(with_threshold_at_exact_hf(exact_book(), offset), mode=mode)
    # HF = threshold exactly passes "≥" and fails "<"; one bp either side flips it.
    expected = (offset <= 0) if mode is HealthMode.AT_LEAST else (offset > 0)
    assert statement.holds() is expected
    assert accepts(health4, statement.signals(), tmp_path) is expected


def test_book_without_debt_is_healthy_at_any_threshold(
    health4: CircuitArtifacts, tmp_path: Path
) -> None:
    statement = base_statement(debt=(0, 0, 0, 0), threshold_bps=65_535)
    assert statement.holds()
    assert accepts(health4, statement.signals(), tmp_path)


def test_zero_collateral_with_debt_cannot_prove_health(
    health4: CircuitArtifacts, tmp_path: Path
) -> None:
    statement = base_statement(collateral=(0, 0, 0, 0), margin=0)
    assert not statement.holds()
    assert not accepts(health4, statement.signals(), tmp_path)


def test_tampered_commitment_is_rejected(health4: CircuitArtifacts, tmp_path: Path) -> None:
    signals = base_statement().signals()
    signals["commitment"] = int(signals["commitment"]) + 1  # type: ignore[arg-type]
    assert not accepts(health4, signals, tmp_path)


def test_tampered_snapshot_hash_is_rejected(health4: CircuitArtifacts, tmp_path: Path) -> None:
    signals = base_statement().signals()
    signals["price"] = [COIN, 3_001 * COIN, 60_000 * COIN, COIN]  # prices not in the snapshot
    assert not accepts(health4, signals, tmp_path)


def test_debt_aliased_through_the_field_is_rejected(
    health4: CircuitArtifacts, tmp_path: Path
) -> None:
    # p - 1 ≡ -1: a "negative debt" would raise HF if the range check did not catch it.
    statement = base_statement()
    signals = statement.signals()
    signals["debt"] = [0, SNARK_SCALAR_FIELD - 1, 0, 0]
    assert not accepts(health4, signals, tmp_path)


def test_quantity_at_two_to_the_bits_is_rejected(health4: CircuitArtifacts, tmp_path: Path) -> None:
    signals = base_statement().signals()
    signals["collateral"] = [1 << 80, 0, 0, 0]
    assert not accepts(health4, signals, tmp_path)
