"""The keeper and `zkrisk chain` without a key: `--signer URL` signs through a real
`zkrisk signer serve` process whose `[[calls]]` rules cover their transactions, on Anvil."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from typer.testing import CliRunner

from tests.signer.calls_support import CallSigner, call_signer, write_calls_setup
from tests.signer.support import TOKEN
from zkrisk.engine.chain import dev_scenario as scenario
from zkrisk.engine.chain.anvil import DEV_PRIVATE_KEYS, AnvilNode
from zkrisk.engine.chain.client import ChainClient, LocalKeyNeeded
from zkrisk.engine.chain.deployments import save_deployment
from zkrisk.engine.chain.remote_signer import SignerRefused, connect_signer
from zkrisk.engine.chain.uniswap_deploy import TokenRecord, UniswapAddresses
from zkrisk.engine.chain.vault_deploy import VaultStack, advance_time
from zkrisk.engine.cli.main import app
from zkrisk.engine.keeper.books import book_toml
from zkrisk.engine.keeper.vault_access import open_vault

from .conftest import Desks, set_prices

ASSETS = str(Path(__file__).resolve().parents[2] / "examples" / "assets.toml")
KEEPER_KEY, DESK_KEY = DEV_PRIVATE_KEYS[5], DEV_PRIVATE_KEYS[6]
KEEPER, DESK = Account.from_key(KEEPER_KEY).address, Account.from_key(DESK_KEY).address
SNAPSHOTTER_KEY = DEV_PRIVATE_KEYS[7]
SNAPSHOTTER = Account.from_key(SNAPSHOTTER_KEY).address
"""A keeper wallet the signer lets take snapshots but not liquidate."""
RULES: list[dict[str, Any]] = [
    {"wallets": [KEEPER], "contract": "RiskVault", "functions": ["liquidate", "liquidateStale"]},
    {"wallets": [KEEPER, SNAPSHOTTER], "contract": "PriceBook", "functions": ["takeSnapshot"]},
    {"wallets": [DESK], "contract": "USDC", "functions": ["approve"],
     "args": {"spender": "RiskVault"}},
    {"wallets": [DESK], "contract": "RiskVault", "functions": ["deposit"]},
]  # fmt: skip
ENV = {"ZKRISK_SIGNER_TOKEN": TOKEN, "ZKRISK_PRIVATE_KEY": None}


def market(stack: VaultStack) -> UniswapAddresses:
    """The venue file the signer needs, over the vault's own tokens (no pools: no swaps here)."""
    tokens = {a.symbol: TokenRecord(address=str(stack.tokens[a.symbol].address),
                                    decimals=a.decimals) for a in stack.assets}  # fmt: skip
    return UniswapAddresses(chain_id=31337, factory="0x" + "fa" * 20, router="0x" + "a0" * 20,
                            weth=tokens["WETH"].address, tokens=tokens, pairs={})  # fmt: skip


