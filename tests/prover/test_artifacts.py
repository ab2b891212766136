"""The build checks the zkey, caches the C++ witness generator, and says when it cannot build it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO
from zkrisk.prover import cpp_witness
from zkrisk.prover.artifacts import CircuitArtifacts, build
from zkrisk.prover.registry import CircuitSpec
from zkrisk.prover.signals import signals_json


def test_build_verifies_the_zkey_against_r1cs_and_ptau_by_default(
    health4: CircuitArtifacts,
) -> None:
    assert health4.meta["zkey_verified"] is True
    assert isinstance(health4.meta["zkey_verify_seconds"], float)


def test_cpp_witness_generator_is_built_once_and_reused(
    registry: dict[str, CircuitSpec], health4_cpp: CircuitArtifacts
) -> None:
    binary = health4_cpp.compiled.witness_binary
    assert binary is not None
    built_at = binary.stat().st_mtime_ns
    lines: list[str] = []
    again = build(registry["health4"], REPO, cpp=True, log=lines.append)
    assert again.compiled.witness_binary == binary
    assert binary.stat().st_mtime_ns == built_at
    assert lines == []  # nothing compiled, set up or verified


def test_cpp_witness_without_build_deps_falls_back_to_wasm_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(cpp_witness, "missing_build_deps", lambda: ["nasm"])
    lines: list[str] = []
    assert cpp_witness.build(tmp_path, tmp_path, log=lines.append) is None
    assert len(lines) == 1
    assert "missing nasm" in lines[0] and cpp_witness.INSTALL_HINT in lines[0]
    assert "witnesses use WASM" in lines[0]


def test_signals_become_decimal_strings_at_any_nesting_depth() -> None:
    assert signals_json({"a": 2**200, "b": [1, [2, 3]]}) == {
        "a": str(2**200),
        "b": ["1", ["2", "3"]],
    }


@pytest.mark.parametrize("bad", [True, "7", 1.5])
def test_signal_that_is_not_an_integer_is_refused(bad: object) -> None:
    with pytest.raises(TypeError, match="must be an int"):
        signals_json({"a": bad})  # type: ignore[dict-item]
