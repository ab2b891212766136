"""The multicore prover (prover/multicore_rs): its proofs are snarkjs's proofs (they verify under
the same key), it uses every thread it is given, and bad files get an error, not a proof."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from zkrisk.prover import multicore_binary, pyverify
from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.backends import MulticoreBackend, NativeBackend
from zkrisk.prover.errors import ProverError
from zkrisk.prover.proof import Proof
from zkrisk.prover.wtns import Witness, read_wtns, write_wtns

from .cases import holding


def _witness(artifacts: CircuitArtifacts, tmp_path: Path, nonce: int = 0) -> Path:
    with NativeBackend() as backend:
        return backend.calculate_witness(artifacts, holding(nonce).signals(), tmp_path / "w.wtns")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    binary = multicore_binary.ensure_binary()
    return subprocess.run([str(binary), *args], capture_output=True, text=True, check=False)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_a_proof_on_any_number_of_threads_verifies(health4: CircuitArtifacts, threads: int) -> None:
    with MulticoreBackend(prover_threads=threads) as backend:
        proof = backend.prove(health4, holding(nonce=threads).signals())
    assert proof.public_signals == holding(nonce=threads).public_signals()
    assert pyverify.verify(health4.vkey, proof)


def test_proofs_are_blinded_so_the_same_statement_gives_different_points(
    health4: CircuitArtifacts,
) -> None:
    with MulticoreBackend() as backend:
        first = backend.prove(health4, holding().signals())
        second = backend.prove(health4, holding().signals())
    assert (first.a, first.c) != (second.a, second.c)
    assert pyverify.verify(health4.vkey, first) and pyverify.verify(health4.vkey, second)


def test_a_proof_of_another_statement_does_not_verify_for_this_one(
    health4: CircuitArtifacts, tmp_path: Path
) -> None:
    # The check above is not vacuous: the same points under other public inputs are refused.
    with MulticoreBackend() as backend:
        proof = backend.prove(health4, holding(nonce=7).signals())
    forged = Proof(proof.a, proof.b, proof.c, holding(nonce=8).public_signals())
    assert not pyverify.verify(health4.vkey, forged)


def test_the_cli_proves_from_files_and_the_proof_is_256_calldata_bytes(
    health4: CircuitArtifacts, tmp_path: Path
) -> None:
    done = _cli("prove", str(health4.zkey), str(_witness(health4, tmp_path)), "--threads", "2")
    assert done.returncode == 0, done.stderr
    assert len(bytes.fromhex(done.stdout.strip())) == 256


def test_a_file_that_is_not_a_zkey_is_refused_by_name(
    health4: CircuitArtifacts, tmp_path: Path
) -> None:
    bogus = tmp_path / "bogus.zkey"
    bogus.write_bytes(b"not a key at all")
    done = _cli("prove", str(bogus), str(_witness(health4, tmp_path)))
    assert done.returncode == 1
    assert "bogus.zkey: not a zkey file" in done.stderr and not done.stdout


def test_a_truncated_zkey_is_refused_not_read_past_its_end(
    health4: CircuitArtifacts, tmp_path: Path
) -> None:
    cut = tmp_path / "cut.zkey"
    cut.write_bytes(health4.zkey.read_bytes()[:100_000])
    done = _cli("prove", str(cut), str(_witness(health4, tmp_path)))
    assert done.returncode == 1 and "runs past the end of the file" in done.stderr


def _edited(health4: CircuitArtifacts, tmp_path: Path, edit: Callable[[Witness], Witness]) -> Path:
    out = tmp_path / "edited.wtns"
    write_wtns(edit(read_wtns(_witness(health4, tmp_path))), out)
    return out


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda w: Witness(w.prime, w.values[:-1]), "the witness has"),  # another circuit's size
        (lambda w: Witness(w.prime, (w.prime, *w.values[1:])), "not below the scalar field"),
        (lambda w: Witness(w.prime, (2, *w.values[1:])), "constant wire) is not 1"),
    ],
    ids=["wrong-length", "value-not-reduced", "constant-wire-not-1"],
)
def test_a_witness_that_cannot_be_this_circuits_is_refused_with_the_reason(
    health4: CircuitArtifacts, tmp_path: Path, edit: Callable[[Witness], Witness], says: str
) -> None:
    done = _cli("prove", str(health4.zkey), str(_edited(health4, tmp_path, edit)))
    assert done.returncode == 1 and says in done.stderr and not done.stdout


def test_a_witness_that_breaks_a_constraint_gives_a_proof_no_verifier_accepts(
    health4: CircuitArtifacts, tmp_path: Path
) -> None:
    # The prover checks no constraint (snarkjs's does not either): soundness is the verifier's.
    last = len(read_wtns(_witness(health4, tmp_path)).values) - 1
    wtns = _edited(health4, tmp_path, lambda w: w.with_value(last, w.values[last] + 1))
    done = _cli("prove", str(health4.zkey), str(wtns))
    assert done.returncode == 0, done.stderr
    proof = Proof.from_calldata_bytes(
        bytes.fromhex(done.stdout.strip()), list(holding().public_signals())
    )
    assert not pyverify.verify(health4.vkey, proof)


def test_bad_usage_exits_2_with_the_usage() -> None:
    done = _cli("prove", "--threads", "0")
    assert done.returncode == 2 and "--threads takes a whole number" in done.stderr


def test_the_server_answers_a_bad_request_and_goes_on_proving(
    health4: CircuitArtifacts, tmp_path: Path
) -> None:
    with MulticoreBackend() as backend:
        with pytest.raises(ProverError, match=r"missing\.zkey"):
            backend._request(tmp_path / "missing.zkey", _witness(health4, tmp_path))
        proof = backend.prove(health4, holding(nonce=3).signals())
    assert pyverify.verify(health4.vkey, proof)


def test_an_edited_source_names_a_new_binary_so_a_stale_one_is_never_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "multicore_rs"
    shutil.copytree(multicore_binary.SOURCE, copy, ignore=shutil.ignore_patterns("target"))
    monkeypatch.setattr(multicore_binary, "SOURCE", copy)
    before = multicore_binary.binary_path()
    main = copy / "src" / "main.rs"
    main.write_text(main.read_text() + "\n// edited\n")
    assert multicore_binary.binary_path() != before


def test_the_crates_own_unit_tests_pass() -> None:
    # Field, FFT and MSM checks against direct computation (src/*.rs #[cfg(test)]).
    cargo = multicore_binary.cargo()
    assert cargo is not None, multicore_binary.INSTALL_HINT
    done = subprocess.run(
        [str(cargo), "test", "--release", "--offline", "--quiet",
         "--manifest-path", str(multicore_binary.SOURCE / "Cargo.toml"),
         "--target-dir", str(multicore_binary.target_dir() / "cargo-test")],
        capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "test result: ok" in done.stdout
