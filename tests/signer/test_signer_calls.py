"""`POST /v1/sign-call` of a real `zkrisk signer serve` process: a transaction no approval
covers is signed only when a `[[calls]]` rule (or the built-in cancel rule) covers it; every
other one is refused with the reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import encode
from eth_account import Account
from eth_utils.crypto import keccak

from zkrisk.engine.chain.anvil import DEV_PRIVATE_KEYS
from zkrisk.engine.chain.deployments import DeployedAsset, DeploymentRecord, save_deployment
from zkrisk.engine.signer.calls import CallPolicyError, compile_calls
from zkrisk.engine.signer.policy import load_signer_policy

from .calls_support import CallSigner, call_signer, write_calls_setup
from .support import FAKE_VENUE, TRADER, TRADER_KEY

KEEPER_KEY = DEV_PRIVATE_KEYS[2]
KEEPER = Account.from_key(KEEPER_KEY).address
DESK_KEY = DEV_PRIVATE_KEYS[4]
DESK = Account.from_key(DESK_KEY).address
VAULT, BOOK = "0x" + "7a" * 20, "0x" + "7b" * 20
USDC = FAKE_VENUE.tokens["USDC"].address
RECORD = DeploymentRecord(
    chain_id=31337, deployer=KEEPER, block=1, circuit="health4", dev_ptau=True,
    contracts={"RiskVault": VAULT, "PriceBook": BOOK},
    assets=(DeployedAsset(slot=0, symbol="USDC", token=USDC, feed="0x" + "fe" * 20,
                          liquidation_threshold_bps=10_000),),
)  # fmt: skip
"""A made-up vault stack (nothing is sent here): the names the rules use resolve against it."""
RULES: list[dict[str, Any]] = [
    {"wallets": [KEEPER], "contract": "RiskVault", "functions": ["liquidate", "liquidateStale"]},
    {"wallets": [KEEPER], "contract": "PriceBook", "functions": ["takeSnapshot"]},
    {"wallets": [DESK], "contract": "USDC", "functions": ["approve"],
     "args": {"spender": "RiskVault"}},
    {"wallets": [DESK], "contract": "RiskVault", "functions": ["deposit", "withdraw"]},
    {"wallets": [DESK], "contract": "router", "functions": ["swapExactETHForTokens"],
     "max_value_wei": 10**18},
]  # fmt: skip


def call(signature: str, types: list[str], args: list[Any]) -> str:
    return "0x" + (keccak(text=signature)[:4] + encode(types, args)).hex()


APPROVE_VAULT = call("approve(address,uint256)", ["address", "uint256"], [VAULT, 10**6])
DEPOSIT = call("deposit(uint256)", ["uint256"], [10**6])
STALE = call("liquidateStale(address)", ["address"], [DESK])
SWAP_ETH = call("swapExactETHForTokens(uint256,address[],address,uint256)",
                ["uint256", "address[]", "address", "uint256"],
                [1, [FAKE_VENUE.weth, USDC], DESK, 2**40])  # fmt: skip


def tx(to: str, data: str = "0x", **overrides: Any) -> dict[str, Any]:
    body = {"chainId": 31337, "nonce": 0, "to": to, "value": 0, "data": data, "gas": 200_000,
            "maxFeePerGas": 10 * 10**9, "maxPriorityFeePerGas": 10**9}  # fmt: skip
    return body | overrides


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("calls")
    save_deployment(RECORD, path)
    return path


@pytest.fixture(scope="module")
def signer(folder: Path) -> Iterator[CallSigner]:
    stores = write_calls_setup(folder, FAKE_VENUE, [KEEPER_KEY, DESK_KEY, TRADER_KEY], RULES,
                               deployment="31337.json", max_gas=400_000)  # fmt: skip
    with call_signer(folder, stores) as running:
        yield running


def test_a_call_a_rule_covers_is_signed_as_that_transaction_by_its_wallet(
    signer: CallSigner,
) -> None:
    for wallet, body in [(DESK, tx(USDC, APPROVE_VAULT)), (DESK, tx(VAULT, DEPOSIT)),
                         (KEEPER, tx(VAULT, STALE)),
                         (DESK, tx(FAKE_VENUE.router, SWAP_ETH, value=10**18))]:  # fmt: skip
        response = signer.sign_call(wallet, body)
        assert response.status_code == 200, response.text
        signed = response.json()
        assert Account.recover_transaction(signed["raw_transaction"]) == wallet
        assert signed["route"] is None and signed["wallet"] == wallet


@pytest.mark.parametrize(
    ("wallet", "body", "code", "says"),
    [
        (DESK, tx("0x" + "99" * 20, DEPOSIT), "WRONG_CONTRACT", "not 0x9999"),
        (DESK, tx(VAULT, STALE), "WRONG_FUNCTION", "none of ['deposit', 'withdraw']"),
        (DESK, tx(VAULT, call("claim()", [], [])), "WRONG_FUNCTION", "RiskVault"),
        (DESK, tx(USDC, call("approve(address,uint256)", ["address", "uint256"],
                             ["0x" + "66" * 20, 10**6])), "WRONG_ARGUMENT", "spender"),
        (DESK, tx(USDC, call("transfer(address,uint256)", ["address", "uint256"],
                             [KEEPER, 1])), "WRONG_FUNCTION", "['approve']"),
        (DESK, tx(VAULT, DEPOSIT + "00"), "BAD_CALLDATA", "past its arguments"),
        (DESK, tx(VAULT, DEPOSIT + "00" * 32), "BAD_CALLDATA", "canonical deposit"),
        (DESK, tx(VAULT, DEPOSIT[:20]), "BAD_CALLDATA", "does not decode"),
        (DESK, tx(VAULT, DEPOSIT, value=1), "WRONG_VALUE", "at most 0"),
        (DESK, tx(FAKE_VENUE.router, SWAP_ETH, value=10**18 + 1), "WRONG_VALUE", "at most"),
        (DESK, tx(FAKE_VENUE.router, call(
            "swapExactETHForTokens(uint256,address[],address,uint256)",
            ["uint256", "address[]", "address", "uint256"],
            [1, [FAKE_VENUE.weth, USDC], KEEPER, 2**40])), "WRONG_ARGUMENT", "to is"),
        (KEEPER, tx(USDC, APPROVE_VAULT), "WRONG_CONTRACT", "'PriceBook', 'RiskVault'"),
        (TRADER, tx(VAULT, DEPOSIT), "CALL_NOT_ALLOWED", TRADER.lower()),
        ("0x" + "55" * 20, tx(VAULT, DEPOSIT), "WALLET_NOT_ALLOWED", "allowlist"),
        (DESK, tx(VAULT, DEPOSIT, chainId=1), "WRONG_CHAIN", "chain 1"),
        (DESK, tx(VAULT, DEPOSIT, gas=400_001), "GAS_LIMIT", "max_gas"),
        (DESK, tx(VAULT, DEPOSIT, maxFeePerGas=10**15), "GAS_PRICE", "max_fee_per_gas_wei"),
    ],
    ids=["other-contract", "other-function", "function-of-no-rule", "approve-other-spender",
         "transfer", "trailing-byte", "trailing-word", "truncated", "value", "value-over-rule",
         "swap-pays-other", "other-wallets-rule", "trader-no-calls", "unknown-wallet", "chain",
         "gas", "fee"],
)  # fmt: skip
def test_a_call_no_rule_covers_is_refused_with_the_reason(
    signer: CallSigner, wallet: str, body: dict[str, Any], code: str, says: str
) -> None:
    refused, detail = signer.refused(wallet, body)
    assert (refused, says in detail) == (code, True), detail


def test_the_cancel_self_transfer_is_signed_for_every_wallet_the_signer_holds(
    signer: CallSigner,
) -> None:
    for wallet in (TRADER, KEEPER, DESK):
        response = signer.sign_call(wallet, tx(wallet, gas=21_000, nonce=7))
        assert response.status_code == 200, response.text
        assert Account.recover_transaction(response.json()["raw_transaction"]) == wallet


@pytest.mark.parametrize(
    "overrides",
    [{"value": 1}, {"data": "0x00"}, {"gas": 21_001}],
    ids=["value", "data", "gas"],
)
def test_a_self_transfer_that_is_not_a_bare_cancel_is_refused(
    signer: CallSigner, overrides: dict[str, Any]
) -> None:
    body = tx(DESK, gas=21_000) | overrides
    assert signer.refused(DESK, body)[0] == "BAD_CANCEL"


def test_a_call_signed_for_another_wallet_than_asked_is_not_possible(signer: CallSigner) -> None:
    """The wallet is the request's: a desk's rule does not sign for the keeper."""
    assert signer.refused(KEEPER, tx(VAULT, DEPOSIT))[0] == "WRONG_FUNCTION"


def test_every_sign_call_while_halted_is_refused(signer: CallSigner, folder: Path) -> None:
    (folder / "HALTED").write_text("operator")
    try:
        for wallet, body in [(DESK, tx(VAULT, DEPOSIT)), (DESK, tx(DESK, gas=21_000))]:
            code, detail = signer.refused(wallet, body)
            assert code == "HALTED" and "halt file" in detail
    finally:
        (folder / "HALTED").unlink()
    assert signer.sign_call(DESK, tx(VAULT, DEPOSIT)).status_code == 200


def test_calls_count_toward_the_wallets_rate_limit_across_restarts(tmp_path: Path) -> None:
    save_deployment(RECORD, tmp_path)
    stores = write_calls_setup(tmp_path, FAKE_VENUE, [DESK_KEY, KEEPER_KEY], RULES,
                               deployment="31337.json",
                               rate_limit_count=3, rate_limit_seconds=600)  # fmt: skip
    with call_signer(tmp_path, stores) as signer:
        for nonce in range(2):
            assert signer.sign_call(DESK, tx(VAULT, DEPOSIT, nonce=nonce)).status_code == 200
    with call_signer(tmp_path, stores) as signer:
        assert signer.sign_call(DESK, tx(DESK, gas=21_000)).status_code == 200
        code, detail = signer.refused(DESK, tx(VAULT, DEPOSIT, nonce=3))
        assert code == "RATE_LIMITED" and "3 signatures" in detail


def test_broadcast_without_a_route_is_refused_before_signing(signer: CallSigner) -> None:
    response = signer.sign_call(DESK, tx(VAULT, DEPOSIT), broadcast=True)
    assert response.status_code == 403 and response.json()["refused"] == "NO_ROUTE"


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ({"contract": "USDC", "functions": ["approve"]}, "must pin its spender"),
        ({"contract": "RiskVault", "functions": ["nope"]}, "no function 'nope'"),
        ({"contract": "RiskVault", "functions": ["escrowOf"]}, "is a view"),
        ({"contract": "Vault", "functions": ["deposit"]}, "neither a 0x address nor a name"),
        ({"contract": "0x" + "12" * 20, "functions": ["deposit"]}, "ships no ABI"),
        ({"contract": "RiskVault", "functions": ["deposit"], "args": {"amount": "wallet"}},
         "no allowed function has an address input 'amount'"),
    ],
    ids=["approve-unpinned", "no-function", "view", "unknown-name", "address-no-abi",
         "pin-non-address"],
)  # fmt: skip
def test_a_rule_that_cannot_be_enforced_stops_the_signer_at_start(
    tmp_path: Path, rule: dict[str, Any], says: str
) -> None:
    save_deployment(RECORD, tmp_path)
    write_calls_setup(tmp_path, FAKE_VENUE, [], [{"wallets": [DESK], **rule}],
                      deployment="31337.json")  # fmt: skip
    policy, venue = load_signer_policy(tmp_path / "signer.toml")
    with pytest.raises(CallPolicyError, match=says):
        compile_calls(policy, venue)
