"""Vault v2's threat model, end to end on Anvil with real proofs: each test is an attack that the
v1 vault let through (or a liveness failure it had) and that the v2 contracts refuse.

1 a desk swaps in its own (empty) book · 2 snapshot spam makes a healthy desk stale · 4 a dust
deposit stalls a liquidation · 5 a keeper's proof is copied from the mempool · 6 liquidation right
after an oracle outage · 7 one key owns everything / cooldown 0 accepted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from eth_account import Account
from web3.logs import DISCARD

from zkrisk.engine.chain import dev_scenario as ds
from zkrisk.engine.chain.anvil import DEV_PRIVATE_KEYS, AnvilNode, anvil
from zkrisk.engine.chain.attestation import sign_attestation
from zkrisk.engine.chain.client import ChainClient, TransactionReverted
from zkrisk.engine.chain.governance import GovernanceError, calldata, deploy_governance
from zkrisk.engine.chain.safe_tx import SafeTxError
from zkrisk.engine.chain.vault import BookOutOfDate
from zkrisk.engine.chain.vault_deploy import VaultStack, deploy_vault_stack
from zkrisk.engine.chain.vault_statement import prepare_vault_action
from zkrisk.engine.keeper.devnet import snapshot_now
from zkrisk.engine.risk.models import Portfolio
from zkrisk.engine.statements.binding import Action
from zkrisk.engine.statements.book_slots import book_slots
from zkrisk.prover.artifacts import CircuitArtifacts

from ..contracts.world import VaultWorld, rpc


@pytest.fixture
def world(anvil_node: AnvilNode, health4: CircuitArtifacts) -> Iterator[VaultWorld]:
    """A fresh stack per test (each attack moves the clock its own way), desk committed."""
    made = VaultWorld.deploy(anvil_node, health4)
    made.snapshot()
    made.fund_and_deposit(made.desk, ds.DEPOSIT)
    made.commit(made.desk)
    yield made


def _empty_commitment(world: VaultWorld) -> int:
    empty = Portfolio(account=world.desk.account)
    symbols = [a.symbol for a in ds.ASSETS]
    return book_slots(empty, symbols, slots=4, salt=world.salt).commitment()


# ------------------------------------------------------------------ 1: the desk's own book


def test_attack1_desk_swapping_in_its_own_empty_book_is_refused_without_the_attester(
    world: VaultWorld,
) -> None:
    desk = world.desk
    current = desk.account_state()
    own = replace(world.attest(desk, world.book(desk)).attestation,
                  commitment=_empty_commitment(world), sequence=current.book_sequence + 1)  # fmt: skip
    self_signed = sign_attestation(own, desk.domain, DEV_PRIVATE_KEYS[1])  # the desk's key
    empty = Portfolio(account=desk.account)
    prepared = prepare_vault_action(desk, book=empty, assets=ds.ASSETS, salt=world.salt,
                                    action=Action.UPDATE_COMMITMENT, commitment=own.commitment)  # fmt: skip
    proof = prepared.prove(world.artifacts)  # a valid proof: HF = ∞ for an empty book
    with pytest.raises(TransactionReverted, match="RiskVault__InvalidAttestationSignature"):
        desk.update_book(self_signed, prepared.snapshot_id, proof)
    with pytest.raises(TransactionReverted, match="RiskVault__InvalidAttestationSignature"):
        desk.submit_attested_book(self_signed)
    assert desk.account_state().commitment == current.commitment


def test_attack1_a_newer_attested_book_submitted_by_anyone_binds_the_desks_next_proof(
    world: VaultWorld,
) -> None:
    desk = world.desk
    worse = ds.rebalanced_book(desk.account).model_copy(
        update={"positions": (*ds.book(desk.account).positions[:1],
                              ds.book(desk.account).positions[1].model_copy(
                                  update={"quantity": ds.book(desk.account).positions[1].quantity
                                          * 2}))})  # fmt: skip
    signed = world.attest(desk, worse)
    world.keeper.submit_attested_book(signed)  # the attester service / a keeper, not the desk
    assert desk.account_state().commitment == signed.attestation.commitment
    with pytest.raises(BookOutOfDate, match="the attester signed last"):
        world.prove(Action.WITHDRAW, on=desk, book=world.book(desk), amount=ds.WITHDRAW)
    with pytest.raises(TransactionReverted, match="RiskVault__StaleAttestationSequence"):
        world.keeper.submit_attested_book(signed)  # sequences only grow: no replay of it


# ------------------------------------------------------------------ 2: snapshot spam


def test_attack2_snapshot_spam_neither_voids_a_reproof_nor_makes_the_desk_stale(
    world: VaultWorld,
) -> None:
    desk = world.desk
    proof, sid = world.prove(Action.WITHDRAW, on=desk, book=world.book(desk), amount=ds.WITHDRAW)
    first_spam = desk.latest_snapshot_id() + 1
    for _ in range(6):  # a griefer, one snapshot per second
        world.advance(1)
        snapshot_now(world.other)
    assert desk.latest_snapshot_id() == first_spam + 5
    with pytest.raises(TransactionReverted, match="RiskVault__ProofNotStale"):
        world.other.liquidate_stale(desk.account)
    desk.withdraw(ds.WITHDRAW, sid, proof)  # an older snapshot within the window still counts
    assert desk.escrow() == ds.DEPOSIT - ds.WITHDRAW


# ------------------------------------------------------------------ 4: dust deposits


def test_attack4_a_dust_deposit_before_the_keepers_transaction_does_not_stall_it(
    world: VaultWorld,
) -> None:
    desk, keeper = world.desk, world.keeper
    world.set_prices(ds.CRASH)
    world.snapshot()
    prepared = prepare_vault_action(keeper, book=world.book(desk), assets=ds.ASSETS,
                                    salt=world.salt, action=Action.LIQUIDATE)  # fmt: skip
    proof = prepared.prove(world.artifacts)
    world.fund_and_deposit(desk, 1)  # front-run: 1 token unit (v1: margin ≠ escrow → revert)
    receipt = keeper.liquidate(desk.account, prepared.snapshot_id, prepared.proven_margin,
                               prepared.hf_below_bps, proof, precheck=False)  # fmt: skip
    (event,) = keeper.vault.events.Liquidated().process_receipt(receipt, errors=DISCARD)
    assert event["args"]["escrowLeft"] == 0  # HF < 0.95: all of it, dust included


def test_attack4_a_deposit_beyond_the_buffer_voids_the_keepers_proof(world: VaultWorld) -> None:
    desk, keeper = world.desk, world.keeper
    world.set_prices(ds.CRASH)
    world.snapshot()
    prepared = prepare_vault_action(keeper, book=world.book(desk), assets=ds.ASSETS,
                                    salt=world.salt, action=Action.LIQUIDATE)  # fmt: skip
    proof = prepared.prove(world.artifacts)
    world.fund_and_deposit(desk, ds.DEPOSIT // 50)  # +2 %: more than the keeper's 1 % buffer
    with pytest.raises(TransactionReverted, match="RiskVault__MarginBelowEscrow"):
        keeper.liquidate(desk.account, prepared.snapshot_id, prepared.proven_margin,
                         prepared.hf_below_bps, proof, precheck=False)  # fmt: skip


# ------------------------------------------------------------------ 5: mempool copy


def test_attack5_a_keepers_liquidation_copied_from_the_mempool_reverts_for_the_copier(
    world: VaultWorld,
) -> None:
    desk, keeper, thief = world.desk, world.keeper, world.other
    world.set_prices(ds.CRASH)
    world.snapshot()
    prepared = prepare_vault_action(keeper, book=world.book(desk), assets=ds.ASSETS,
                                    salt=world.salt, action=Action.LIQUIDATE)  # fmt: skip
    proof = prepared.prove(world.artifacts)
    fn = keeper.liquidate_call(desk.account, prepared.snapshot_id, prepared.proven_margin,
                               prepared.hf_below_bps, proof)  # fmt: skip
    w3 = keeper.chain.w3
    rpc(w3, "evm_setAutomine", False)
    try:
        raw, sent = _send_raw(keeper.chain, keeper.address, fn._encode_transaction_data())
        seen = w3.eth.get_transaction(sent)  # what a mempool watcher sees
        _, copied = _send_raw(thief.chain, keeper.address, seen["input"])
        rpc(w3, "anvil_dropTransaction", "0x" + bytes(sent).hex())  # the copy is mined first
        rpc(w3, "evm_mine")
    finally:
        rpc(w3, "evm_setAutomine", True)
    copy = w3.eth.get_transaction_receipt(copied)
    assert copy["status"] == 0
    replayed = thief.chain._explain_failure(
        {"from": thief.account, "to": keeper.address, "data": seen["input"]}, copy
    )
    assert replayed.error == "RiskVault__InvalidProof"  # bound to the keeper's address
    assert desk.escrow() == ds.DEPOSIT  # nothing moved
    original = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(raw))
    assert original["status"] == 1  # the keeper's own transaction still works


def _send_raw(chain: ChainClient, to: str, data: Any) -> tuple[bytes, Any]:
    me = chain.account.address
    tx = {"from": me, "to": to, "data": data, "gas": 1_500_000, "chainId": chain.chain_id,
          "nonce": chain.w3.eth.get_transaction_count(me, "pending"),
          "maxFeePerGas": 50 * 10**9, "maxPriorityFeePerGas": 10**9}  # fmt: skip
    raw = bytes(chain.account.sign_transaction(tx).raw_transaction)
    return raw, chain.w3.eth.send_raw_transaction(raw)


# ------------------------------------------------------------------ 6: grace after an outage


def test_attack6_no_liquidation_during_the_grace_period_after_an_oracle_outage(
    world: VaultWorld,
) -> None:
    desk, keeper = world.desk, world.keeper
    liveness = world.stack.price_book.functions.liveness().call()
    outage_gap, oracle_grace = int(liveness[1]), int(liveness[2])
    world.advance(outage_gap + 1)  # no snapshot could be taken for a day
    world.set_prices(ds.CRASH)  # the oracles come back, at crash prices
    snap = world.snapshot()  # … and this snapshot ends the outage
    grace_ends = keeper.grace_ends_at()
    assert grace_ends == snap.taken_at + oracle_grace
    prepared = prepare_vault_action(keeper, book=world.book(desk), assets=ds.ASSETS,
                                    salt=world.salt, action=Action.LIQUIDATE)  # fmt: skip
    proof = prepared.prove(world.artifacts)
    with pytest.raises(TransactionReverted, match="RiskVault__GracePeriod"):
        keeper.liquidate(desk.account, prepared.snapshot_id, prepared.proven_margin,
                         prepared.hf_below_bps, proof)  # fmt: skip
    assert keeper.proof_status(desk.account)[0] is False  # nor stale during the grace
    world.advance(oracle_grace)
    world.set_prices(ds.CRASH)
    world.snapshot()
    prepared = prepare_vault_action(keeper, book=world.book(desk), assets=ds.ASSETS,
                                    salt=world.salt, action=Action.LIQUIDATE)  # fmt: skip
    keeper.liquidate(desk.account, prepared.snapshot_id, prepared.proven_margin,
                     prepared.hf_below_bps, prepared.prove(world.artifacts))  # fmt: skip
    assert desk.escrow() == 0


def test_attack6_no_snapshot_while_the_l2_sequencer_is_down_and_grace_after_it_is_back(
    anvil_node: AnvilNode, health4: CircuitArtifacts
) -> None:
    world = VaultWorld.deploy(anvil_node, health4, l2_sequencer=True)
    sequencer = world.stack.sequencer
    assert sequencer is not None
    grace = int(world.stack.price_book.functions.liveness().call()[4])
    world.advance(grace + 1)  # past the grace that starts with the feed itself
    world.set_prices(ds.CALM)
    world.snapshot()
    world.fund_and_deposit(world.desk, ds.DEPOSIT)
    world.commit(world.desk)
    world.admin.chain.transact(sequencer.functions.setStatus(True))  # the sequencer goes down
    world.set_prices(ds.CRASH)
    with pytest.raises(TransactionReverted, match="PriceBook__SequencerDown"):
        world.keeper.take_snapshot()
    assert world.keeper.grace_ends_at() == 2**64 - 1
    world.admin.chain.transact(sequencer.functions.setStatus(False))  # back up, now
    back_at = world.now()
    snap = world.snapshot()
    assert world.keeper.grace_ends_at() == back_at + grace
    keeper, desk = world.keeper, world.desk
    liquidation = world.prove_liquidation(keeper, world.book(desk))
    assert liquidation[0] == snap.snapshot_id
    with pytest.raises(TransactionReverted, match="RiskVault__GracePeriod"):
        keeper.liquidate(desk.account, *liquidation)
    world.advance(grace)
    world.set_prices(ds.CRASH)
    world.snapshot()
    keeper.liquidate(desk.account, *world.prove_liquidation(keeper, world.book(desk)))
    assert desk.escrow() == 0


# ------------------------------------------------------------------ 7 and governance


@dataclass
class Governed:
    stack: VaultStack
    deployer: ChainClient
    guardian: ChainClient


DELAY = 3_600


@pytest.fixture(scope="module")
def governed(health4: CircuitArtifacts) -> Iterator[Governed]:
    with anvil() as node:
        deployer = ChainClient.connect(node.url, DEV_PRIVATE_KEYS[0])
        owner_keys = [DEV_PRIVATE_KEYS[i] for i in (6, 7, 8)]
        owners = [Account.from_key(k).address for k in owner_keys]
        guardian = deployer.with_key(DEV_PRIVATE_KEYS[5])
        gov = deploy_governance(deployer, owners=owners, threshold=2, min_delay=DELAY)
        stack = deploy_vault_stack(deployer, health4, listed=ds.listed_assets(), policy=ds.POLICY,
                                   governance=gov, owner_keys=owner_keys[:2],
                                   guardian=guardian.account.address)  # fmt: skip
        yield Governed(stack, deployer, guardian)


def _roles(contract: Any, names: tuple[str, ...]) -> list[bytes]:
    return [getattr(contract.functions, n)().call() for n in names]


def test_attack7_the_deployer_keeps_no_role_and_the_timelock_is_the_admin(
    governed: Governed,
) -> None:
    stack, me = governed.stack, governed.deployer.account.address
    assert stack.governance is not None
    timelock, safe = stack.governance.timelock, stack.governance.safe
    vault_roles = _roles(stack.vault, ("DEFAULT_ADMIN_ROLE", "RISK_ADMIN_ROLE", "GUARDIAN_ROLE"))
    book_roles = _roles(stack.price_book, ("DEFAULT_ADMIN_ROLE", "ORACLE_ADMIN_ROLE"))
    timelock_roles = _roles(timelock, ("DEFAULT_ADMIN_ROLE", "PROPOSER_ROLE", "CANCELLER_ROLE",
                                       "EXECUTOR_ROLE"))  # fmt: skip
    for contract, roles in ((stack.vault, vault_roles), (stack.price_book, book_roles),
                            (timelock, timelock_roles)):  # fmt: skip
        assert not any(contract.functions.hasRole(r, me).call() for r in roles)
    assert stack.vault.functions.defaultAdmin().call() == timelock.address
    assert stack.price_book.functions.defaultAdmin().call() == timelock.address
    assert all(timelock.functions.hasRole(r, safe.address).call() for r in timelock_roles[1:])
    with pytest.raises(TransactionReverted, match="AccessControlUnauthorizedAccount"):
        governed.deployer.transact(stack.client().set_policy_call(ds.POLICY))


def test_governance_policy_change_needs_two_owners_and_takes_effect_only_after_the_delay(
    governed: Governed,
) -> None:
    stack = governed.stack
    gov = stack.governance
    assert gov is not None
    vault = stack.client()
    new = replace(ds.POLICY, min_health_bps=11_000)
    target, data = str(stack.vault.address), calldata(vault.set_policy_call(new))
    with pytest.raises(SafeTxError, match="the Safe needs 2"):
        gov.propose(target, data, stack.owner_keys[:1])
    op = gov.propose(target, data, stack.owner_keys)
    assert gov.status(op) == "Waiting"
    with pytest.raises(GovernanceError, match="wait until its delay has passed"):
        gov.execute(target, data, stack.owner_keys)
    assert vault.policy().min_health_bps == ds.POLICY.min_health_bps
    rpc(stack.chain.w3, "evm_increaseTime", DELAY + 1)
    rpc(stack.chain.w3, "evm_mine")
    gov.execute(target, data, stack.owner_keys)
    assert gov.status(op) == "Done" and vault.policy() == new


def test_attack7_a_cooldown_of_zero_is_refused_even_through_governance(
    governed: Governed,
) -> None:
    stack = governed.stack
    gov = stack.governance
    assert gov is not None
    bad = replace(ds.POLICY, liquidation_cooldown=0)
    target, data = str(stack.vault.address), calldata(stack.client().set_policy_call(bad))
    gov.propose(target, data, stack.owner_keys, salt=b"\x07" * 32)
    rpc(stack.chain.w3, "evm_increaseTime", DELAY + 1)
    rpc(stack.chain.w3, "evm_mine")
    with pytest.raises(
        GovernanceError, match=r"RiskVault__InvalidPolicy\(what=liquidationCooldown"
    ):
        gov.exec_from_safe(
            str(gov.timelock.address),
            calldata(gov.timelock.functions.execute(target, 0, data, b"\x00" * 32, b"\x07" * 32)),
            stack.owner_keys,
        )
    assert stack.client().policy().liquidation_cooldown == ds.POLICY.liquidation_cooldown


def test_the_guardian_can_pause_but_neither_unpause_nor_change_the_policy(
    governed: Governed,
) -> None:
    stack = governed.stack
    guardian = stack.client(governed.guardian)
    guardian.pause()
    try:
        with pytest.raises(TransactionReverted, match="AccessControlUnauthorizedAccount"):
            guardian.unpause()
        with pytest.raises(TransactionReverted, match="AccessControlUnauthorizedAccount"):
            guardian.set_policy(ds.POLICY)
    finally:
        stack.govern(stack.vault, stack.vault.functions.unpause())
    assert stack.vault.functions.paused().call() is False


def test_the_safe_tx_hash_built_in_python_equals_the_safes_own(governed: Governed) -> None:
    gov = governed.stack.governance
    assert gov is not None
    tx = gov.safe_tx(str(gov.timelock.address), b"\x12\x34" * 10)
    on_chain = gov.safe.functions.getTransactionHash(*tx.exec_args(b"")[:9], tx.nonce).call()
    assert bytes(on_chain) == tx.hash()


# ------------------------------------------------------------------ 8: a failing primary feed


def test_attack8_a_reverting_primary_feed_falls_back_to_its_secondary_and_desks_prove_more(
    anvil_node: AnvilNode, health4: CircuitArtifacts
) -> None:
    listed = tuple(
        replace(item, secondary_price=item.price) if item.asset.symbol == "WETH" else item
        for item in ds.listed_assets()
    )
    world = VaultWorld.deploy(anvil_node, health4, listed=listed)
    world.snapshot()
    world.fund_and_deposit(world.desk, ds.DEPOSIT)
    world.commit(world.desk)
    primary = world.stack.feeds["WETH"]
    world.admin.chain.transact(primary.functions.setReverts(True))
    world.advance(1)
    snap = world.snapshot()  # one broken feed no longer blocks every snapshot
    assert snap.degraded and snap.prices[1] == 3_000 * 10**8
    proof, sid = world.prove(Action.WITHDRAW, on=world.desk, book=world.book(world.desk),
                             amount=ds.WITHDRAW)  # fmt: skip
    assert sid == snap.snapshot_id and proof.public_signals[3] == ds.POLICY.degraded_min_health_bps
    world.desk.withdraw(ds.WITHDRAW, sid, proof)
    assert world.desk.escrow() == ds.DEPOSIT - ds.WITHDRAW
