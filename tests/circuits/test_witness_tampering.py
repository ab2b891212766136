"""Editing any public signal of a valid witness breaks the R1CS (`snarkjs wtns check`).

A circuit whose public signal could change without breaking a constraint would let a prover
claim it for any value — the optimiser dropping an unused binding input is the classic case.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from zkrisk.prover.snarkjs_cli import calculate_witness
from zkrisk.prover.toolchain import ToolFailed, run_tool
from zkrisk.prover.wtns import read_wtns, write_wtns

from .conftest import Checkers
from .health_cases import base_statement
from .statement_cases import base_attestation, base_limits


def valid_signals(name: str) -> dict[str, Any]:
    if name == "health4":
        return dict(base_statement().signals())
    if name == "limits4":
        return dict(base_limits().signals())
    return dict(base_attestation().signals())


def wtns_holds(r1cs: Path, wtns: Path) -> bool:
    try:
        run_tool("snarkjs", ["wtns", "check", str(r1cs), str(wtns)])
    except ToolFailed:
        return False
    return True


def public_indices(n_public: int, name: str) -> list[int]:
    """Every public signal (1-based in the witness); for the attestation every non-return
    input plus returns of the first, a middle and the last scenario (each edit costs a CLI
    run). Returns are taken in held slots: slot 3 of the base book is empty, and a return
    that multiplies a zero position is — rightly — free (every value gives the same loss)."""
    if name != "attest4x20":
        return list(range(1, n_public + 1))
    non_returns = 1 + 1 + 4 + 4 + 2 + 3  # commitment … esLimit
    first = non_returns + 1  # scenario 0, slot 0 (1,500 USD incl. margin)
    returns = [first, first + 9 * 4 + 1, first + 19 * 4 + 2]  # ETH in 9, BTC in 19
    return [*range(1, non_returns + 1), *returns]


@pytest.mark.parametrize("name", ["health4", "limits4", "attest4x20"])
def test_editing_any_public_signal_in_the_witness_breaks_the_constraints(
    circuits: Checkers, tmp_path: Path, name: str
) -> None:
    compiled = circuits.compiled(name)
    original = calculate_witness(compiled, valid_signals(name), tmp_path / "ok.wtns")
    assert wtns_holds(compiled.r1cs, original), "the untouched witness must satisfy the R1CS"
    witness = read_wtns(original)
    n_public = compiled.info.n_outputs + compiled.info.n_public_inputs
    survivors = []
    for index in public_indices(n_public, name):
        edited = tmp_path / f"edit{index}.wtns"
        write_wtns(witness.with_value(index, witness.values[index] + 1), edited)
        if wtns_holds(compiled.r1cs, edited):
            survivors.append(index)
    assert survivors == [], f"{name}: public signals {survivors} are not constrained"


def test_wtns_round_trip_is_byte_exact(circuits: Checkers, tmp_path: Path) -> None:
    compiled = circuits.compiled("limits4")
    original = calculate_witness(compiled, valid_signals("limits4"), tmp_path / "a.wtns")
    copy = tmp_path / "b.wtns"
    write_wtns(read_wtns(original), copy)
    assert copy.read_bytes() == original.read_bytes()
