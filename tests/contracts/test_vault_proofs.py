"""Proof binding on Anvil with fresh proofs: a withdraw proof is good for exactly one call.

Each replay first meets the client's precheck (ProofMismatch naming what differs), then is sent
anyway and reverts on-chain. Where a test changes one thing (account, chain, vault), everything
else is made equal, so the binding alone is what refuses the proof.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from zkrisk.engine.chain import dev_scenario as ds
from zkrisk.engine.chain.anvil import DEV_PRIVATE_KEYS, anvil
from zkrisk.engine.chain.attestation import sign_attestation
from zkrisk.engine.chain.client import TransactionReverted
from zkrisk.engine.chain.vault import ProofMismatch, VaultClient
from zkrisk.engine.chain.vault_deploy import deploy_vault
from zkrisk.engine.statements.binding import Action
from zkrisk.prover.field import SNARK_SCALAR_FIELD as R
from zkrisk.prover.proof import Proof

from .world import BENEFICIARY, VaultWorld


@dataclass(frozen=True)
class Committed:
    commit_proof: Proof
    withdraw_proof: Proof
    snapshot_id: int


@pytest.fixture(scope="module")
def committed(world: VaultWorld) -> Committed:
    """The desk deposited and committed an attested book with a fresh proof; a withdraw proof is
    ready, unused."""
    world.snapshot()
    world.fund_and_deposit(world.desk, ds.DEPOSIT)
    book = world.book(world.desk)
    proof, sid = world.commit(world.desk, book)
    withdraw, wsid = world.prove(Action.WITHDRAW, on=world.desk, book=book, amount=ds.WITHDRAW)
    assert wsid == sid
    return Committed(proof, withdraw, sid)


def _refused(client: VaultClient, proof: Proof, sid: int, *, differs: set[str]) -> None:
    """Precheck names exactly `differs`; sent anyway, the vault reverts with InvalidProof."""
    with pytest.raises(ProofMismatch) as info:
        client.withdraw(ds.WITHDRAW, sid, proof)
    named = {n for n in ("commitment", "snapshotHash", "margin", "thresholdMode", "binding")
             if f"{n}: proof" in str(info.value)}  # fmt: skip
    assert named == differs
    with pytest.raises(TransactionReverted, match="RiskVault__InvalidProof"):
        client.withdraw(ds.WITHDRAW, sid, proof, precheck=False)


def test_withdraw_with_the_fresh_proof_then_succeeds_once(
    world: VaultWorld, committed: Committed
) -> None:
    with world.isolated():
        world.desk.withdraw(ds.WITHDRAW, committed.snapshot_id, committed.withdraw_proof)
        assert world.desk.escrow() == ds.DEPOSIT - ds.WITHDRAW
        world.fund_and_deposit(world.desk, ds.WITHDRAW)  # same escrow again: only the nonce moved
        _refused(world.desk, committed.withdraw_proof, committed.snapshot_id, differs={"binding"})


def test_withdraw_proof_for_another_account_then_reverts(
    world: VaultWorld, committed: Committed
) -> None:
    with world.isolated():
        world.copy_account_state(world.desk.account, world.other.account)
        assert world.other.account_state() == world.desk.account_state()
        _refused(world.other, committed.withdraw_proof, committed.snapshot_id, differs={"binding"})


def test_withdraw_proof_on_another_vault_then_reverts(
    world: VaultWorld, committed: Committed
) -> None:
    with world.isolated():
        second = deploy_vault(
            world.stack, policy=ds.POLICY, guardian=world.admin.account, beneficiary=BENEFICIARY
        )
        desk2 = VaultClient(world.desk.chain, second, world.desk.price_book, world.desk.token)
        world.mint(desk2, ds.DEPOSIT)
        desk2.deposit(ds.DEPOSIT)
        world.copy_account_state(world.desk.account, desk2.account, vault=desk2.address)
        assert desk2.account_state() == world.desk.account_state()
        _refused(desk2, committed.withdraw_proof, committed.snapshot_id, differs={"binding"})


def test_withdraw_proof_on_another_chain_id_then_reverts(
    world: VaultWorld, committed: Committed
) -> None:
    with anvil(chain_id=31338) as node:
        other = VaultWorld.deploy(node, world.artifacts)
        assert other.desk.address == world.desk.address  # same deployer and nonces: same vault
        other._accounts_slot = world.accounts_slot()  # same contract, same storage layout
        other.snapshot()
        other.fund_and_deposit(other.desk, ds.DEPOSIT)
        state = world.desk.account_state()
        other.set_account_storage(other.desk.account, world.account_storage(world.desk.account))
        assert other.desk.account_state().commitment == state.commitment
        assert other.desk.snapshot(1).hash == world.desk.snapshot(committed.snapshot_id).hash
        _refused(other.desk, committed.withdraw_proof, committed.snapshot_id, differs={"binding"})


def test_withdraw_proof_for_another_snapshot_then_reverts(
    world: VaultWorld, committed: Committed
) -> None:
    with world.isolated():
        later = world.snapshot()  # same prices, new id
        assert later.prices == world.desk.snapshot(committed.snapshot_id).prices
        _refused(world.desk, committed.withdraw_proof, later.snapshot_id,
                 differs={"snapshotHash", "binding"})  # fmt: skip


def test_withdraw_at_a_snapshot_older_than_the_window_then_reverts(
    world: VaultWorld, committed: Committed
) -> None:
    with world.isolated():
        world.advance(ds.POLICY.snapshot_window + 1)  # prices still fresh, snapshot too old
        with pytest.raises(TransactionReverted, match="RiskVault__SnapshotOutsideWindow") as info:
            world.desk.withdraw(ds.WITHDRAW, committed.snapshot_id, committed.withdraw_proof)
        assert "take a new snapshot" in str(info.value)


def test_withdraw_of_another_amount_then_reverts(world: VaultWorld, committed: Committed) -> None:
    with pytest.raises(ProofMismatch, match="margin: proof"):
        world.desk.withdraw(ds.WITHDRAW - 1, committed.snapshot_id, committed.withdraw_proof)
    with pytest.raises(TransactionReverted, match="RiskVault__InvalidProof"):
        world.desk.withdraw(
            ds.WITHDRAW - 1, committed.snapshot_id, committed.withdraw_proof, precheck=False
        )


def test_withdraw_when_price_is_stale_then_reverts(world: VaultWorld, committed: Committed) -> None:
    with world.isolated():
        world.advance(ds.POLICY.max_price_age - 100)  # the feeds' answers age, still valid
        world.snapshot()
        proof, sid = world.prove(Action.WITHDRAW, on=world.desk, book=world.book(world.desk),
                                 amount=ds.WITHDRAW)  # fmt: skip
        world.advance(200)  # snapshot within the window, its oldest price older than maxPriceAge
        with pytest.raises(TransactionReverted, match="RiskVault__StalePrice") as info:
            world.desk.withdraw(ds.WITHDRAW, sid, proof)
        assert "take a new snapshot" in str(info.value)


def test_public_input_plus_r_reverts_for_every_public_input(
    world: VaultWorld, committed: Committed
) -> None:
    """The vault derives four of the five inputs itself; the harness shows the shared field check
    refuses x + r at every index (the raw verifier would return false, never true)."""
    harness = world.admin.chain.deploy(
        world.stack.compiled["HealthVerifierHarness"], world.stack.verifier.address
    )
    words, public = committed.withdraw_proof.calldata()
    harness.functions.verifyTx(words, public).call()  # the real inputs verify
    for index in range(5):
        aliased = list(public)
        aliased[index] += R
        with pytest.raises(TransactionReverted, match="PublicInputNotInField") as info:
            world.admin.chain.call(harness.functions.verifyTx(words, aliased))
        assert info.value.decoded is not None
        assert dict(info.value.decoded.args)["index"] == index
        a, b, c = words[0:2], [words[2:4], words[4:6]], words[6:8]
        assert world.stack.verifier.functions.verifyProof(a, b, c, aliased).call() is False


def test_attested_commitment_plus_r_then_reverts(world: VaultWorld, committed: Committed) -> None:
    signed = world.attest(world.desk, world.book(world.desk))
    aliased = replace(signed.attestation)
    object.__setattr__(aliased, "commitment", aliased.commitment + R)  # past the Python check
    forged = sign_attestation(aliased, world.desk.domain, DEV_PRIVATE_KEYS[4])
    with pytest.raises(TransactionReverted, match="RiskVault__InvalidCommitment"):
        world.other.submit_attested_book(forged)
