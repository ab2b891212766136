"""On-chain gas of the vault stack, from MINED transactions on Anvil (receipt gasUsed, never
estimateGas on a view), with fresh Health(4) proofs for the dev scenario.

gas_verify_health is the verifier call alone: HealthVerifierHarness.verifyTx and .baselineTx take
identical calldata and do the same work except the CALL to the verifier, so the difference of the
two mined transactions is that call (cold account access + pairing check).
"""

from __future__ import annotations

from web3.logs import DISCARD

from tests.contracts.world import VaultWorld
from zkrisk.engine.chain import dev_scenario as ds
from zkrisk.engine.chain.anvil import DEV_PRIVATE_KEYS, anvil
from zkrisk.engine.chain.vault import LiquidationItem, VaultClient
from zkrisk.engine.chain.vault_statement import prepare_vault_action
from zkrisk.engine.paths import registry_path, repo_root
from zkrisk.engine.statements.binding import Action
from zkrisk.engine.storm.harness import open_accounts
from zkrisk.prover.artifacts import build
from zkrisk.prover.registry import load_registry

from .common import Metric, metric

BATCH = 10
"""Accounts in the measured liquidateMany."""


def run() -> dict[str, Metric]:
    artifacts = build(load_registry(registry_path())["health4"], repo_root(), log=lambda _l: None)
    gas: dict[str, int] = {}
    with anvil() as node:
        world = VaultWorld.deploy(node, artifacts)
        desk, other, keeper = world.desk, world.other, world.keeper
        world.snapshot()
        world.advance(1)
        again = keeper.chain.transact(world.stack.price_book.functions.takeSnapshot())
        gas["snapshot"] = again["gasUsed"]

        book = world.book(desk)
        world.mint(desk, ds.DEPOSIT)
        desk.approve(ds.DEPOSIT)
        gas["deposit"] = desk.deposit(ds.DEPOSIT, approve=False)["gasUsed"]
        signed = world.attest(desk, book)
        proof, sid = world.prove(Action.UPDATE_COMMITMENT, on=desk, book=book,
                                 commitment=signed.attestation.commitment)  # fmt: skip
        gas["commit"] = desk.update_book(signed, sid, proof)["gasUsed"]
        proof, sid = world.prove(Action.WITHDRAW, on=desk, book=book, amount=ds.WITHDRAW)
        gas["withdraw"] = desk.withdraw(ds.WITHDRAW, sid, proof)["gasUsed"]
        proof, sid = world.prove(Action.ATTEST, on=desk, book=book)
        gas["prove_health"] = desk.prove_health(sid, proof)["gasUsed"]

        harness = world.admin.chain.deploy(
            world.stack.compiled["HealthVerifierHarness"], world.stack.verifier.address
        )
        words, public = proof.calldata()
        verify = world.admin.chain.transact(harness.functions.verifyTx(words, public))["gasUsed"]
        base = world.admin.chain.transact(harness.functions.baselineTx(words, public))["gasUsed"]
        gas["verify"] = verify - base

        world.fund_and_deposit(other, ds.DEPOSIT)
        world.commit(other)
        rebalanced = ds.rebalanced_book(other.account)
        signed = world.attest(other, rebalanced)
        proof, sid = world.prove(Action.UPDATE_COMMITMENT, on=other, book=rebalanced,
                                 commitment=signed.attestation.commitment)  # fmt: skip
        gas["update"] = other.update_book(signed, sid, proof)["gasUsed"]
        newer = world.attest(other, ds.book(other.account))  # the attester's next book
        gas["attested_update"] = keeper.submit_attested_book(newer)["gasUsed"]

        world.set_prices(ds.CRASH)
        world.snapshot()
        liquidation = world.prove_liquidation(keeper, book)
        gas["liquidate_first"] = keeper.liquidate(desk.account, *liquidation)["gasUsed"]
        # Steady state: another unhealthy desk; the keeper now holds the token and the
        # beneficiary is owed the first repay (not claimed yet), as an active keeper and a
        # treasury that claims now and then.
        third = world.admin.signed_by(world.admin.chain.with_key(DEV_PRIVATE_KEYS[5]))
        world.set_prices(ds.CALM)
        world.snapshot()
        world.fund_and_deposit(third, ds.DEPOSIT)
        world.commit(third)
        world.set_prices(ds.CRASH)
        world.snapshot()
        liquidation = world.prove_liquidation(keeper, world.book(third))
        gas["liquidate"] = keeper.liquidate(third.account, *liquidation)["gasUsed"]

        # Before the stale step: its jump in time opens the price book's grace period.
        gas["liquidate_many"] = _liquidate_many(world, keeper, BATCH)

        world.advance(ds.POLICY.max_proof_age + 1)
        gas["liquidate_stale"] = keeper.liquidate_stale(other.account)["gasUsed"]

    mined = "mined tx gasUsed on Anvil"
    singles = BATCH * gas["liquidate"]
    saved = 1 - gas["liquidate_many"] / singles
    return {
        "gas_verify_health": metric(
            gas["verify"], "gas", 1,
            "Health4Verifier call alone: mined harness tx verifyTx − baselineTx (same calldata); "
            "5 public inputs",
        ),
        "gas_liquidate_tx": metric(
            gas["liquidate"], "gas", 1,
            f"RiskVault.liquidate with a keeper proof (HF < 0.95 at escrow × 1.01, bound to the "
            f"keeper; the whole escrow; the bonus pushed, the repay credited to the "
            f"beneficiary's owed), the keeper already holds the token and the beneficiary is "
            f"owed an unclaimed repay; first liquidation (fresh keeper, nothing owed yet): "
            f"{gas['liquidate_first']:,}; {mined}",
        ),
        "gas_liquidate_many_10_tx": metric(
            gas["liquidate_many"], "gas", 1,
            f"RiskVault.liquidateMany of {BATCH} accounts (HF < 0.95, the whole escrow each), "
            f"real keeper proofs, the keeper holds the token and the beneficiary is owed; "
            f"vs {BATCH} × gas_liquidate_tx = {singles:,}: {saved:.0%} less; {mined}",
        ),
        "gas_liquidate_many_per_item": metric(
            gas["liquidate_many"] // BATCH, "gas", 1,
            f"gas_liquidate_many_10_tx / {BATCH} (one liquidation's share of the batch), vs "
            f"gas_liquidate_tx = {gas['liquidate']:,}",
        ),
        "gas_withdraw_tx": metric(
            gas["withdraw"], "gas", 1, f"RiskVault.withdraw with a proof; {mined}"
        ),
        "gas_snapshot_tx": metric(
            gas["snapshot"], "gas", 1,
            f"PriceBook.takeSnapshot, 3 Chainlink-style feeds (decimals read, bounds checked, "
            f"try/catch) + 1 Poseidon(5) (circomlibjs) + storage; {mined}",
        ),
        "gas_deposit_tx": metric(
            gas["deposit"], "gas", 1, f"RiskVault.deposit, first deposit; {mined}"
        ),
        "gas_commit_tx": metric(
            gas["commit"], "gas", 1,
            f"RiskVault.updateBook, first book: attester's EIP-712 signature + a proof; {mined}",
        ),
        "gas_update_commitment_tx": metric(
            gas["update"], "gas", 1,
            f"RiskVault.updateBook, a newer attested book + a proof; {mined}",
        ),
        "gas_attested_update_tx": metric(
            gas["attested_update"], "gas", 1,
            f"RiskVault.submitAttestedBook: a newer attested book, no proof, sent by anyone; "
            f"{mined}",
        ),
        "gas_prove_health_tx": metric(
            gas["prove_health"], "gas", 1,
            f"RiskVault.proveHealth: re-prove the current book (resets the proof clock); {mined}",
        ),
        "gas_liquidate_stale_tx": metric(
            gas["liquidate_stale"], "gas", 1,
            f"RiskVault.liquidateStale (fail closed, no proof; staleSliceBps of the escrow), "
            f"the keeper holds the token, the beneficiary is owed; {mined}",
        ),
    }  # fmt: skip


