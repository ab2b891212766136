"""On-chain gas of the vault stack, from MINED transactions on Anvil (receipt gasUsed, never
estimateGas on a view), with fresh Health(4) proofs for the dev scenario.

gas_verify_health is the verifier call alone: HealthVerifierHarness.verifyTx and .baselineTx take
identical calldata and do the same work except the CALL to the verifier, so the difference of the
two mined transactions is that call (cold account access + pairing check).
"""

from __future__ import annotations

from tests.contracts.world import VaultWorld
from zkrisk.engine.chain import dev_scenario as ds
from zkrisk.engine.chain.anvil import anvil
from zkrisk.engine.paths import registry_path, repo_root
from zkrisk.engine.statements.binding import Action
from zkrisk.prover.artifacts import build
from zkrisk.prover.registry import load_registry

from .common import Metric, metric


def run() -> dict[str, Metric]:
    artifacts = build(load_registry(registry_path())["health4"], repo_root(), log=lambda _l: None)
    gas: dict[str, int] = {}
    with anvil() as node:
        world = VaultWorld.deploy(node, artifacts)
        desk, other, keeper = world.desk, world.other, world.keeper
        keeper.take_snapshot()
        world.advance(1)
        again = keeper.chain.transact(world.stack.price_book.functions.takeSnapshot())
        gas["snapshot"] = again["gasUsed"]

        book = world.book(desk)
        world.mint(desk, ds.DEPOSIT)
        desk.approve(ds.DEPOSIT)
        gas["deposit"] = desk.deposit(ds.DEPOSIT, approve=False)["gasUsed"]
        proof, _ = world.prove(Action.UPDATE_COMMITMENT, on=desk, book=book)
        gas["commit"] = desk.commit(proof.public_signals[0], proof)["gasUsed"]
        proof, sid = world.prove(Action.WITHDRAW, on=desk, book=book, amount=ds.WITHDRAW)
        gas["withdraw"] = desk.withdraw(ds.WITHDRAW, sid, proof)["gasUsed"]

        harness = world.admin.chain.deploy(
            world.stack.compiled["HealthVerifierHarness"], world.stack.verifier.address
        )
        words, public = proof.calldata()
        verify = world.admin.chain.transact(harness.functions.verifyTx(words, public))["gasUsed"]
        base = world.admin.chain.transact(harness.functions.baselineTx(words, public))["gasUsed"]
        gas["verify"] = verify - base

        world.fund_and_deposit(other, ds.DEPOSIT)
        proof, _ = world.prove(Action.UPDATE_COMMITMENT, on=other, book=world.book(other))
        other.commit(proof.public_signals[0], proof)
        rebalanced = ds.rebalanced_book(other.account)
        proof, sid = world.prove(Action.UPDATE_COMMITMENT, on=other, book=rebalanced)
        gas["update"] = other.update_commitment(proof.public_signals[0], sid, proof)["gasUsed"]

        world.set_prices(ds.CRASH)
        keeper.take_snapshot()
        proof, sid = world.prove(Action.LIQUIDATE, on=keeper, book=book)
        gas["liquidate_first"] = keeper.liquidate(desk.account, sid, proof)["gasUsed"]
        # Steady state: after the cooldown, the same (still unhealthy) desk again; beneficiary and
        # keeper now hold the token, as a lender's treasury and an active keeper do.
        world.advance(ds.POLICY.liquidation_cooldown)
        world.set_prices(ds.CRASH)
        keeper.take_snapshot()
        proof, sid = world.prove(Action.LIQUIDATE, on=keeper, book=book)
        gas["liquidate"] = keeper.liquidate(desk.account, sid, proof)["gasUsed"]

        world.advance(ds.POLICY.max_proof_age + 1)
        world.set_prices(ds.CALM)
        keeper.take_snapshot()
        gas["liquidate_stale"] = keeper.liquidate_stale(other.account)["gasUsed"]

    mined = "mined tx gasUsed on Anvil"
    return {
        "gas_verify_health": metric(
            gas["verify"], "gas", 1,
            "Health4Verifier call alone: mined harness tx verifyTx − baselineTx (same calldata); "
            "5 public inputs",
        ),
        "gas_liquidate_tx": metric(
            gas["liquidate"], "gas", 1,
            f"RiskVault.liquidate with a keeper proof (HF < 1), beneficiary and keeper already "
            f"hold the token; first-ever payout to two empty balances: "
            f"{gas['liquidate_first']:,} (two fresh ERC-20 balance slots); {mined}",
        ),
        "gas_withdraw_tx": metric(gas["withdraw"], "gas", 1, f"RiskVault.withdraw with a proof; {mined}"),
        "gas_snapshot_tx": metric(
            gas["snapshot"], "gas", 1,
            f"PriceBook.takeSnapshot, 3 Chainlink-style feeds + 1 Poseidon(5) (circomlibjs) "
            f"+ 2 storage slots; {mined}",
        ),
        "gas_deposit_tx": metric(gas["deposit"], "gas", 1, f"RiskVault.deposit, first deposit; {mined}"),
        "gas_commit_tx": metric(gas["commit"], "gas", 1, f"RiskVault.commit with a proof; {mined}"),
        "gas_update_commitment_tx": metric(
            gas["update"], "gas", 1, f"RiskVault.updateCommitment with a proof; {mined}"
        ),
        "gas_liquidate_stale_tx": metric(
            gas["liquidate_stale"], "gas", 1,
            f"RiskVault.liquidateStale (fail closed, no proof), recipients hold the token; {mined}",
        ),
    }  # fmt: skip
