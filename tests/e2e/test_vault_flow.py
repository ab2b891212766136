"""The whole vault life on a real Anvil node with fresh proofs: deposit → commit → withdraw →
price crash → keeper liquidation; then commit → update → silence → fail-closed liquidation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from web3.logs import DISCARD

from zkrisk.engine.chain import dev_scenario as ds
from zkrisk.engine.chain.anvil import AnvilNode
from zkrisk.engine.chain.deployments import load_deployment
from zkrisk.engine.chain.vault_statement import StatementDoesNotHold, prepare_vault_action
from zkrisk.engine.statements.binding import Action
from zkrisk.prover.artifacts import CircuitArtifacts

from ..contracts.world import BENEFICIARY, VaultWorld


@pytest.fixture(scope="module")
def deployments(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("deployments")


@pytest.fixture(scope="module")
def world(anvil_node: AnvilNode, health4: CircuitArtifacts, deployments: Path) -> VaultWorld:
    return VaultWorld.deploy(anvil_node, health4, save_to=deployments)


def test_deployment_record_is_written_per_chain_id(world: VaultWorld, deployments: Path) -> None:
    folder = deployments
    record = load_deployment(world.desk.chain.chain_id, folder)
    assert record.contracts["RiskVault"] == world.desk.address
    assert record.contracts["PriceBook"] == world.stack.price_book.address
    assert [a.symbol for a in record.assets] == ["USDC", "WETH", "WBTC"]
    assert record.dev_ptau == world.artifacts.dev_ptau
    assert json.loads((folder / f"{record.chain_id}.json").read_text())["circuit"] == "health4"


def test_full_flow_deposit_commit_withdraw_crash_liquidate(world: VaultWorld) -> None:
    desk, keeper = world.desk, world.keeper
    book = world.book(desk)
    calm = desk.take_snapshot()

    world.fund_and_deposit(desk, ds.DEPOSIT)
    proof, sid = world.prove(Action.UPDATE_COMMITMENT, on=desk, book=book)
    receipt = desk.commit(proof.public_signals[0], proof)
    (committed,) = desk.vault.events.Committed().process_receipt(receipt, errors=DISCARD)
    assert committed["args"]["snapshotId"] == calm.snapshot_id == sid

    proof, sid = world.prove(Action.WITHDRAW, on=desk, book=book, amount=ds.WITHDRAW)
    desk.withdraw(ds.WITHDRAW, sid, proof)
    assert desk.token_balance(desk.account) == ds.WITHDRAW
    assert desk.escrow() == ds.DEPOSIT - ds.WITHDRAW

    # Healthy at CALM: the engine refuses to build a liquidation statement (no proof exists).
    with pytest.raises(StatementDoesNotHold, match=r"HF = 2\.2000 at snapshot 1, not < 1\.0"):
        prepare_vault_action(
            keeper, book=book, assets=ds.ASSETS, salt=world.salt, action=Action.LIQUIDATE
        )

    world.set_prices(ds.CRASH)
    crash = keeper.take_snapshot()
    proof, sid = world.prove(Action.LIQUIDATE, on=keeper, book=book)
    assert sid == crash.snapshot_id
    escrow = desk.escrow()
    repay, bonus = (escrow * 5_000 // 10_000, escrow * 5_000 // 10_000 * 500 // 10_000)
    receipt = keeper.liquidate(desk.account, sid, proof)
    (event,) = keeper.vault.events.Liquidated().process_receipt(receipt, errors=DISCARD)
    args = event["args"]
    assert (args["repaid"], args["bonus"], args["escrow"]) == (repay, bonus, escrow - repay - bonus)
    assert args["path"] == 0  # PROOF
    assert keeper.token_balance(BENEFICIARY) == repay
    assert keeper.token_balance(keeper.account) == bonus
    assert desk.escrow() == escrow - repay - bonus
    assert keeper.token_balance(keeper.address) == desk.escrow()  # conservation: one account


def test_desk_that_updates_then_stops_proving_is_liquidated_without_a_proof(
    world: VaultWorld,
) -> None:
    other = world.other
    world.set_prices(ds.CALM)
    other.take_snapshot()
    world.fund_and_deposit(other, ds.DEPOSIT)
    proof, _sid = world.prove(Action.UPDATE_COMMITMENT, on=other, book=world.book(other))
    other.commit(proof.public_signals[0], proof)
    proof, sid = world.prove(
        Action.UPDATE_COMMITMENT, on=other, book=ds.rebalanced_book(other.account)
    )
    receipt = other.update_commitment(proof.public_signals[0], sid, proof)
    (event,) = other.vault.events.CommitmentUpdated().process_receipt(receipt, errors=DISCARD)
    assert event["args"]["newCommitment"] == other.account_state().commitment
    assert other.proof_status(other.account)[0] is False

    world.advance(ds.POLICY.max_proof_age + 1)
    world.set_prices(ds.CALM)  # feeds alive, desk silent
    world.keeper.take_snapshot()
    stale, deadline = other.proof_status(other.account)
    assert stale and deadline < world.now()
    before = world.keeper.token_balance(world.keeper.account)
    receipt = world.keeper.liquidate_stale(other.account)
    (event,) = world.keeper.vault.events.Liquidated().process_receipt(receipt, errors=DISCARD)
    assert event["args"]["path"] == 1  # STALE_PROOF
    assert world.keeper.token_balance(world.keeper.account) - before == event["args"]["bonus"] > 0