def _liquidate_many(world: VaultWorld, keeper: VaultClient, n: int) -> int:
    """`n` fresh accounts with attested books (no desk proof), the crash, a proof per account
    bound to `keeper`, then one mined liquidateMany of them all; its gasUsed."""
    world.set_prices(ds.CALM)
    books = open_accounts(world.stack, n)
    world.set_prices(ds.CRASH)
    snapshot_id = world.snapshot().snapshot_id
    items = []
    for book in books:
        action = prepare_vault_action(keeper, book=book.portfolio, assets=ds.ASSETS,
                                      salt=book.salt, action=Action.LIQUIDATE,
                                      snapshot_id=snapshot_id)  # fmt: skip
        items.append(LiquidationItem(
            account=action.account, nonce=action.nonce, commitment=action.statement.commitment(),
            snapshot_id=snapshot_id, proven_margin=action.proven_margin,
            hf_below_bps=action.hf_below_bps, proof=action.prove(world.artifacts),
        ))  # fmt: skip
    receipt = keeper.liquidate_many(items)
    liquidated = world.stack.vault.events.Liquidated().process_receipt(receipt, errors=DISCARD)
    if len(liquidated) != n:  # a skipped item would make the figure meaningless
        raise RuntimeError(f"liquidateMany liquidated {len(liquidated)} of {n} accounts")
    return int(receipt["gasUsed"])
