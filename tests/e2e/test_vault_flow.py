"""The whole vault life on a real Anvil node with fresh proofs: deposit → attested book committed
→ withdraw → price crash → keeper liquidation (HF < 0.95: the whole escrow); then commit →
attested update → silence → fail-closed liquidation of the stale slice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from web3.logs import DISCARD

from zkrisk.engine.chain import dev_scenario as ds
from zkrisk.engine.chain.anvil import AnvilNode
from zkrisk.engine.chain.client import TransactionReverted
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
    calm = world.snapshot()

    world.fund_and_deposit(desk, ds.DEPOSIT)
    _proof, sid = world.commit(desk, book)
    assert sid == calm.snapshot_id
    assert desk.book_sequence() == 1 and desk.attester_of() == world.attester.address

    proof, sid = world.prove(Action.WITHDRAW, on=desk, book=book, amount=ds.WITHDRAW)
    desk.withdraw(ds.WITHDRAW, sid, proof)
    assert desk.token_balance(desk.account) == ds.WITHDRAW
    assert desk.escrow() == ds.DEPOSIT - ds.WITHDRAW

    # Healthy at CALM: the engine refuses to build a liquidation statement (no proof exists).
    with pytest.raises(StatementDoesNotHold, match=r"HF = 2\.2\d+ at snapshot 1, not < 1\.0"):
        prepare_vault_action(
            keeper, book=book, assets=ds.ASSETS, salt=world.salt, action=Action.LIQUIDATE
        )

    world.set_prices(ds.CRASH)
    crash = world.snapshot()
    prepared = prepare_vault_action(keeper, book=book, assets=ds.ASSETS, salt=world.salt,
                                    action=Action.LIQUIDATE)  # fmt: skip
    assert prepared.snapshot_id == crash.snapshot_id and prepared.hf_below_bps == 9_500
    escrow = desk.escrow()
    repay = escrow * 10_000 // 10_500
    bonus = repay * 500 // 10_000
    repay = escrow - bonus  # the whole escrow goes (HF < 0.95); rounding to the beneficiary
    receipt = keeper.liquidate(desk.account, prepared.snapshot_id, prepared.proven_margin,
                               prepared.hf_below_bps, prepared.prove(world.artifacts))  # fmt: skip
    (event,) = keeper.vault.events.Liquidated().process_receipt(receipt, errors=DISCARD)
    args = event["args"]
    assert (args["repay"], args["bonus"], args["escrowLeft"]) == (repay, bonus, 0)
    assert (args["path"], args["hfBelowBps"], args["keeper"]) == (0, 9_500, keeper.account)
    assert keeper.owed(BENEFICIARY) == repay  # a pull payment: the beneficiary claims it
    assert keeper.token_balance(BENEFICIARY) == 0
    assert keeper.token_balance(keeper.account) == bonus
    assert desk.escrow() == 0
    # conservation: the vault holds every escrow (one account here) and every unclaimed repay
    assert keeper.token_balance(keeper.address) == desk.escrow() + keeper.owed(BENEFICIARY)


def test_desk_that_updates_then_stops_proving_is_liquidated_without_a_proof(
    world: VaultWorld,
) -> None:
    other = world.other
    world.set_prices(ds.CALM)
    world.snapshot()
    world.fund_and_deposit(other, ds.DEPOSIT)
    world.commit(other)
    world.snapshot()
    receipt_before = other.account_state()
    world.commit(other, ds.rebalanced_book(other.account))
    state = other.account_state()
    assert state.book_sequence == 2 and state.commitment != receipt_before.commitment
    assert 0 < receipt_before.book_issued_at <= state.book_issued_at <= other.chain_time()
    assert other.proof_status(other.account)[0] is False

    world.advance(ds.POLICY.max_proof_age + 1)  # the desk is silent; no snapshot needed
    stale, deadline = other.proof_status(other.account)
    assert stale and deadline < world.now()
    before = world.keeper.token_balance(world.keeper.account)
    escrow = other.escrow()
    receipt = world.keeper.liquidate_stale(other.account)
    (event,) = world.keeper.vault.events.Liquidated().process_receipt(receipt, errors=DISCARD)
    args = event["args"]
    assert args["path"] == 1  # STALE_PROOF
    slice_ = escrow * ds.POLICY.stale_slice_bps // 10_000  # a quarter, not the close factor
    assert slice_ - 1 <= args["repay"] + args["bonus"] <= slice_  # rounding stays in escrow
    assert world.keeper.token_balance(world.keeper.account) - before == args["bonus"] > 0


def test_the_beneficiary_is_owed_the_repay_and_withdraws_it_to_an_address_it_chooses(
    world: VaultWorld,
) -> None:
    admin, keeper, other = world.admin, world.keeper, world.other
    treasury = world.desk.account  # any address of the beneficiary's choosing
    with world.isolated():
        admin.set_beneficiary(admin.account)
        world.set_prices(ds.CALM)
        world.snapshot()
        world.fund_and_deposit(other, ds.DEPOSIT)
        world.commit(other)
        world.advance(ds.POLICY.max_proof_age + 1)
        receipt = keeper.liquidate_stale(other.account)
        (credit,) = keeper.vault.events.OwedCredited().process_receipt(receipt, errors=DISCARD)
        args = credit["args"]
        repay = args["amount"]
        assert (args["payee"], args["account"]) == (admin.account, other.account)
        assert admin.owed() == args["owed"] == repay > 0

        before = admin.token_balance(treasury)
        receipt = admin.withdraw_owed(treasury)
        (claimed,) = admin.vault.events.OwedClaimed().process_receipt(receipt, errors=DISCARD)
        assert (claimed["args"]["to"], claimed["args"]["amount"]) == (treasury, repay)
        assert admin.token_balance(treasury) - before == repay
        assert admin.owed() == 0
        with pytest.raises(TransactionReverted, match="RiskVault__NothingOwed"):
            admin.claim()
