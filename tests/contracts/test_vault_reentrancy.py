"""A malicious margin token re-enters the vault during a liquidation's payout, on Anvil."""

from __future__ import annotations

from decimal import Decimal

import pytest
from eth_utils.crypto import keccak
from web3.contract import Contract

from zkrisk.engine.chain import dev_scenario as ds
from zkrisk.engine.chain.anvil import DEV_PRIVATE_KEYS, AnvilNode
from zkrisk.engine.chain.client import ChainClient
from zkrisk.engine.chain.vault_deploy import compile_vault_contracts
from zkrisk.engine.chain.vault_types import ListedAsset
from zkrisk.prover.artifacts import CircuitArtifacts

from .world import VaultWorld

REENTRANT_CALL = "0x" + keccak(text="ReentrancyGuardReentrantCall()")[:4].hex()


@pytest.fixture(scope="module")
def evil_world(anvil_node: AnvilNode, health4: CircuitArtifacts) -> tuple[VaultWorld, Contract]:
    chain = ChainClient.connect(anvil_node.url, DEV_PRIVATE_KEYS[0])
    evil = chain.deploy(compile_vault_contracts(health4)["ReentrantToken"], ds.USDC.decimals)
    listed = (
        ListedAsset(asset=ds.USDC, price=Decimal(1), token=evil.address),
        *ds.listed_assets()[1:],
    )
    return VaultWorld.deploy(anvil_node, health4, listed=listed), evil


def test_reentrant_token_cannot_drain_escrow_during_liquidation(
    evil_world: tuple[VaultWorld, Contract],
) -> None:
    world, evil = evil_world
    desk, keeper = world.desk, world.keeper
    assert desk.token.address == evil.address
    world.snapshot()
    world.fund_and_deposit(desk, ds.DEPOSIT)
    world.commit(desk)
    # The re-entry is a second liquidateStale in the same transaction: within the cooldown too,
    # but the reentrancy guard is what refuses it first (its error is the one returned).
    world.advance(ds.POLICY.max_proof_age + 1)
    assert desk.proof_status(desk.account)[0]

    payload = keeper.vault.encode_abi("liquidateStale", args=[desk.account])
    world.admin.chain.transact(evil.functions.arm(keeper.address, keeper.address, payload))
    escrow = desk.escrow()
    repay, bonus, _left = keeper.vault.functions.previewStaleLiquidation(desk.account).call()
    keeper.liquidate_stale(desk.account)

    assert evil.functions.reentryAttempted().call() is True
    assert evil.functions.reentrySucceeded().call() is False
    assert "0x" + evil.functions.reentryReturnData().call().hex() == REENTRANT_CALL
    assert desk.escrow() == escrow - repay - bonus  # seized once
    # The vault holds every escrow (one account here) and the beneficiary's unclaimed repay.
    assert keeper.token_balance(keeper.address) == desk.escrow() + keeper.owed(keeper.beneficiary())
