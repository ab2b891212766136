"""A margin-gated vault on Anvil: a fresh PortfolioMargin(4, 8) proof withdraws through the
Python client; its precheck names what a proof for another call gets wrong, and the health path
is closed while the gate is on."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from eth_utils.crypto import keccak

from tests.conftest import REPO
from zkrisk.engine.chain import dev_scenario as ds
from zkrisk.engine.chain import margin_forge_fixtures as mf
from zkrisk.engine.chain.client import TransactionReverted
from zkrisk.engine.chain.margin_verifier import (
    arrays_contract_name,
    arrays_key,
    fold_arguments,
    install_margin_verifier,
)
from zkrisk.engine.chain.solidity import compile_sources
from zkrisk.engine.chain.vault import ProofMismatch
from zkrisk.engine.paths import contracts_src
from zkrisk.engine.statements.binding import Action
from zkrisk.engine.statements.book_slots import BookSlots
from zkrisk.engine.statements.commitment import account_to_int
from zkrisk.engine.statements.portfolio_margin import PortfolioMarginStatement
from zkrisk.prover import snarkjs_cli
from zkrisk.prover.artifacts import CircuitArtifacts, build
from zkrisk.prover.proof import Proof
from zkrisk.prover.registry import CircuitSpec

from .world import VaultWorld

COIN = 10**8


@dataclass(frozen=True)
class Gated:
    health_withdraw: Proof
    health_snapshot: int


@pytest.fixture(scope="module")
def margin4x8(registry: dict[str, CircuitSpec]) -> CircuitArtifacts:
    return build(registry[mf.CIRCUIT], REPO, log=lambda _line: None)


@pytest.fixture(scope="module")
def gated(world: VaultWorld, margin4x8: CircuitArtifacts) -> Gated:
    """The desk committed its book; then the admin gated the vault on Margin4x8ArraysVerifier,
    folded the fixtures' loose arrays into it and published them (USDC at 0.95 USD)."""
    world.snapshot()
    world.fund_and_deposit(world.desk, ds.DEPOSIT)
    book = world.book(world.desk)
    world.commit(world.desk, book)
    proof, sid = world.prove(Action.WITHDRAW, on=world.desk, book=book, amount=ds.WITHDRAW)
    unit = install_margin_verifier(margin4x8)
    src = contracts_src()
    compiled = compile_sources({unit: src.parent / unit}, base=src.parent)
    verifier = world.admin.chain.deploy(compiled[arrays_contract_name(margin4x8)])
    role = keccak(text="RISK_ARRAYS_ROLE")
    world.admin.chain.transact(world.admin.vault.functions.grantRole(role, world.admin.account))
    world.admin.set_margin_gate(verifier.address, 86_400)
    loose = PortfolioMarginStatement(
        book=world_book(world), arrays=mf.ARRAYS["loose"], minimums=mf.MINIMUMS, margin_held=0,
        binding=0,
    )  # fmt: skip
    world.admin.fold_risk_arrays(verifier.address, *fold_arguments(margin4x8, loose))
    world.admin.publish_risk_arrays(arrays_key(loose), mf.COLLATERAL_VALUE)
    return Gated(proof, sid)


def world_book(world: VaultWorld) -> BookSlots:
    """ds.book on Health(4)'s slots (USDC, WETH, WBTC, empty): +1.5 WBTC, −12 WETH."""
    return BookSlots(account=account_to_int(world.desk.account), salt=world.salt,
                     long=(0, 0, 3 * COIN // 2, 0), short=(0, 12 * COIN, 0, 0))  # fmt: skip


def _margin_proof(world: VaultWorld, artifacts: CircuitArtifacts, amount: int) -> Proof:
    """The desk's proof for withdrawing `amount` now, from the vault's own public signals."""
    commitment, key, held, binding = world.desk.margin_public_signals(world.desk.account, amount)
    book = world_book(world)
    assert book.commitment() == commitment, "the desk's book layout differs from Health's"
    statement = PortfolioMarginStatement(
        book=book, arrays=mf.ARRAYS["loose"], minimums=mf.MINIMUMS, margin_held=held,
        binding=binding,
    )  # fmt: skip
    assert arrays_key(statement) == key
    return snarkjs_cli.prove(artifacts, statement.signals())


def test_margin_withdraw_with_a_fresh_proof_then_pays_out(
    world: VaultWorld, gated: Gated, margin4x8: CircuitArtifacts
) -> None:
    with world.isolated():
        proof = _margin_proof(world, margin4x8, ds.WITHDRAW)
        world.desk.withdraw_with_margin_proof(ds.WITHDRAW, proof)
        assert world.desk.escrow() == ds.DEPOSIT - ds.WITHDRAW
        assert world.desk.token_balance(world.desk.account) == ds.WITHDRAW


def test_margin_withdraw_for_another_amount_then_the_precheck_names_margin_and_binding(
    world: VaultWorld, gated: Gated, margin4x8: CircuitArtifacts
) -> None:
    with world.isolated():
        proof = _margin_proof(world, margin4x8, ds.WITHDRAW)
        with pytest.raises(ProofMismatch) as info:
            world.desk.withdraw_with_margin_proof(ds.WITHDRAW * 2, proof)
        named = {n for n in ("commitment", "riskArraysKey", "marginHeld", "binding")
                 if f"{n}: proof" in str(info.value)}  # fmt: skip
        assert named == {"marginHeld", "binding"}
        with pytest.raises(TransactionReverted, match="RiskVault__InvalidProof"):
            world.desk.withdraw_with_margin_proof(ds.WITHDRAW * 2, proof, precheck=False)


def test_health_withdraw_on_a_margin_gated_vault_then_reverts(
    world: VaultWorld, gated: Gated
) -> None:
    with world.isolated(), pytest.raises(TransactionReverted, match="RiskVault__MarginGateOn"):
        world.desk.withdraw(ds.WITHDRAW, gated.health_snapshot, gated.health_withdraw,
                            precheck=False)  # fmt: skip
