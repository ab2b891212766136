"""`zkrisk chain publish-risk-arrays` and `zkrisk chain withdraw --margin-proof` on a real Anvil
node: a vault whose admin (the deployer, no governance) gates withdrawals on Margin4x8's folded
verifier; the publisher folds and publishes a risk-array file, the desk withdraws through the
gate with a fresh PortfolioMargin(4, 8) proof."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eth_utils.crypto import keccak

from tests.conftest import REPO
from zkrisk.engine.chain.anvil import DEV_PRIVATE_KEYS, AnvilNode
from zkrisk.engine.chain.margin_verifier import arrays_contract_name, install_margin_verifier
from zkrisk.engine.chain.solidity import compile_sources
from zkrisk.engine.cli.chain import open_handle
from zkrisk.engine.paths import contracts_src
from zkrisk.engine.risk.margin.scenarios import linear_value, risk_array, span_scenarios
from zkrisk.prover.artifacts import build
from zkrisk.prover.registry import CircuitSpec

from .test_chain import ASSETS, ATTESTER, BOOK, DESK, SALT, run

MARGIN_TOKEN = "USDC"


def risk_array_file(scan: float) -> str:
    """USDC, WETH, WBTC over span_scenarios(steps=1) (8 scenarios: Margin4x8), scan ranges
    `scan` of the price; USDC credited at 0.95 USD."""
    grid = span_scenarios(steps=1)
    rows = {
        "USDC": risk_array(linear_value, 1.0, 0.05, 0.01, 0.0, grid),
        "WETH": risk_array(linear_value, 3_000.0, 0.65, 3_000.0 * scan, 0.05, grid),
        "WBTC": risk_array(linear_value, 60_000.0, 0.55, 60_000.0 * scan, 0.05, grid),
    }
    labels = ", ".join(f'"scenario {k}"' for k in range(len(grid)))
    text = f"scenarios = [{labels}]\n\n[collateral]\n{MARGIN_TOKEN} = 0.95\n"
    for symbol, row in rows.items():
        pnl = ", ".join(f"{v / 10**8:.8f}" for v in row)
        text += f'\n[[instruments]]\nsymbol = "{symbol}"\npnl = [{pnl}]\n'
    return text


@pytest.fixture(scope="module")
def env(
    anvil_node: AnvilNode, tmp_path_factory: pytest.TempPathFactory,
    registry: dict[str, CircuitSpec],
) -> dict[str, Any]:  # fmt: skip
    folder = tmp_path_factory.mktemp("margin-chain")
    (folder / "book.toml").write_text(BOOK)
    (folder / "loose.toml").write_text(risk_array_file(0.05))
    (folder / "strict.toml").write_text(risk_array_file(0.25))
    common = ["--rpc-url", anvil_node.url, "--deployments", str(folder / "deployments")]
    made = {"common": common, "folder": folder}
    code, out, err = run("chain", "deploy", *common, "--dev-account", "0", "--json",
                         "--attester", ATTESTER)  # fmt: skip
    assert code == 0, err
    made["deployed"] = json.loads(out)
    admin = open_handle(anvil_node.url, DEV_PRIVATE_KEYS[0], None, folder / "deployments").client
    admin.set_attester(DESK, ATTESTER)
    assert chain(made, "snapshot", account=0)[0] == 0
    assert chain(made, "deposit", "20000", "--mint")[0] == 0
    args = ["attest", "--book", str(folder / "book.toml"), "--account", DESK, "--salt", SALT,
            "--sequence", "1", "--vault", made["deployed"]["RiskVault"],
            "--rpc-url", anvil_node.url, "--out", str(folder / "att1.json")]  # fmt: skip
    code, _, err = run(*args, env={"ZKRISK_ATTESTER_KEY": DEV_PRIVATE_KEYS[4]})
    assert code == 0, err
    code, _, err = chain(made, "update-book", str(folder / "att1.json"), "--book",
                         str(folder / "book.toml"), "--assets", ASSETS)  # fmt: skip
    assert code == 0, err
    # The admin (the deployer) gates the vault on the folded verifier and names a publisher.
    margin = build(registry["margin4x8"], REPO, log=lambda _line: None)
    unit = install_margin_verifier(margin)
    src = contracts_src()
    compiled = compile_sources({unit: src.parent / unit}, base=src.parent)
    verifier = admin.chain.deploy(compiled[arrays_contract_name(margin)])
    role = keccak(text="RISK_ARRAYS_ROLE")
    admin.chain.transact(admin.vault.functions.grantRole(role, admin.account))
    admin.set_margin_gate(verifier.address, 86_400)
    return made


def chain(env: dict[str, Any], *args: str, account: int = 1) -> tuple[int, str, str]:
    return run("chain", *args, *env["common"], "--dev-account", str(account))


def margin_args(env: dict[str, Any], arrays: str = "loose.toml") -> list[str]:
    folder: Path = env["folder"]
    return ["--book", str(folder / "book.toml"), "--assets", ASSETS,
            "--margin-proof", str(folder / arrays)]  # fmt: skip


def publish(env: dict[str, Any], arrays: str, account: int = 0) -> tuple[int, str, str]:
    return chain(env, "publish-risk-arrays", str(env["folder"] / arrays), "--assets", ASSETS,
                 "--json", account=account)  # fmt: skip


def test_the_publisher_folds_and_publishes_and_the_desk_withdraws_through_the_margin_gate(
    env: dict[str, Any],
) -> None:
    code, out, err = publish(env, "loose.toml")
    assert code == 0, err
    published = json.loads(out)
    assert published["epoch"] == 1 and published["collateral_value"] == 95_000_000
    assert published["fold_gas"] > published["gas"] > 0
    code, out, err = chain(env, "withdraw", "5000", *margin_args(env), "--json")
    assert code == 0, err
    done = json.loads(out)
    assert done["escrow"] == 15_000 * 10**6
    assert done["margin_held"] == 15_000 * 95 * 10**14  # 15,000 USDC at 0.95 USD, VALUE scale
    assert 0 < done["requirement"] <= done["margin_held"]


def test_withdraw_on_margin_with_a_file_not_in_force_exits_1_naming_the_fix(
    env: dict[str, Any],
) -> None:
    code, _, err = chain(env, "withdraw", "1", *margin_args(env, "strict.toml"))
    assert code == 1
    assert "not the set in force" in err


def test_withdraw_on_margin_of_more_than_the_arrays_allow_exits_1_without_a_transaction(
    env: dict[str, Any],
) -> None:
    code, _, err = chain(env, "withdraw", "14000", *margin_args(env))
    assert code == 1
    assert "exceeds the margin held after the withdrawal" in err


def test_a_desk_cannot_publish_risk_arrays(env: dict[str, Any]) -> None:
    code, _, err = publish(env, "strict.toml", account=1)
    assert code == 1
    assert "AccessControlUnauthorizedAccount" in err
