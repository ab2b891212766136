"""Typed calls to a deployed RiskVault and its PriceBook; every proof-gated call takes a `Proof`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from zkrisk.prover.proof import Proof

from ..statements.binding import Action
from ..statements.health import PUBLIC_SIGNALS
from .client import ChainClient
from .vault_types import AccountState, OnchainSnapshot, VaultPolicy


class ProofMismatch(ValueError):
    """A proof's public signals are not the ones the vault will derive for this call."""


@dataclass(frozen=True)
class VaultClient:
    """One signer's handle on a vault stack. `signed_by` switches the signer (desk, keeper, admin).

    Proof-gated calls first compare the proof's public signals with what the vault derives
    (`RiskVault.publicSignals`) and raise ProofMismatch naming the differing signal, instead of
    spending gas on a certain InvalidProof revert; pass `precheck=False` to send anyway.
    """

    chain: ChainClient
    vault: Contract
    price_book: Contract
    token: Contract

    def signed_by(self, chain: ChainClient) -> VaultClient:
        return replace(self, chain=chain)

    @property
    def address(self) -> str:
        return str(self.vault.address)

    @property
    def account(self) -> str:
        """The signer's address."""
        return str(self.chain.account.address)

    # -------------------------------------------------------------- desk

    def approve(self, amount: int) -> TxReceipt:
        return self.chain.transact(self.token.functions.approve(self.address, amount))

    def deposit(self, amount: int, *, approve: bool = True) -> TxReceipt:
        if approve:
            self.approve(amount)
        return self.chain.transact(self.vault.functions.deposit(amount))

    def commit(self, commitment: int, proof: Proof, *, precheck: bool = True) -> TxReceipt:
        if precheck:
            snapshot_id = self.latest_snapshot_id()
            self._precheck(proof, Action.UPDATE_COMMITMENT, 0, snapshot_id, commitment)
        return self.chain.transact(self.vault.functions.commit(commitment, _words(proof)))

    def update_commitment(
        self, commitment: int, snapshot_id: int, proof: Proof, *, precheck: bool = True
    ) -> TxReceipt:
        if precheck:
            self._precheck(proof, Action.UPDATE_COMMITMENT, 0, snapshot_id, commitment)
        fn = self.vault.functions.updateCommitment(commitment, snapshot_id, _words(proof))
        return self.chain.transact(fn)

    def withdraw(
        self, amount: int, snapshot_id: int, proof: Proof, *, precheck: bool = True
    ) -> TxReceipt:
        if precheck:
            self._precheck(proof, Action.WITHDRAW, amount, snapshot_id, 0)
        fn = self.vault.functions.withdraw(amount, snapshot_id, _words(proof))
        return self.chain.transact(fn)

    # -------------------------------------------------------------- keepers

    def liquidate(
        self, account: str, snapshot_id: int, proof: Proof, *, precheck: bool = True
    ) -> TxReceipt:
        if precheck:
            self._precheck(proof, Action.LIQUIDATE, 0, snapshot_id, 0, account=account)
        fn = self.vault.functions.liquidate(account, snapshot_id, _words(proof))
        return self.chain.transact(fn)

    def liquidate_stale(self, account: str) -> TxReceipt:
        return self.chain.transact(self.vault.functions.liquidateStale(account))

    def take_snapshot(self) -> OnchainSnapshot:
        receipt = self.chain.transact(self.price_book.functions.takeSnapshot())
        (event,) = self.price_book.events.SnapshotTaken().process_receipt(receipt, errors=DISCARD)
        return _snapshot_from_event(event["args"])

    # -------------------------------------------------------------- admin

    def pause(self) -> TxReceipt:
        return self.chain.transact(self.vault.functions.pause())

    def unpause(self) -> TxReceipt:
        return self.chain.transact(self.vault.functions.unpause())

    def set_min_health(self, bps: int) -> TxReceipt:
        return self.chain.transact(self.vault.functions.setMinHealth(bps))

    def set_max_ages(self, max_price_age: int, max_proof_age: int) -> TxReceipt:
        return self.chain.transact(self.vault.functions.setMaxAges(max_price_age, max_proof_age))

    def set_liquidation_terms(
        self, close_factor_bps: int, bonus_bps: int, cooldown: int
    ) -> TxReceipt:
        fn = self.vault.functions.setLiquidationTerms(close_factor_bps, bonus_bps, cooldown)
        return self.chain.transact(fn)

    def set_beneficiary(self, beneficiary: str) -> TxReceipt:
        return self.chain.transact(self.vault.functions.setBeneficiary(beneficiary))

    # -------------------------------------------------------------- views

    def account_state(self, account: str | None = None) -> AccountState:
        raw = self.vault.functions.accountState(account or self.account).call()
        return AccountState(*(int(v) for v in raw))

    def escrow(self, account: str | None = None) -> int:
        return int(self.vault.functions.escrowOf(account or self.account).call())

    def nonce(self, account: str | None = None) -> int:
        return int(self.vault.functions.nonceOf(account or self.account).call())

    def policy(self) -> VaultPolicy:
        return VaultPolicy.from_tuple(self.vault.functions.policy().call())

    def proof_status(self, account: str) -> tuple[bool, int]:
        """(liquidatable without a proof now, latest-snapshot time until which it is not)."""
        stale, deadline = self.vault.functions.proofStatus(account).call()
        return bool(stale), int(deadline)

    def token_decimals(self) -> int:
        return int(self.token.functions.decimals().call())

    def token_balance(self, account: str) -> int:
        return int(self.token.functions.balanceOf(account).call())

    def slots(self) -> int:
        return int(self.price_book.functions.slots().call())

    def latest_snapshot_id(self) -> int:
        return int(self.price_book.functions.latestSnapshotId().call())

    def snapshot(self, snapshot_id: int | None = None) -> OnchainSnapshot:
        """Snapshot `snapshot_id` (default: the latest) with its prices, read from its event."""
        sid = self.latest_snapshot_id() if snapshot_id is None else snapshot_id
        stored = self.price_book.functions.snapshot(sid).call()
        if sid == 0 or int(stored[1]) == 0:
            raise LookupError(f"price book {self.price_book.address} has no snapshot {sid}")
        logs = self.price_book.events.SnapshotTaken().get_logs(
            from_block=0, argument_filters={"snapshotId": sid}
        )
        if not logs:
            raise LookupError(f"no SnapshotTaken event for snapshot {sid}; is the node pruned?")
        snap = _snapshot_from_event(logs[-1]["args"])
        if snap.hash != int(stored[0]):
            raise RuntimeError(f"snapshot {sid}: event hash differs from stored hash")
        return snap

    def public_signals(
        self,
        account: str,
        action: Action,
        amount: int,
        snapshot_id: int,
        commitment: int = 0,
    ) -> tuple[int, ...]:
        """What the vault will verify for this action now (RiskVault.publicSignals)."""
        fn = self.vault.functions.publicSignals(
            account, int(action), amount, snapshot_id, commitment
        )
        return tuple(int(v) for v in self.chain.call(fn))

    def _precheck(
        self,
        proof: Proof,
        action: Action,
        amount: int,
        snapshot_id: int,
        commitment: int,
        *,
        account: str | None = None,
    ) -> None:
        expected = self.public_signals(
            account or self.account, action, amount, snapshot_id, commitment
        )
        check_public_signals(proof.public_signals, expected)


def check_public_signals(got: Sequence[int], expected: Sequence[int]) -> None:
    """Raise ProofMismatch naming every public signal that differs."""
    diffs = [
        f"{name}: proof {g}, vault {e}"
        for name, g, e in zip(PUBLIC_SIGNALS, got, expected, strict=True)
        if g != e
    ]
    if diffs:
        raise ProofMismatch(
            "the proof is not for this call — "
            + "; ".join(diffs)
            + ". Re-read the chain state (nonce, escrow, snapshot) and prove again "
            "(zkrisk.engine.chain.vault_statement.prepare_vault_action)."
        )


def _words(proof: Proof) -> list[int]:
    words, _public = proof.calldata()
    return words


def _snapshot_from_event(args: Any) -> OnchainSnapshot:
    return OnchainSnapshot(
        snapshot_id=int(args["snapshotId"]),
        hash=int(args["hash"]),
        taken_at=int(args["takenAt"]),
        oldest_price_at=int(args["oldestPriceAt"]),
        prices=tuple(int(p) for p in args["prices"]),
        liquidation_thresholds=tuple(int(x) for x in args["liquidationThresholds"]),
    )
