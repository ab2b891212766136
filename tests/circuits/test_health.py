"""Health(4) accepts exactly what the engine accepts at the threshold edges (witness generation)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from zkrisk.engine.statements.health import HealthMode, HealthStatement
from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.field import SNARK_SCALAR_FIELD
from zkrisk.prover.snarkjs_cli import WitnessError, calculate_witness

from .conftest import Checkers
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


# ---- range checks, aliasing and encoding (warm witness checks, no proofs) ---------------------


@pytest.mark.parametrize(
    ("signal", "index", "value"),
    [
        ("collateral", 0, 1 << 80),
        ("debt", 1, 1 << 80),
        ("price", 1, 1 << 64),
        ("lt", 1, 1 << 16),
        ("margin", None, 1 << 80),
        ("account", None, 1 << 160),
        ("snapshotId", None, 1 << 64),
        ("thresholdMode", None, 1 << 17),
        ("binding", None, 1 << 252),
        ("collateral", 0, SNARK_SCALAR_FIELD - 1),
        ("price", 1, SNARK_SCALAR_FIELD - 1),
        ("lt", 1, SNARK_SCALAR_FIELD - 1),
        ("margin", None, SNARK_SCALAR_FIELD - 1),
        ("account", None, SNARK_SCALAR_FIELD - 1),
        ("snapshotId", None, SNARK_SCALAR_FIELD - 1),
        ("thresholdMode", None, SNARK_SCALAR_FIELD - 1),
        ("binding", None, SNARK_SCALAR_FIELD - 1),
    ],
)
def test_out_of_range_or_aliased_input_is_rejected(
    circuits: Checkers, signal: str, index: int | None, value: int
) -> None:
    signals: dict[str, Any] = base_statement().signals()
    if index is None:
        signals[signal] = value
    else:
        signals[signal] = [*signals[signal][:index], value, *signals[signal][index + 1 :]]
    result = circuits["health4"].check(signals)
    assert not result.accepted
    assert "Assert Failed" in result.error


def test_maximum_widths_are_accepted(circuits: Checkers) -> None:
    top_qty, top_price, top_lt = (1 << 80) - 1, (1 << 64) - 1, (1 << 16) - 1
    statement = base_statement(
        collateral=(top_qty, top_qty, 0, 0), debt=(0, 0, top_qty, 0),
        price=(top_price,) * 4, lt=(top_lt,) * 4, margin=top_qty, threshold_bps=top_lt,
    )  # fmt: skip
    assert statement.holds()
    assert circuits["health4"].check(statement.signals()).public == statement.public_signals()


def test_collateral_and_debt_in_one_slot_is_rejected(circuits: Checkers) -> None:
    statement = base_statement(debt=(0, COIN, COIN // 100, 0))  # BTC slot holds both
    assert not circuits["health4"].accepts(statement.signals())


def test_value_plus_p_is_the_same_statement_not_a_new_one(circuits: Checkers) -> None:
    statement = base_statement()
    signals: dict[str, Any] = statement.signals()
    signals["margin"] += SNARK_SCALAR_FIELD
    assert circuits["health4"].check(signals).public == statement.public_signals()


def test_mode_bit_decides_the_direction(circuits: Checkers) -> None:
    healthy = base_statement()  # HF 1.95
    assert circuits["health4"].accepts(healthy.signals())
    assert not circuits["health4"].accepts(replace(healthy, mode=HealthMode.BELOW).signals())
