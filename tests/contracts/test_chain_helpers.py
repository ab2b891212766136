"""Chain helpers without a chain: revert decoding, CREATE addresses, deployment records, the
pure statement rule for vault actions."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_abi.abi import encode
from eth_utils.crypto import keccak

from zkrisk.engine.chain import dev_scenario as ds
from zkrisk.engine.chain.deployments import (
    DeployedAsset,
    DeploymentRecord,
    create_address,
    load_deployment,
    save_deployment,
)
from zkrisk.engine.chain.errors import ErrorRegistry
from zkrisk.engine.chain.forge_fixtures import forge_vault_address
from zkrisk.engine.chain.vault import ProofMismatch, check_public_signals
from zkrisk.engine.chain.vault_statement import keeper_margin, vault_health_statement
from zkrisk.engine.statements.binding import Action
from zkrisk.engine.statements.health import HealthMode, HealthStatement

ABI = [
    {"type": "error", "name": "RiskVault__StalePrice", "inputs": [
        {"name": "snapshotId", "type": "uint256"}, {"name": "oldestPriceAt", "type": "uint256"},
        {"name": "maxPriceAge", "type": "uint256"}]},
    {"type": "error", "name": "AccessControlUnauthorizedAccount", "inputs": [
        {"name": "account", "type": "address"}, {"name": "neededRole", "type": "bytes32"}]},
]  # fmt: skip


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def test_custom_error_is_decoded_with_arguments_and_a_hint() -> None:
    data = _selector("RiskVault__StalePrice(uint256,uint256,uint256)") + encode(
        ["uint256"] * 3, [3, 1_700_000_000, 3_600]
    )
    decoded = ErrorRegistry([ABI]).decode("0x" + data.hex())
    assert decoded is not None
    assert (
        str(decoded)
        == "RiskVault__StalePrice(snapshotId=3, oldestPriceAt=1700000000, maxPriceAge=3600)"
    )
    assert "take a new snapshot" in decoded.hint


def test_address_arguments_are_checksummed() -> None:
    account = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    data = _selector("AccessControlUnauthorizedAccount(address,bytes32)") + encode(
        ["address", "bytes32"], [account, b"\x01" * 32]
    )
    decoded = ErrorRegistry([ABI]).decode(data)
    assert decoded is not None and dict(decoded.args)["account"] == account


def test_error_string_panic_and_unknown_reverts_are_readable() -> None:
    registry = ErrorRegistry([ABI])
    error = registry.decode(_selector("Error(string)") + encode(["string"], ["boom"]))
    panic = registry.decode(_selector("Panic(uint256)") + encode(["uint256"], [0x11]))
    unknown = registry.decode(b"\xde\xad\xbe\xef")
    assert str(error) == "Error(message=boom)"
    assert str(panic) == "Panic(code=0x11)"
    assert unknown is not None and unknown.name == "unknown custom error 0xdeadbeef"
    assert registry.decode(None) is None


def test_create_address_matches_forges_deployment() -> None:
    # Observed in forge: vm.prank(0xd3C0De) + new C → these addresses for nonces 0 and 1.
    assert create_address("0x0000000000000000000000000000000000d3C0De", 0) == (
        "0x89dEEab8158149b1254e17Ba8d663396e295976c"
    )
    assert create_address("0x0000000000000000000000000000000000d3C0De", 1) == (
        "0xF9dB8e082D6Cf870AE95eDD3DEd791e4fD0CB040"
    )
    assert forge_vault_address() == "0x89dEEab8158149b1254e17Ba8d663396e295976c"


def test_deployment_record_round_trips_and_a_missing_one_says_how_to_fix(tmp_path: Path) -> None:
    record = DeploymentRecord(
        chain_id=31337, deployer="0x" + "11" * 20, block=9, circuit="health4", dev_ptau=True,
        contracts={"RiskVault": "0x" + "22" * 20},
        assets=(DeployedAsset(slot=0, symbol="USDC", token="0x" + "33" * 20,
                              feed="0x" + "44" * 20, liquidation_threshold_bps=9_000),),
    )  # fmt: skip
    save_deployment(record, tmp_path)
    assert load_deployment(31337, tmp_path) == record
    with pytest.raises(FileNotFoundError, match="deploy first"):
        load_deployment(1, tmp_path)


def _statement(
    action: Action, amount: int = 0, escrow: int = ds.DEPOSIT, **extra: int
) -> HealthStatement:
    return vault_health_statement(
        book=ds.book("0x" + "ab" * 20), assets=ds.ASSETS, slots=4, salt=1, action=action,
        amount=amount, nonce=0, snapshot_id=1, prices=[10**8, 3_000 * 10**8, 60_000 * 10**8, 0],
        escrow=escrow, token_decimals=6, min_health_bps=10_500, chain_id=31337,
        vault="0x" + "cd" * 20, submitter="0x" + "ef" * 20, **extra,
    )  # fmt: skip


def test_vault_statement_uses_the_margin_left_after_a_withdrawal() -> None:
    statement = _statement(Action.WITHDRAW, amount=ds.WITHDRAW)
    assert statement.margin == (ds.DEPOSIT - ds.WITHDRAW) * 100
    assert statement.mode is HealthMode.AT_LEAST


def test_vault_statement_for_liquidation_proves_hf_below_one_at_the_escrow_plus_one_percent() -> (
    None
):
    statement = _statement(Action.LIQUIDATE)
    assert (statement.mode, statement.threshold_bps) == (HealthMode.BELOW, 10_000)
    assert statement.margin == ds.DEPOSIT * 101 // 100 * 100  # QTY: 8 decimals, token 6


def test_keeper_margin_rounds_the_buffer_up() -> None:
    assert keeper_margin(1, 6) == 2 * 100  # 1.01 token units → 2, then QTY
    assert keeper_margin(100, 6) == 101 * 100
    assert keeper_margin(10**10 + 1, 18) == 2  # 18-decimal token: rounded up twice


def test_vault_statement_for_a_deep_liquidation_proves_hf_below_0_95() -> None:
    statement = _statement(Action.LIQUIDATE, hf_below_bps=9_500)
    assert (statement.mode, statement.threshold_bps) == (HealthMode.BELOW, 9_500)


def test_vault_statement_refuses_a_liquidation_threshold_the_vault_does_not_accept() -> None:
    with pytest.raises(ValueError, match=r"HF < 1\.0 or HF < 0\.95"):
        _statement(Action.LIQUIDATE, hf_below_bps=9_000)


def test_vault_statement_refuses_a_proven_margin_below_the_escrow() -> None:
    with pytest.raises(ValueError, match="below the escrow"):
        _statement(Action.LIQUIDATE, proven_margin=ds.DEPOSIT * 100 - 1)


@pytest.mark.parametrize(
    ("action", "amount", "match"),
    [
        (Action.WITHDRAW, ds.DEPOSIT + 1, "withdrawal of"),
        (Action.WITHDRAW, 0, "withdrawal of 0"),
        (Action.LIQUIDATE, 5, "binds amount 0"),
        (Action.ATTEST, 5, "binds amount 0"),
    ],
)
def test_vault_statement_refuses_actions_the_vault_would_refuse(
    action: Action, amount: int, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        _statement(action, amount)


def test_proof_mismatch_names_each_differing_signal() -> None:
    with pytest.raises(ProofMismatch, match=r"margin: proof 2, vault 3; binding: proof 5, vault 6"):
        check_public_signals((1, 1, 2, 4, 5), (1, 1, 3, 4, 6))
    check_public_signals((1, 2, 3, 4, 5), (1, 2, 3, 4, 5))
