"""The job model (statement hash, wire format), the result checks, the pool backend's factory."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.backends import NativeBackend, PoolBackend, create_backend
from zkrisk.prover.backends.pool import POOL_ENV_VAR
from zkrisk.prover.errors import BackendUnavailable
from zkrisk.prover.pool.checks import rejection
from zkrisk.prover.pool.jobs import MalformedMessage, Priority, ProofJob, ProofResult, Timings
from zkrisk.prover.proof import Proof

from ..prover.cases import holding


def _job(signals: dict[str, object], key: str = "k1", circuit: str = "health4") -> ProofJob:
    return ProofJob.new(circuit, key, signals, Priority.NORMAL, 0.0)  # type: ignore[arg-type]


def test_the_job_id_depends_on_the_statement_not_on_the_order_of_the_signals() -> None:
    signals = dict(holding().signals())
    reordered = dict(reversed(list(signals.items())))
    assert _job(signals).job_id == _job(reordered).job_id
    assert (
        ProofJob.new("health4", "k1", signals, Priority.HIGH, 99.0).job_id == _job(signals).job_id
    )


def test_the_job_id_changes_with_the_signals_the_key_or_the_circuit() -> None:
    signals = dict(holding().signals())
    ids = {
        _job(signals).job_id,
        _job(dict(holding(nonce=1).signals())).job_id,
        _job(signals, key="k2").job_id,
        _job(signals, circuit="health16").job_id,
    }
    assert len(ids) == 4


def test_a_job_read_from_the_wire_is_the_job_that_was_written() -> None:
    job = _job(dict(holding().signals()))
    again = ProofJob.from_bytes(job.to_bytes())
    assert again == job and again.decoded_signals() == dict(holding().signals())


def test_a_job_whose_id_is_not_its_statements_hash_is_refused() -> None:
    raw = json.loads(_job(dict(holding().signals())).to_bytes())
    raw["signals"]["binding"] = "7"  # same id, other statement
    with pytest.raises(MalformedMessage, match="not the hash of its statement"):
        ProofJob.from_bytes(json.dumps(raw).encode())


def test_a_job_with_a_signal_that_is_not_a_decimal_string_is_refused() -> None:
    raw = json.loads(_job(dict(holding().signals())).to_bytes())
    raw["signals"]["margin"] = "-5"
    with pytest.raises(MalformedMessage, match="'margin'"):
        ProofJob.from_bytes(json.dumps(raw).encode())


@pytest.fixture(scope="module")
def proof(health4: CircuitArtifacts) -> Proof:
    with NativeBackend() as backend:
        return backend.prove(health4, holding(nonce=40).signals())


def test_a_result_read_from_the_wire_is_the_result_that_was_written(proof: Proof) -> None:
    result = ProofResult("id", "w", 2, proof, None, None, Timings(1.5, None, 20.0))
    assert ProofResult.from_bytes(result.to_bytes()) == result


def test_the_proof_of_the_statement_asked_for_is_accepted(
    health4: CircuitArtifacts, proof: Proof
) -> None:
    assert rejection(health4, holding(nonce=40).signals(), proof) is None


def test_a_valid_proof_of_another_statement_is_rejected(
    health4: CircuitArtifacts, proof: Proof
) -> None:
    reason = rejection(health4, holding(nonce=41).signals(), proof)
    assert reason is not None and "public signal 4" in reason


def test_a_proof_relabelled_with_the_asked_for_public_signals_is_rejected(
    health4: CircuitArtifacts, proof: Proof
) -> None:
    wanted = holding(nonce=41)
    forged = replace(proof, public_signals=tuple(wanted.public_signals()))
    assert rejection(health4, wanted.signals(), forged) == (
        "the proof does not verify under the verification key"
    )


def test_the_pool_backend_without_a_pool_url_says_which_variable_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(POOL_ENV_VAR, raising=False)
    with pytest.raises(BackendUnavailable, match=POOL_ENV_VAR):
        create_backend("pool")


def test_best_is_the_pool_when_a_pool_is_configured_and_local_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(POOL_ENV_VAR, raising=False)
    with create_backend("best") as local:
        assert local.name == "multicore"  # the fastest local backend
    monkeypatch.setenv(POOL_ENV_VAR, "nats://127.0.0.1:4222")
    with create_backend("best") as pooled, create_backend("native") as explicit:
        assert isinstance(pooled, PoolBackend) and pooled.url == "nats://127.0.0.1:4222"
        assert explicit.name == "native"
