"""Attestation bundles checked against the verifier's own statement, with real proofs.

The desk proves from the shipped examples (salt 0x5eed); the lender's expectations are the
shipped examples/expect-*.toml. Every single-field change of an expectation must be refused
with that field named; refusals never reach the pairing check, so they are fast.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zkrisk.engine import verify_attestation
from zkrisk.engine.attestation_bundle import (
    FORMAT,
    AttestationBundle,
    CircuitId,
    load_bundle,
    vkey_sha256,
)
from zkrisk.engine.cli.main import app
from zkrisk.engine.cli.prove import artifacts_for
from zkrisk.engine.expectation import Expectation, expected_statement, load_expectation
from zkrisk.engine.files import load_scenarios
from zkrisk.engine.prove_params import BindingParams

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BOOK = ["--portfolio", str(EXAMPLES / "portfolio.toml"), "--prices", str(EXAMPLES / "prices.toml"),
        "--assets", str(EXAMPLES / "assets.toml"), "--params", str(EXAMPLES / "params.toml"),
        "--salt", "0x5eed"]  # fmt: skip
KINDS = ("health", "limits", "attest")
runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def expectation(kind: str) -> Expectation:
    return load_expectation(EXAMPLES / f"expect-{kind}.toml")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One bundle per statement, proven by the CLI from the shipped examples."""
    folder = tmp_path_factory.mktemp("bundles")
    out = {}
    for kind in KINDS:
        extra = ["--scenarios", str(EXAMPLES / "scenarios20.csv")] if kind == "attest" else []
        code, _, stderr = run("prove", kind, *BOOK, *extra, "--out", str(folder / kind))
        assert code == 0, stderr
        out[kind] = folder / kind / "bundle.json"
    return out


def test_prove_writes_a_bundle_with_the_statement_in_domain_terms(
    bundles: dict[str, Path],
) -> None:
    bundle = load_bundle(bundles["attest"])
    assert bundle.format == FORMAT
    assert bundle.circuit == CircuitId(name="attest4x20", template="RiskAttestation",
                                       params=(4, 20))  # fmt: skip
    assert bundle.vkey_sha256 == vkey_sha256(artifacts_for("attest4x20").vkey)
    claim = bundle.statement
    assert claim.limits is not None and claim.limits.leverage_bps == 40_000
    assert claim.attest is not None and claim.attest.var_limit_usd == Decimal(200_000)
    assert claim.snapshot.prices_usd["WETH"] == Decimal("3012.45")
    assert claim.scenarios is not None and claim.scenarios.count == 20
    assert claim.scenarios.sha256 == load_scenarios(EXAMPLES / "scenarios20.csv").content_hash
    assert bundle.dev_ptau and bundle.warning and bundle.warning.startswith("DEV ptau")
    doc = json.loads(bundles["attest"].read_text())
    assert doc["statement"]["attest"]["var_limit_usd"] == "200000"  # decimal strings


@pytest.mark.parametrize("kind", KINDS)
def test_verify_against_the_matching_expectation_accepts_the_bundle(
    bundles: dict[str, Path], kind: str
) -> None:
    code, stdout, stderr = run("verify", str(bundles[kind]), "--expect",
                               str(EXAMPLES / f"expect-{kind}.toml"), "--with", "python")  # fmt: skip
    assert code == 0, stderr
    assert stdout.startswith(f"ACCEPTED: {bundles[kind]} proves your {kind} statement")
    assert "DEV ptau" in stderr


def test_verify_attestation_in_python_accepts_the_matching_bundle(
    bundles: dict[str, Path],
) -> None:
    result = verify_attestation(str(bundles["limits"]), str(EXAMPLES / "expect-limits.toml"))
    assert result.accepted and result.proof_valid and result.mismatches == ()


def _file_with(tmp: Path, source: str, old: str, new: str) -> Path:
    text = (EXAMPLES / source).read_text()
    assert old in text
    path = tmp / source
    path.write_text(text.replace(old, new, 1))
    return path


Edit = Callable[[Expectation, Path], Expectation]


def _set(**update: object) -> Edit:
    return lambda e, _tmp: e.model_copy(update=update)