@pytest.fixture(scope="module")
def folder(stack: VaultStack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keeper-signer")
    save_deployment(stack.record(), path / "deployments")
    return path


@pytest.fixture(scope="module")
def signer(folder: Path, stack: VaultStack, anvil_node: AnvilNode) -> Iterator[CallSigner]:
    stores = write_calls_setup(folder, market(stack), [KEEPER_KEY, DESK_KEY, SNAPSHOTTER_KEY], RULES,
                               deployment="deployments/31337.json", public_rpc_url=anvil_node.url,
                               max_gas=2_000_000)  # fmt: skip
    with call_signer(folder, stores) as running:
        yield running


def signed_calls(folder: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(folder / "nonces.sqlite") as db:
        return [(w, h) for w, h in db.execute("SELECT wallet, tx_hash FROM signed_calls")]


def test_the_keeper_liquidates_with_the_signer_process_signing_and_holds_no_key(
    anvil_node: AnvilNode, stack: VaultStack, desks: Desks, signer: CallSigner, folder: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    book = desks.open()
    (tmp_path / "books").mkdir()
    (tmp_path / "books" / "desk.toml").write_text(book_toml(book))
    set_prices(stack, scenario.CRASH)
    result = CliRunner().invoke(app, [
        "keeper", "--rpc-url", anvil_node.url, "--signer", signer.url, "--signer-wallet", KEEPER,
        "--deployments", str(folder / "deployments"), "--books", str(tmp_path / "books"),
        "--assets", ASSETS, "--state-db", str(tmp_path / "keeper.sqlite"),
        "--max-ticks", "2", "--poll-interval", "0.05",
    ], env=ENV)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    events = [json.loads(line) for line in result.stderr.splitlines()]
    assert events[0]["event"] == "started" and events[0]["keeper"] == KEEPER
    (done,) = [e for e in events if e["event"] == "liquidated"]
    assert done["account"].lower() == book.portfolio.account
    receipt = stack.chain.w3.eth.get_transaction_receipt(done["tx"])
    assert receipt["status"] == 1 and receipt["from"] == KEEPER
    assert (KEEPER.lower(), done["tx"]) in signed_calls(folder)


def test_a_liquidation_the_signer_refuses_is_an_alert_with_its_reason_and_nothing_is_sent(
    anvil_node: AnvilNode, stack: VaultStack, desks: Desks, signer: CallSigner, folder: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    book = desks.open()
    (tmp_path / "books").mkdir()
    (tmp_path / "books" / "desk.toml").write_text(book_toml(book))
    set_prices(stack, scenario.CRASH)
    result = CliRunner().invoke(app, [
        "keeper", "--rpc-url", anvil_node.url, "--signer", signer.url,
        "--signer-wallet", SNAPSHOTTER, "--deployments", str(folder / "deployments"),
        "--books", str(tmp_path / "books"), "--assets", ASSETS,
        "--state-db", str(tmp_path / "keeper.sqlite"), "--max-ticks", "1",
    ], env=ENV)  # fmt: skip
    events = [json.loads(line) for line in result.stderr.splitlines()]
    names = [e["event"] for e in events]
    assert "snapshot" in names and "liquidated" not in names, names
    (alert,) = [e for e in events if e["event"] == "alert"]
    assert "the signer refused: WRONG_CONTRACT" in alert["error"]
    assert stack.chain.w3.eth.get_transaction_count(SNAPSHOTTER) == 1  # the snapshot only


def test_a_keeper_signing_through_the_signer_cannot_reach_a_key(
    anvil_node: AnvilNode, signer: CallSigner, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZKRISK_SIGNER_TOKEN", TOKEN)
    chain = ChainClient.connect_signer(anvil_node.url, connect_signer(signer.url, wallet=KEEPER))
    handle = open_vault(chain, folder / "deployments")
    assert handle.client.account == KEEPER
    with pytest.raises(LocalKeyNeeded, match="signs through the signer process"):
        _ = chain.account
    approve = handle.client.token.functions.approve(handle.client.address, 1)
    with pytest.raises(SignerRefused, match="WRONG_CONTRACT: the wallet's"):
        chain.transact(approve)


def test_chain_deposit_with_signer_approves_and_deposits_through_it(
    anvil_node: AnvilNode, stack: VaultStack, signer: CallSigner, folder: Path
) -> None:
    stack.chain.transact(stack.margin_token.functions.mint(DESK, 250 * 10**6))
    result = CliRunner().invoke(app, [
        "chain", "deposit", "250", "--rpc-url", anvil_node.url, "--signer", signer.url,
        "--signer-wallet", DESK, "--deployments", str(folder / "deployments"), "--json",
    ], env=ENV)  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["account"], out["deposited"], out["escrow"]) == (DESK, 250 * 10**6, 250 * 10**6)
    assert [w for w, _ in signed_calls(folder)].count(DESK.lower()) >= 2  # approve, deposit


def test_a_chain_command_the_signer_refuses_exits_1_with_its_reason(
    anvil_node: AnvilNode, stack: VaultStack, signer: CallSigner, folder: Path
) -> None:
    advance_time(stack.chain, 2)  # an earlier test's snapshot in this second would revert it first
    result = CliRunner().invoke(app, [
        "chain", "snapshot", "--rpc-url", anvil_node.url, "--signer", signer.url,
        "--signer-wallet", DESK, "--deployments", str(folder / "deployments"),
    ], env=ENV)  # fmt: skip
    assert result.exit_code == 1
    assert "the signer refused: WRONG_CONTRACT" in result.stderr


@pytest.mark.parametrize(
    ("extra", "env", "says"),
    [
        (["--dev-account", "6"], ENV, "--signer and --private-key / --dev-account exclude"),
        ([], ENV | {"ZKRISK_PRIVATE_KEY": DESK_KEY}, "unset $ZKRISK_PRIVATE_KEY"),
        ([], {"ZKRISK_SIGNER_TOKEN": None, "ZKRISK_PRIVATE_KEY": None},
         "$ZKRISK_SIGNER_TOKEN must hold the signer's bearer token"),
        (["--signer-token-env", "ZKRISK_TEST_OTHER"], ENV | {"ZKRISK_TEST_OTHER": "x" * 20},
         "UNAUTHORIZED"),
    ],
    ids=["dev-account", "key-env", "no-token", "wrong-token"],
)  # fmt: skip
def test_signer_with_a_local_key_or_without_its_token_is_bad_input(
    anvil_node: AnvilNode, signer: CallSigner, folder: Path, extra: list[str],
    env: dict[str, str | None], says: str,
) -> None:  # fmt: skip
    result = CliRunner().invoke(app, [
        "chain", "snapshot", "--rpc-url", anvil_node.url, "--signer", signer.url,
        "--signer-wallet", DESK, "--deployments", str(folder / "deployments"), *extra,
    ], env=env)  # fmt: skip
    assert result.exit_code == 2 and says in result.stderr, result.stderr


def test_the_signer_without_wallet_and_several_held_asks_for_one(
    anvil_node: AnvilNode, signer: CallSigner, folder: Path
) -> None:
    result = CliRunner().invoke(app, [
        "chain", "snapshot", "--rpc-url", anvil_node.url, "--signer", signer.url,
        "--deployments", str(folder / "deployments"),
    ], env=ENV)  # fmt: skip
    assert result.exit_code == 2 and "name one with --signer-wallet" in result.stderr


def test_a_cancel_the_signer_broadcasts_is_mined_and_takes_the_nonce(
    stack: VaultStack, signer: CallSigner
) -> None:
    w3 = stack.chain.w3
    nonce = w3.eth.get_transaction_count(DESK, "pending")
    cancel = {"chainId": 31337, "nonce": nonce, "to": DESK, "value": 0, "data": "0x",
              "gas": 21_000, "maxFeePerGas": 10 * 10**9, "maxPriorityFeePerGas": 10**9}  # fmt: skip
    response = signer.sign_call(DESK, cancel, broadcast=True)
    assert response.status_code == 200, response.text
    assert response.json()["route"] == "public"
    receipt = w3.eth.wait_for_transaction_receipt(response.json()["tx_hash"], timeout=30)
    assert receipt["status"] == 1 and w3.eth.get_transaction_count(DESK) == nonce + 1
