"""A witness that violates a constraint names the template, its line and the signals involved."""

from __future__ import annotations

import pytest

from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.backends import NativeBackend, ProvingBackend
from zkrisk.prover.errors import ConstraintFailure, WitnessError
from zkrisk.prover.signals import Signals

from .cases import holding, not_holding, out_of_range


def _failure(
    backend: ProvingBackend, artifacts: CircuitArtifacts, signals: Signals
) -> WitnessError:
    with pytest.raises(WitnessError) as info:
        backend.prove(artifacts, signals)
    return info.value


def _assert_points_at_its_source(failure: ConstraintFailure) -> None:
    assert failure.file is not None and failure.source is not None
    assert failure.file.read_text().splitlines()[failure.line - 1].strip() == failure.source


@pytest.mark.parametrize("name", ["snarkjs-cli", "worker", "native", "multicore"])
def test_witness_error_when_the_statement_does_not_hold_names_template_line_and_signals(
    health4: CircuitArtifacts, backends: dict[str, ProvingBackend], name: str
) -> None:
    error = _failure(backends[name], health4, not_holding().signals())
    failure = error.failure
    assert failure is not None
    assert failure.template == "Health" and failure.file is not None
    assert failure.file.name == "Health.circom"
    _assert_points_at_its_source(failure)
    assert failure.instances == ("main",)
    assert failure.signals and all(s.startswith("main.") for s in failure.signals)
    message = str(error)
    assert f"circuits/Health.circom:{failure.line}" in message
    assert failure.signals[0] in message
    assert "    at " not in message  # no JavaScript stack trace
    assert f"line {failure.line}" in error.raw.replace(":", "")  # raw output kept to debug


@pytest.mark.parametrize("name", ["snarkjs-cli", "worker"])
def test_wasm_failure_in_a_sub_template_lists_the_instances_it_may_be(
    health4: CircuitArtifacts, backends: dict[str, ProvingBackend], name: str
) -> None:
    failure = _failure(backends[name], health4, out_of_range()).failure
    assert failure is not None
    assert failure.template == "Num2Bits" and failure.file is not None
    assert failure.file.name == "bitify.circom"  # circomlib's, found through the include path
    _assert_points_at_its_source(failure)
    assert failure.callers  # the templates between main and Num2Bits
    assert failure.instances and all(i.startswith("main.") for i in failure.instances)
    assert all(s.rsplit(".", 1)[0] in failure.instances for s in failure.signals)


def test_cpp_failure_in_a_sub_template_names_the_exact_component(
    health4_cpp: CircuitArtifacts,
) -> None:
    with NativeBackend(witness="cpp") as backend:
        failure = _failure(backend, health4_cpp, out_of_range()).failure
    assert failure is not None and failure.template == "Num2Bits"
    assert len(failure.instances) == 1
    (component,) = failure.instances
    assert failure.signals and all(s.startswith(component + ".") for s in failure.signals)


def test_cpp_and_wasm_report_the_same_failing_template_and_line(
    health4_cpp: CircuitArtifacts, backends: dict[str, ProvingBackend]
) -> None:
    with NativeBackend(witness="cpp") as cpp:
        exact = _failure(cpp, health4_cpp, out_of_range()).failure
    listed = _failure(backends["worker"], health4_cpp, out_of_range()).failure
    assert exact is not None and listed is not None
    assert (exact.template, exact.line) == (listed.template, listed.line)
    assert exact.instances[0] in listed.instances


@pytest.mark.parametrize("name", ["snarkjs-cli", "worker", "native", "multicore"])
def test_unknown_input_signal_is_reported_as_a_bad_input(
    health4: CircuitArtifacts, backends: dict[str, ProvingBackend], name: str
) -> None:
    signals = {**holding().signals(), "notAnInput": 1}
    error = _failure(backends[name], health4, signals)
    assert str(error).startswith("health4: bad input:")
    assert error.failure is None


def test_array_input_of_the_wrong_length_is_named(
    health4: CircuitArtifacts, backends: dict[str, ProvingBackend]
) -> None:
    signals = {**holding().signals(), "collateral": [1, 2, 3]}
    error = _failure(backends["worker"], health4, signals)
    assert "Not enough values for input signal collateral" in str(error)


def test_worker_keeps_serving_after_a_witness_error(
    health4: CircuitArtifacts, backends: dict[str, ProvingBackend]
) -> None:
    _failure(backends["worker"], health4, not_holding().signals())
    proof = backends["worker"].prove(health4, holding().signals())
    assert proof.public_signals == holding().public_signals()