def _section(name: str, **update: object) -> Edit:
    return lambda e, _tmp: e.model_copy(update={name: getattr(e, name).model_copy(update=update)})


def _prices(old: str, new: str) -> Edit:
    return lambda e, tmp: e.model_copy(update={"prices": _file_with(tmp, "prices.toml", old, new)})


COMMON: list[tuple[str, Edit]] = [
    ("commitment", lambda e, _tmp: e.model_copy(update={"commitment": e.commitment + 1})),
    ("margin", _set(margin=Decimal("250000.01"))),
]
LIMITS: list[tuple[str, Edit]] = [
    ("prices.WETH", _prices("price = 3012.45", "price = 3012.46")),
    ("limits.notional_caps_usd.WBTC",
     _section("limits", notional_caps_usd={"USDC": Decimal(1_000_000), "WETH": Decimal(2_000_000),
                                           "WBTC": Decimal(2_500_000), "LINK": Decimal(500_000)})),
    ("limits.concentration_bps", _section("limits", concentration_bps=6_500)),
    ("limits.leverage_bps", _section("limits", leverage_bps=100_000)),
]  # fmt: skip
ATTEST: list[tuple[str, Edit]] = [
    ("attest.alpha_bps", _section("attest", alpha_bps=9_500)),
    ("attest.var_limit_usd", _section("attest", var_limit_usd=Decimal(250_000))),
    ("attest.es_limit_usd", _section("attest", es_limit_usd=Decimal("299999.99"))),
    ("scenarios", lambda e, tmp: e.model_copy(update={"scenarios": _file_with(
        tmp, "scenarios20.csv", "0,-0.026145,", "0,-0.036145,")})),
]  # fmt: skip
SNAPSHOT = "prices (snapshot hash: snapshot_id, prices, liquidation thresholds)"
HEALTH: list[tuple[str, Edit]] = [
    (SNAPSHOT, _prices("price = 3012.45", "price = 3012.46")),
    (SNAPSHOT, _prices("snapshot_id = 1042", "snapshot_id = 1043")),
    (SNAPSHOT, lambda e, tmp: e.model_copy(update={"assets": _file_with(
        tmp, "assets.toml", "liquidation_threshold_bps = 8_250", "liquidation_threshold_bps = 8_300")})),
    ("health.threshold_bps", _section("health", threshold_bps=10_000)),
    ("health.mode", _section("health", mode="BELOW")),
    ("health.binding", _section("health", binding=BindingParams(chain_id=1, vault="0x" + "11" * 20))),
]  # fmt: skip
CASES = (
    [("health", f, e) for f, e in COMMON + HEALTH]
    + [("limits", f, e) for f, e in COMMON + LIMITS]
    + [("attest", f, e) for f, e in COMMON + LIMITS + ATTEST]
)


@pytest.mark.parametrize(("kind", "field", "edit"), CASES,
                         ids=[f"{k}-{f.split(' ')[0]}-{i}" for i, (k, f, _) in enumerate(CASES)])  # fmt: skip
def test_verify_against_an_expectation_with_one_field_changed_refuses_naming_that_field(
    bundles: dict[str, Path], tmp_path: Path, kind: str, field: str, edit: Edit
) -> None:
    expected = edit(expectation(kind), tmp_path)
    if field == "health.binding":
        expected = expected.model_copy(update={"account": "0x" + "22" * 20})
    result = verify_attestation(bundles[kind], expected)
    assert not result.accepted
    assert result.fields == (field,)
    assert result.proof_valid is None  # refused before any pairing


def test_verify_cli_names_the_edited_leverage_limit_and_exits_1(
    bundles: dict[str, Path], tmp_path: Path
) -> None:
    expect = _file_with(tmp_path, "expect-limits.toml", "leverage_bps = 40_000",
                        "leverage_bps = 30_000")  # fmt: skip
    expect.with_name("assets.toml").write_text((EXAMPLES / "assets.toml").read_text())
    expect.with_name("prices.toml").write_text((EXAMPLES / "prices.toml").read_text())
    code, stdout, stderr = run("verify", str(bundles["limits"]), "--expect", str(expect))
    assert code == 1 and stdout == ""
    assert f"REFUSED: {bundles['limits']} does not prove your statement {expect}" in stderr
    assert "limits.leverage_bps: you expect 30000, the proof is for 40000" in stderr


