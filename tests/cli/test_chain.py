"""`zkrisk attest` and `zkrisk chain …` through Typer's runner against a real Anvil node (one per
module): a governed deployment (Safe 2-of-3 → timelock), attester registration through
governance, an attested book committed with a proof, withdrawals and liquidations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from zkrisk.engine.chain.anvil import DEV_PRIVATE_KEYS, AnvilNode, free_port
from zkrisk.engine.cli.main import app

ASSETS = str(Path(__file__).resolve().parents[2] / "examples" / "assets.toml")
DESK = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"  # Anvil dev account 1
ATTESTER = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"  # dev account 4
GUARDIAN = "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc"  # dev account 5
OWNERS = (
    "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
    "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
    "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f",
)  # dev accounts 6, 7, 8
SALT = "0x1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a7988"
DELAY = 600
BOOK = f"""
salt = "0x1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a7988"

[portfolio]
account = "{DESK}"

[[portfolio.positions]]
symbol = "WBTC"
quantity = 1.5

[[portfolio.positions]]
symbol = "WETH"
quantity = -12
"""
runner = CliRunner()


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def env(anvil_node: AnvilNode, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("chain")
    (folder / "book.toml").write_text(BOOK)
    (folder / "wrong-salt.toml").write_text(BOOK.replace("0x1f2e", "0x9999"))
    (folder / "owners.keys").write_text(f"{DEV_PRIVATE_KEYS[6]}\n{DEV_PRIVATE_KEYS[7]}\n")
    (folder / "one-owner.keys").write_text(f"{DEV_PRIVATE_KEYS[6]}\n")
    common = ["--rpc-url", anvil_node.url, "--deployments", str(folder / "deployments")]
    code, out, err = run("chain", "deploy", *common, "--dev-account", "0", "--json",
                         "--owners", ",".join(OWNERS), "--threshold", "2", "--delay", str(DELAY),
                         "--guardian", GUARDIAN, "--attester", ATTESTER)  # fmt: skip
    assert code == 0, err
    made = {"common": common, "deployed": json.loads(out), "folder": folder, "err": err}
    keys = ["--owner-keys", str(folder / "owners.keys")]
    code, _, err = chain(made, "govern", "propose", "set-attester", "--account", DESK, *keys)
    assert code == 0, err
    code, _, err = run("chain", "advance-time", str(DELAY + 1), "--rpc-url", anvil_node.url)
    assert code == 0, err
    code, _, err = chain(made, "govern", "execute", "set-attester", "--account", DESK, *keys)
    assert code == 0, err
    return made


def chain(env: dict[str, Any], *args: str, account: int = 1) -> tuple[int, str, str]:
    return run("chain", *args, *env["common"], "--dev-account", str(account))


def proof_args(env: dict[str, Any], book: str = "book.toml") -> list[str]:
    return ["--book", str(env["folder"] / book), "--assets", ASSETS]


def test_deploy_records_the_stack_per_chain_id_and_warns_about_the_dev_ptau(
    env: dict[str, Any],
) -> None:
    deployed = env["deployed"]
    record = json.loads((env["folder"] / "deployments" / "31337.json").read_text())
    assert record["contracts"]["RiskVault"] == deployed["RiskVault"]
    assert deployed["dev_ptau"] is True
    assert "DEV ptau" in env["err"]


def attest(env: dict[str, Any], sequence: int, book: str = "book.toml",
           key: str = DEV_PRIVATE_KEYS[4]) -> tuple[int, str, str]:  # fmt: skip
    args = ["attest", "--book", str(env["folder"] / book), "--account", DESK, "--salt", SALT,
            "--sequence", str(sequence), "--vault", env["deployed"]["RiskVault"],
            "--rpc-url", env["common"][1], "--out", str(env["folder"] / f"att{sequence}.json")]  # fmt: skip
    return run(*args, env={"ZKRISK_ATTESTER_KEY": key})


def test_a_desk_deposits_commits_an_attested_book_and_withdraws_with_proofs(
    env: dict[str, Any],
) -> None:
    code, _, err = chain(env, "snapshot", account=0)
    assert code == 0, err
    code, out, err = chain(env, "deposit", "20000", "--mint", "--json")
    assert code == 0, err
    assert json.loads(out)["escrow"] == 20_000 * 10**6
    code, out, err = attest(env, 1)
    assert code == 0, err
    signed = json.loads(out)
    assert signed["attester"] == ATTESTER and signed["attestation"]["sequence"] == 1
    code, out, err = chain(env, "update-book", str(env["folder"] / "att1.json"),
                           *proof_args(env), "--json")  # fmt: skip
    assert code == 0, err
    committed = json.loads(out)
    assert committed["health_factor"] == "2.4500" and committed["gas"] > 0
    assert int(committed["commitment"], 16) == int(signed["attestation"]["commitment"], 16)
    code, out, err = chain(env, "withdraw", "5000", *proof_args(env), "--json")
    assert code == 0, err
    assert json.loads(out)["escrow"] == 15_000 * 10**6
    code, out, _ = chain(env, "status", "--json")
    status = json.loads(out)
    assert status["escrow"] == 15_000 * 10**6 and status["nonce"] == 2
    assert status["commitment"] == committed["commitment"] and status["book_sequence"] == 1
    assert status["attester"] == ATTESTER


def test_attesting_with_a_key_that_is_not_the_accounts_attester_exits_2(
    env: dict[str, Any],
) -> None:
    code, _, err = attest(env, 5, key=DEV_PRIVATE_KEYS[1])  # the desk signing its own book
    assert code == 2
    assert "not 0x70997970C51812dc3A010C7d01b50e0d17dc79C8's registered attester" in err


def test_attesting_without_the_key_in_the_environment_exits_2(env: dict[str, Any]) -> None:
    code, _, err = run("attest", "--book", str(env["folder"] / "book.toml"), "--account", DESK,
                       "--salt", SALT, "--sequence", "9", "--vault", env["deployed"]["RiskVault"],
                       "--rpc-url", env["common"][1])  # fmt: skip
    assert code == 2
    assert "set $ZKRISK_ATTESTER_KEY" in err


def test_a_tampered_attestation_is_refused_before_sending(env: dict[str, Any]) -> None:
    code, out, err = attest(env, 7, book="wrong-salt.toml")  # a valid signature of another book
    assert code == 0, err
    signed = json.loads(out)
    signed["attestation"]["sequence"] = 8
    (env["folder"] / "tampered.json").write_text(json.dumps(signed))
    code, _, err = chain(env, "submit-book", str(env["folder"] / "tampered.json"), account=3)
    assert code == 2
    assert "a field was changed after signing" in err


def test_a_single_owner_cannot_pass_a_governance_action(env: dict[str, Any]) -> None:
    keys = ["--owner-keys", str(env["folder"] / "one-owner.keys")]
    code, _, err = chain(env, "govern", "propose", "set-policy", "--set", "min_health_bps=11000",
                         *keys)  # fmt: skip
    assert code == 1
    assert "1 owner signature(s), the Safe needs 2" in err


def test_a_policy_change_takes_effect_only_after_the_timelock_delay(
    env: dict[str, Any],
) -> None:
    keys = ["--owner-keys", str(env["folder"] / "owners.keys")]
    change = ["set-policy", "--set", "min_health_bps=10600"]
    code, out, err = chain(env, "govern", "propose", *change, *keys, "--json")
    assert code == 0, err
    assert json.loads(out)["state"] == "Waiting"
    code, _, err = chain(env, "govern", "execute", *change, *keys)
    assert code == 1
    assert "wait until its delay has passed" in err
    code, out, _ = chain(env, "status", "--json")
    assert json.loads(out)["min_health"] == 1.05
    code, _, err = run("chain", "advance-time", str(DELAY + 1), "--rpc-url", env["common"][1])
    assert code == 0, err
    code, out, err = chain(env, "govern", "execute", *change, *keys, "--json")
    assert code == 0, err
    assert json.loads(out)["state"] == "Done"
    code, out, _ = chain(env, "status", "--json")
    assert json.loads(out)["min_health"] == 1.06


def test_withdraw_with_a_book_that_does_not_match_the_commitment_exits_1(
    env: dict[str, Any],
) -> None:
    code, _, err = chain(env, "withdraw", "1", *proof_args(env, "wrong-salt.toml"))
    assert code == 1
    assert "use the book (and salt) the attester signed last" in err


def test_withdraw_of_more_than_the_escrow_exits_2(env: dict[str, Any]) -> None:
    code, _, err = chain(env, "withdraw", "1000000", *proof_args(env))
    assert code == 2
    assert "withdrawal of 1000000000000 with 15000000000 escrowed" in err


def test_liquidating_a_healthy_account_exits_1_without_a_transaction(
    env: dict[str, Any],
) -> None:
    code, _, err = chain(env, "liquidate", DESK, *proof_args(env), account=2)
    assert code == 1
    assert "LIQUIDATE" in err and "not < 1" in err and "no proof exists" in err
    code, _, err = chain(env, "liquidate", DESK, "--stale", account=2)
    assert code == 1
    assert "RiskVault__ProofNotStale" in err


def test_after_a_crash_a_keeper_liquidates_with_a_proof(env: dict[str, Any]) -> None:
    for symbol, price in (("WETH", "4000"), ("WBTC", "20000")):
        code, _, err = chain(env, "set-price", symbol, price, account=0)
        assert code == 0, err
    code, out, err = chain(env, "snapshot", "--json", account=2)
    assert code == 0, err
    assert json.loads(out)["prices"][:3] == ["1", "4000", "20000"]
    code, out, err = chain(env, "liquidate", DESK, *proof_args(env), "--json", account=2)
    assert code == 0, err
    done = json.loads(out)
    assert done["path"] == "PROOF" and done["hf_below"] == 0.95  # HF ≈ 0.78: all of it goes
    assert done["repaid"] + done["bonus"] == 15_000 * 10**6 and done["escrow_left"] == 0
    assert float(done["health_factor"]) < 0.95


def test_a_command_without_a_deployment_for_the_chain_exits_2(
    anvil_node: AnvilNode, tmp_path: Path
) -> None:
    code, _, err = run("chain", "status", "--rpc-url", anvil_node.url,
                       "--deployments", str(tmp_path))  # fmt: skip
    assert code == 2
    assert "no deployment for chain 31337" in err


def test_an_unreachable_rpc_url_exits_2() -> None:
    code, _, err = run("chain", "status", "--rpc-url", f"http://127.0.0.1:{free_port()}")
    assert code == 2
    assert "no Ethereum JSON-RPC node answers" in err


def test_the_signer_must_be_given_exactly_once(env: dict[str, Any]) -> None:
    code, _, err = run("chain", "deposit", "1", *env["common"])
    assert code == 2
    assert "exactly one of --private-key" in err


def test_attest_finds_the_vault_in_the_deployment_record_when_not_given(
    env: dict[str, Any],
) -> None:
    code, out, err = run("attest", "--book", str(env["folder"] / "book.toml"), "--account", DESK,
                         "--salt", SALT, "--sequence", "99", "--rpc-url", env["common"][1],
                         "--deployments", env["common"][3],
                         env={"ZKRISK_ATTESTER_KEY": DEV_PRIVATE_KEYS[4]})  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["domain"]["verifyingContract"] == env["deployed"]["RiskVault"]


def test_attesting_another_accounts_book_exits_2(env: dict[str, Any]) -> None:
    code, _, err = run("attest", "--book", str(env["folder"] / "book.toml"), "--account",
                       OWNERS[0], "--salt", SALT, "--sequence", "1", "--rpc-url",
                       env["common"][1], "--deployments", env["common"][3],
                       env={"ZKRISK_ATTESTER_KEY": DEV_PRIVATE_KEYS[4]})  # fmt: skip
    assert code == 2
    assert "attest each account's own reconciled book" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["propose", "set-fees"], "unknown action 'set-fees': use one of set-attester"),
        (["propose", "set-policy", "--set", "min_health=1"], "use FIELD=VALUE with FIELD one of"),
        (["propose", "set-policy", "--set", "min_health_bps=high"], "'high' is not an integer"),
        (["propose", "set-attester"], "set-attester needs --account ADDRESS"),
        (["execute", "unpause"], "no owner keys: set $ZKRISK_OWNER_KEYS"),
    ],
)
def test_govern_with_bad_input_exits_2_naming_the_fix(
    env: dict[str, Any], args: list[str], message: str
) -> None:
    code, _, err = chain(env, "govern", *args)
    assert code == 2
    assert message in " ".join(err.split())


def test_update_book_with_a_file_that_is_not_an_attestation_exits_2(env: dict[str, Any]) -> None:
    (env["folder"] / "junk.json").write_text('{"hello": 1}')
    code, _, err = chain(env, "update-book", str(env["folder"] / "junk.json"), *proof_args(env))
    assert code == 2
    assert "make one with `zkrisk attest`" in " ".join(err.split())
