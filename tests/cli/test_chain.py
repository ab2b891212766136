"""`zkrisk chain …` through Typer's runner against a real Anvil node (one per module)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from zkrisk.engine.chain.anvil import AnvilNode, free_port
from zkrisk.engine.cli import app

ASSETS = str(Path(__file__).resolve().parents[2] / "examples" / "assets.toml")
DESK = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"  # Anvil dev account 1
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


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def env(anvil_node: AnvilNode, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("chain")
    (folder / "book.toml").write_text(BOOK)
    (folder / "wrong-salt.toml").write_text(BOOK.replace("0x1f2e", "0x9999"))
    common = ["--rpc-url", anvil_node.url, "--deployments", str(folder / "deployments")]
    code, out, err = run("chain", "deploy", *common, "--dev-account", "0", "--json")
    assert code == 0, err
    return {"common": common, "deployed": json.loads(out), "folder": folder, "err": err}


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


def test_a_desk_deposits_commits_and_withdraws_with_proofs(env: dict[str, Any]) -> None:
    code, _, err = chain(env, "snapshot", account=0)
    assert code == 0, err
    code, out, err = chain(env, "deposit", "20000", "--mint", "--json")
    assert code == 0, err
    assert json.loads(out)["escrow"] == 20_000 * 10**6
    code, out, err = chain(env, "commit", *proof_args(env), "--json")
    assert code == 0, err
    committed = json.loads(out)
    assert committed["health_factor"] == "2.4500" and committed["gas"] > 0
    code, out, err = chain(env, "withdraw", "5000", *proof_args(env), "--json")
    assert code == 0, err
    assert json.loads(out)["escrow"] == 15_000 * 10**6
    code, out, _ = chain(env, "status", "--json")
    status = json.loads(out)
    assert status["escrow"] == 15_000 * 10**6 and status["nonce"] == 2
    assert status["commitment"] == committed["commitment"]


def test_withdraw_with_a_book_that_does_not_match_the_commitment_exits_1(
    env: dict[str, Any],
) -> None:
    code, _, err = chain(env, "withdraw", "1", *proof_args(env, "wrong-salt.toml"))
    assert code == 1
    assert "the proof is not for this call — commitment" in err


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
    assert done["path"] == "PROOF"
    assert done["repaid"] == 7_500 * 10**6 and done["bonus"] == 375 * 10**6
    assert float(done["health_factor"]) < 1


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