def _edited(bundle: AttestationBundle, tmp: Path, **update: object) -> Path:
    path = tmp / "edited.json"
    path.write_text(bundle.model_copy(update=update).to_json())
    return path


def test_a_bundle_with_signals_edited_to_match_an_edited_statement_is_refused(
    bundles: dict[str, Path], tmp_path: Path
) -> None:
    bundle = load_bundle(bundles["limits"])
    names = [s.label for s in expected_statement(expectation("limits")).signals]
    signals = list(bundle.public_signals)
    signals[names.index("leverageBps")] = "100000"
    assert bundle.statement.limits is not None
    claim = bundle.statement.model_copy(
        update={"limits": bundle.statement.limits.model_copy(update={"leverage_bps": 100_000})}
    )
    edited = _edited(bundle, tmp_path, public_signals=tuple(signals), statement=claim)
    # Against the lender's own limit: the edited signal is named.
    result = verify_attestation(edited, expectation("limits"))
    assert result.fields == ("limits.leverage_bps",) and not result.accepted
    # Against an expectation equal to the edited claim: every field matches, the proof does not.
    looser = _section("limits", leverage_bps=100_000)(expectation("limits"), tmp_path)
    result = verify_attestation(edited, looser)
    assert result.mismatches == () and result.proof_valid is False and not result.accepted
    assert "the Groth16 proof does not verify" in result.reasons()[0]


def test_a_bundle_for_another_circuit_is_refused(bundles: dict[str, Path], tmp_path: Path) -> None:
    bundle = load_bundle(bundles["limits"])
    other = _edited(bundle, tmp_path, circuit=CircuitId(name="limits16", template="Limits",
                                                        params=(16,)))  # fmt: skip
    result = verify_attestation(other, expectation("limits"))
    assert result.fields == ("circuit",) and not result.accepted


def test_a_bundle_for_another_verification_key_is_refused(
    bundles: dict[str, Path], tmp_path: Path
) -> None:
    bundle = load_bundle(bundles["limits"])
    other = _edited(bundle, tmp_path, vkey_sha256="ab" * 32)
    result = verify_attestation(other, expectation("limits"))
    assert result.fields == ("verification_key",) and not result.accepted


def test_the_verifier_checks_the_proof_under_its_own_key_not_the_bundles_claim(
    bundles: dict[str, Path], tmp_path: Path
) -> None:
    # The lender trusts another key (another setup of limits4); the bundle claims that key's hash.
    vk = json.loads(artifacts_for("limits4").vkey.read_text())
    vk["vk_alpha_1"], vk["vk_delta_2"] = vk["IC"][1], vk["vk_gamma_2"]
    theirs = tmp_path / "their_vk.json"
    theirs.write_text(json.dumps(vk))
    expected = expectation("limits").model_copy(update={"verification_key": theirs})
    assert verify_attestation(bundles["limits"], expected).fields == ("verification_key",)
    claimed = _edited(load_bundle(bundles["limits"]), tmp_path, vkey_sha256=vkey_sha256(theirs))
    result = verify_attestation(claimed, expected)
    assert result.mismatches == () and result.proof_valid is False


