"""`zkrisk prove`, `verify` and `setup` through Typer's runner, with real proofs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zkrisk.engine.cli.main import app
from zkrisk.prover.proof import Proof

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BOOK = ["--portfolio", str(EXAMPLES / "portfolio.toml"), "--prices", str(EXAMPLES / "prices.toml"),
        "--assets", str(EXAMPLES / "assets.toml")]  # fmt: skip
SALT = "0x5eed"
PARAMS = """
[health]
threshold_bps = 10_500

[limits]
notional_caps_usd = { USDC = 1_000_000, WETH = 2_000_000, WBTC = 2_000_000, LINK = 500_000 }
concentration_bps = 6_000
leverage_bps = 40_000

[attest]
alpha_bps = 9_000
var_limit_usd = 200_000
es_limit_usd = 300_000
"""
runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("prove")
    (folder / "params.toml").write_text(PARAMS)
    lines = (EXAMPLES / "scenarios.csv").read_text().splitlines()
    (folder / "scenarios20.csv").write_text("\n".join(lines[:22]) + "\n")  # comment, header, 20
    return folder


@pytest.fixture(scope="module")
def health_proof(work: Path) -> tuple[Path, str]:
    """One health proof (HF ≥ 1.05) made through the CLI, reused by the verify tests."""
    out = work / "health"
    code, stdout, stderr = run("prove", "health", *BOOK, "--params", str(work / "params.toml"),
                               "--salt", SALT, "--out", str(out), "--calldata")  # fmt: skip
    assert code == 0, stderr
    return out, stdout


def tampered(src: Path, dst: Path, *, proof: bool) -> Path:
    dst.mkdir(exist_ok=True)
    doc = json.loads((src / "proof.json").read_text())
    public = json.loads((src / "public.json").read_text())
    if proof:
        doc["pi_a"] = doc["pi_c"]  # a valid curve point, but the wrong one
    else:
        public[2] = str(int(public[2]) + 1)  # claim one more unit of margin
    (dst / "proof.json").write_text(json.dumps(doc))
    (dst / "public.json").write_text(json.dumps(public))
    return dst / "proof.json"


def test_prove_health_writes_snarkjs_proof_public_and_bundle_files(
    health_proof: tuple[Path, str],
) -> None:
    out, _ = health_proof
    doc = json.loads((out / "proof.json").read_text())
    assert doc["protocol"] == "groth16" and doc["curve"] == "bn128"
    assert len(json.loads((out / "public.json").read_text())) == 5
    bundle = json.loads((out / "bundle.json").read_text())
    assert bundle["public_signals"] == json.loads((out / "public.json").read_text())
    assert not (out / "salt.txt").exists()  # the salt was given, so none is written


def test_prove_with_calldata_prints_eight_words_and_the_public_signals(
    health_proof: tuple[Path, str],
) -> None:
    out, stdout = health_proof
    printed = json.loads(stdout)
    words, public = Proof.load(out / "proof.json", out / "public.json").calldata()
    assert printed["proof"] == [hex(w) for w in words] and len(printed["proof"]) == 8
    assert printed["publicSignals"] == [hex(s) for s in public]


@pytest.mark.parametrize("verifier", ["snarkjs", "python"])
def test_verify_of_a_valid_proof_exits_0(health_proof: tuple[Path, str], verifier: str) -> None:
    out, _ = health_proof
    code, stdout, stderr = run("verify", str(out / "proof.json"), "--trust-public-signals",
                               "--circuit", "health4", "--with", verifier)  # fmt: skip
    assert code == 0, stderr
    assert stdout.startswith(f"OK: {out / 'proof.json'} is a valid health4 proof ({verifier}")
    assert "DEV ptau" in stderr  # the shared ptau is a development one, and it says so
    assert "--trust-public-signals checks only that the proof is valid" in stderr


@pytest.mark.parametrize("verifier", ["snarkjs", "python"])
@pytest.mark.parametrize("part", ["proof", "public"])
def test_verify_of_a_tampered_proof_exits_1_with_a_clear_message(
    health_proof: tuple[Path, str], tmp_path: Path, verifier: str, part: str
) -> None:
    out, _ = health_proof
    bad = tampered(out, tmp_path / part, proof=part == "proof")
    code, stdout, stderr = run("verify", str(bad), "--trust-public-signals", "--circuit", "health4",
                               "--with", verifier)  # fmt: skip
    assert code == 1
    assert stdout == ""
    assert "INVALID proof" in stderr and "does not verify for health4" in stderr


def test_verify_against_another_circuit_exits_1(health_proof: tuple[Path, str]) -> None:
    out, _ = health_proof
    code, _, stderr = run("verify", str(out / "proof.json"), "--trust-public-signals",
                          "--circuit", "limits4")  # fmt: skip
    assert code == 1
    assert "5 public signals, limits4 has" in stderr


def test_verify_of_a_missing_or_malformed_file_exits_2(tmp_path: Path) -> None:
    code, _, stderr = run("verify", str(tmp_path / "nope.json"), "--trust-public-signals",
                          "--circuit", "health4")  # fmt: skip
    assert code == 2 and "file not found" in stderr
    (tmp_path / "proof.json").write_text('{"pi_a": [1]}')
    (tmp_path / "public.json").write_text("[]")
    code, _, stderr = run("verify", str(tmp_path / "proof.json"), "--trust-public-signals",
                          "--circuit", "health4")  # fmt: skip
    assert code == 2 and "not a snarkjs Groth16 proof" in stderr


def test_prove_when_the_statement_does_not_hold_exits_1_without_a_proof(
    work: Path, tmp_path: Path
) -> None:
    (tmp_path / "p.toml").write_text("[health]\nthreshold_bps = 60_000\n")
    code, _, stderr = run("prove", "health", *BOOK, "--params", str(tmp_path / "p.toml"),
                          "--out", str(tmp_path / "out"))  # fmt: skip
    assert code == 1
    assert "the health statement does not hold" in stderr and "not ≥ 6" in stderr
    assert not (tmp_path / "out").exists()


def test_prove_without_a_salt_writes_a_private_salt_file(tmp_path: Path) -> None:
    code, _, stderr = run("prove", "health", *BOOK, "--out", str(tmp_path), "--backend", "native")
    assert code == 0, stderr
    salt = tmp_path / "salt.txt"
    assert int(salt.read_text(), 16) > 2**128
    assert salt.stat().st_mode & 0o777 == 0o600
    assert "keep it" in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--circuit", "limits4"], "circuit limits4 is a Limits; `prove health` needs a Health"),
        (["--circuit", "nope"], "unknown circuit 'nope'"),
        (["--backend", "gpu"], "unknown prover backend 'gpu'"),
        (["--salt", "xyz"], "--salt 'xyz' is not an integer"),
    ],
)
def test_prove_with_bad_options_exits_2_naming_the_problem(
    tmp_path: Path, args: list[str], message: str
) -> None:
    code, _, stderr = run("prove", "health", *BOOK, "--out", str(tmp_path), *args)
    assert code == 2
    assert message in stderr


def test_prove_limits_needs_a_limits_table(tmp_path: Path) -> None:
    code, _, stderr = run("prove", "limits", *BOOK, "--out", str(tmp_path))
    assert code == 2 and "no [limits] table" in stderr


def test_prove_limits_and_verify_it_in_python(work: Path) -> None:
    out = work / "limits"
    code, _, stderr = run("prove", "limits", *BOOK, "--params", str(work / "params.toml"),
                          "--salt", SALT, "--out", str(out))  # fmt: skip
    assert code == 0, stderr
    code, stdout, _ = run("verify", str(out / "proof.json"), "--trust-public-signals",
                          "--circuit", "limits4", "--with", "python")  # fmt: skip
    assert code == 0 and stdout.startswith("OK")


def test_prove_attest_over_twenty_scenarios_and_verify_it(work: Path) -> None:
    out = work / "attest"
    code, _, stderr = run("prove", "attest", *BOOK, "--params", str(work / "params.toml"),
                          "--scenarios", str(work / "scenarios20.csv"), "--salt", SALT,
                          "--out", str(out))  # fmt: skip
    assert code == 0, stderr
    code, stdout, _ = run("verify", str(out / "proof.json"), "--trust-public-signals",
                          "--circuit", "attest4x20")  # fmt: skip
    assert code == 0 and stdout.startswith("OK")


def test_prove_attest_with_the_wrong_number_of_scenarios_exits_2(work: Path) -> None:
    code, _, stderr = run("prove", "attest", *BOOK, "--params", str(work / "params.toml"),
                          "--scenarios", str(EXAMPLES / "scenarios.csv"),
                          "--out", str(work / "x"))  # fmt: skip
    assert code == 2
    assert "attest4x20 proves over exactly 20 scenarios; the scenario set has 250" in stderr


def test_setup_says_plainly_that_the_ptau_is_a_development_one() -> None:
    code, stdout, stderr = run("setup", "health4")
    assert code == 0, stderr
    assert "ptau power 14 (DEVELOPMENT (insecure)" in stderr
    assert "warning: DEV ptau: health4 was set up from a development powers-of-tau" in stdout


def test_setup_of_an_unknown_circuit_exits_2() -> None:
    code, _, stderr = run("setup", "nope")
    assert code == 2 and "unknown circuit 'nope'" in stderr