def test_commitment_option_overrides_the_expectations_commitment(
    bundles: dict[str, Path],
) -> None:
    args = ["verify", str(bundles["limits"]), "--expect", str(EXAMPLES / "expect-limits.toml")]
    code, _, stderr = run(*args, "--commitment", "0x1234")
    assert code == 1 and "commitment: you expect 0x1234, the proof is for 0x21c2b883" in stderr
    commitment = load_bundle(bundles["limits"]).statement.commitment
    code, stdout, stderr = run(*args, "--commitment", commitment)
    assert code == 0 and stdout.startswith("ACCEPTED"), stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "bundle.json: file not found"),
        ('{"format": ', "bundle.json:1: Expecting value"),
        ('["not", "a", "bundle"]', "bundle.json:1: expected a mapping of fields"),
        # JSON errors name the line (issue 14); these bundles are one line long.
        ('{"pi_a": []}', "bundle.json:1: a snarkjs proof.json, not an attestation bundle"),
        ('{"format": "zkrisk/attestation-bundle/v9"}',
         "bundle.json:1: format 'zkrisk/attestation-bundle/v9' is not one this zkrisk reads"),
        ("MISSING", "bundle.json:1: vkey_sha256: required field is missing"),
        ("BAD_PROOF", "bundle.json:1: proof: not a snarkjs Groth16 proof"),
        ("BAD_SIGNAL", "bundle.json:1: public_signals: public signals must be decimal integer"),
    ],
)  # fmt: skip
def test_verify_of_a_malformed_bundle_exits_2_naming_the_file_and_the_problem(
    bundles: dict[str, Path], tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "bundle.json"
    doc = json.loads(bundles["limits"].read_text())
    if content == "MISSING":
        del doc["vkey_sha256"]
    elif content == "BAD_PROOF":
        doc["proof"] = {"pi_a": ["1"]}
    elif content == "BAD_SIGNAL":
        doc["public_signals"][3] = "0x12"
    if content is not None:
        path.write_text(content if content[0] in "{[" else json.dumps(doc))
    code, stdout, stderr = run(
        "verify", str(path), "--expect", str(EXAMPLES / "expect-limits.toml")
    )
    assert code == 2 and stdout == ""
    assert f"error: {tmp_path / message}" in stderr


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("[limits]", "[limitz]", "limitz: unknown field (check the spelling)"),
        ('commitment = "0x', 'commitment = "0xzz', "is not 0x-hex or decimal"),
        ('prices = "prices.toml"', 'prices = "nope.toml"', "nope.toml: file not found"),
    ],
)
def test_verify_with_a_malformed_expectation_exits_2_naming_the_problem(
    bundles: dict[str, Path], tmp_path: Path, old: str, new: str, message: str
) -> None:
    expect = _file_with(tmp_path, "expect-limits.toml", old, new)
    for name in ("assets.toml", "prices.toml"):
        (tmp_path / name).write_text((EXAMPLES / name).read_text())
    code, _, stderr = run("verify", str(bundles["limits"]), "--expect", str(expect))
    assert code == 2 and message in stderr and str(tmp_path) in stderr


def test_an_attest_expectation_without_limits_or_scenarios_exits_2(
    bundles: dict[str, Path], tmp_path: Path
) -> None:
    expect = tmp_path / "e.toml"
    expect.write_text(f'statement = "attest"\ncommitment = "0x1"\nassets = '
                      f'"{EXAMPLES / "assets.toml"}"\nprices = "{EXAMPLES / "prices.toml"}"\n')  # fmt: skip
    code, _, stderr = run("verify", str(bundles["attest"]), "--expect", str(expect))
    assert code == 2
    assert "e.toml: statement = 'attest' needs a [limits] table" in stderr
    assert "an [attest] table" in stderr and "`scenarios` (your scenario set)" in stderr


def test_verify_without_an_expectation_exits_2_and_says_how_to_give_one(
    bundles: dict[str, Path],
) -> None:
    code, _, stderr = run("verify", str(bundles["limits"]))
    assert code == 2
    assert "--expect STATEMENT.toml" in stderr and "--trust-public-signals" in stderr


def test_trust_public_signals_checks_only_the_proof_and_warns(bundles: dict[str, Path]) -> None:
    code, stdout, stderr = run("verify", str(bundles["limits"]), "--trust-public-signals",
                               "--with", "python")  # fmt: skip
    assert code == 0, stderr
    assert stdout.startswith(f"OK: {bundles['limits']} is a valid limits4 proof")
    assert "the PROVER chose" in stderr
    code, _, stderr = run("verify", str(bundles["limits"]), "--trust-public-signals",
                          "--expect", str(EXAMPLES / "expect-limits.toml"))  # fmt: skip
    assert code == 2 and "exclude each other" in stderr
