"""Typed calls to a deployed RiskVault (v2) and its PriceBook; every proof-gated call takes a
`Proof`, every book change a `SignedAttestation` from the account's attester."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from eth_utils.address import to_checksum_address
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from zkrisk.prover.proof import Proof

from ..statements.binding import Action
from ..statements.health import PUBLIC_SIGNALS
from .attestation import AttestationDomain, BookAttestation, SignedAttestation
from .client import ChainClient
from .margin_verifier import FOLDED_VERIFIER_ABI, vault_form
from .margin_verifier import VAULT_PUBLIC_SIGNALS as MARGIN_PUBLIC_SIGNALS
from .vault_types import AccountState, OnchainSnapshot, VaultPolicy


class ProofMismatch(ValueError):
    """A proof's public signals are not the ones the vault will derive for this call."""


class BookOutOfDate(ProofMismatch):
    """The book opens another commitment than the vault's attested one: get the newer book."""


@dataclass(frozen=True)
class LiquidationItem:
    """One liquidateMany item: liquidate's arguments and the account's nonce and commitment the
    proof was made for (the vault skips the item once the account moved on from them)."""

    account: str
    nonce: int
    commitment: int
    snapshot_id: int
    proven_margin: int
    hf_below_bps: int
    proof: Proof

    def as_tuple(self) -> tuple[Any, ...]:
        return (to_checksum_address(self.account), self.nonce, self.commitment, self.snapshot_id,
                self.proven_margin, self.hf_below_bps, _words(self.proof))  # fmt: skip


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
        return str(self.chain.address)

    @property
    def domain(self) -> AttestationDomain:
        """The EIP-712 domain book attestations for this vault are signed in."""
        return AttestationDomain(self.chain.chain_id, self.address)

    # -------------------------------------------------------------- desk

    def approve(self, amount: int) -> TxReceipt:
        return self.chain.transact(self.token.functions.approve(self.address, amount))

    def deposit(self, amount: int, *, approve: bool = True) -> TxReceipt:
        if approve:
            self.approve(amount)
        return self.chain.transact(self.vault.functions.deposit(amount))

    def update_book(
        self, signed: SignedAttestation, snapshot_id: int, proof: Proof, *, precheck: bool = True
    ) -> TxReceipt:
        """Commit a newer attested book with a health proof for it (also the first commit)."""
        att = signed.attestation
        if precheck:
            self._precheck(proof, Action.UPDATE_COMMITMENT, 0, snapshot_id, att.commitment)
        fn = self.vault.functions.updateBook(
            att.as_tuple(), signed.signature, snapshot_id, _words(proof)
        )
        return self.chain.transact(fn)

    def prove_health(self, snapshot_id: int, proof: Proof, *, precheck: bool = True) -> TxReceipt:
        """Re-prove HF ≥ minHealth of the current attested book (resets the proof clock)."""
        if precheck:
            self._precheck(proof, Action.ATTEST, 0, snapshot_id, 0)
        return self.chain.transact(self.vault.functions.proveHealth(snapshot_id, _words(proof)))

    def withdraw(
        self, amount: int, snapshot_id: int, proof: Proof, *, precheck: bool = True
    ) -> TxReceipt:
        if precheck:
            self._precheck(proof, Action.WITHDRAW, amount, snapshot_id, 0)
        fn = self.vault.functions.withdraw(amount, snapshot_id, _words(proof))
        return self.chain.transact(fn)

    def withdraw_with_margin_proof(
        self, amount: int, proof: Proof, *, precheck: bool = True
    ) -> TxReceipt:
        """Withdraw on a margin-gated vault with a PortfolioMargin proof (RiskVault's
        withdrawWithMarginProof): requirement over the arrays in force ≤ the escrow left.
        The precheck compares the proof's signals in the vault's form (its arrays as their key)."""
        if precheck:
            expected = self.margin_public_signals(self.account, amount)
            check_public_signals(vault_form(proof.public_signals), expected, MARGIN_PUBLIC_SIGNALS)
        fn = self.vault.functions.withdrawWithMarginProof(amount, _words(proof))
        return self.chain.transact(fn)

    def margin_public_signals(
        self, account: str, amount: int, *, submitter: str | None = None
    ) -> tuple[int, ...]:
        """[commitment, riskArraysKey, marginHeld, binding] the vault verifies now for
        `account` withdrawing `amount`, sent by `submitter` (default: the signer)."""
        fn = self.vault.functions.marginPublicSignals(
            to_checksum_address(account), amount, to_checksum_address(submitter or self.account)
        )
        return tuple(int(v) for v in self.chain.call(fn))

    # -------------------------------------------------------------- anyone

    def submit_attested_book(self, signed: SignedAttestation) -> TxReceipt:
        """Publish a newer attested book for its account (anyone may; no proof)."""
        fn = self.vault.functions.submitAttestedBook(
            signed.attestation.as_tuple(), signed.signature
        )
        return self.chain.transact(fn)

    # -------------------------------------------------------------- keepers

    def liquidate(
        self,
        account: str,
        snapshot_id: int,
        proven_margin: int,
        hf_below_bps: int,
        proof: Proof,
        *,
        precheck: bool = True,
    ) -> TxReceipt:
        if precheck:
            self._precheck(proof, Action.LIQUIDATE, 0, snapshot_id, 0, account=account,
                           proven_margin=proven_margin, hf_below_bps=hf_below_bps)  # fmt: skip
        fn = self.liquidate_call(account, snapshot_id, proven_margin, hf_below_bps, proof)
        return self.chain.transact(fn)

    def liquidate_call(
        self, account: str, snapshot_id: int, proven_margin: int, hf_below_bps: int, proof: Proof
    ) -> Any:
        """The liquidate() ContractFunction (for senders that sign themselves, the keeper)."""
        return self.vault.functions.liquidate(
            to_checksum_address(account), snapshot_id, proven_margin, hf_below_bps, _words(proof)
        )

    def liquidate_many(self, items: Sequence[LiquidationItem]) -> TxReceipt:
        """liquidateMany: each item checked as by liquidate; a front-run item is skipped."""
        return self.chain.transact(self.liquidate_many_call(items))

    def liquidate_many_call(self, items: Sequence[LiquidationItem]) -> Any:
        """The liquidateMany() ContractFunction (for senders that sign themselves, the keeper)."""
        return self.vault.functions.liquidateMany([item.as_tuple() for item in items])

    def liquidate_stale(self, account: str) -> TxReceipt:
        return self.chain.transact(self.vault.functions.liquidateStale(account))

    # -------------------------------------------------------------- the beneficiary

    def claim(self) -> TxReceipt:
        """Send everything the signer is owed (liquidation repayments) to the signer."""
        return self.chain.transact(self.vault.functions.claim())

    def withdraw_owed(self, to: str) -> TxReceipt:
        """Send everything the signer is owed to `to` (a beneficiary the token blocks)."""
        return self.chain.transact(self.vault.functions.withdrawOwed(to_checksum_address(to)))

    def take_snapshot(self) -> OnchainSnapshot:
        receipt = self.chain.transact(self.price_book.functions.takeSnapshot())
        (event,) = self.price_book.events.SnapshotTaken().process_receipt(receipt, errors=DISCARD)
        return snapshot_from_event(event["args"])

    # -------------------------------------------------------------- admin (the timelock)

    def pause(self) -> TxReceipt:
        return self.chain.transact(self.vault.functions.pause())

    def unpause(self) -> TxReceipt:
        return self.chain.transact(self.vault.functions.unpause())

    def set_policy(self, policy: VaultPolicy) -> TxReceipt:
        return self.chain.transact(self.set_policy_call(policy))

    def set_policy_call(self, policy: VaultPolicy) -> Any:
        return self.vault.functions.setPolicy(policy.abi_tuple(self._policy_components()))

    def set_margin_gate(self, verifier: str, max_risk_arrays_age: int) -> TxReceipt:
        """Gate withdrawals on the PortfolioMargin `verifier` (the zero address: on health)."""
        fn = self.vault.functions.setMarginGate(to_checksum_address(verifier), max_risk_arrays_age)
        return self.chain.transact(fn)

    def publish_risk_arrays(self, arrays_key: int, collateral_value: int) -> TxReceipt:
        """Put risk arrays in force (RISK_ARRAYS_ROLE): `arrays_key` = their key in the gate's
        verifier (fold_risk_arrays first), `collateral_value` = the margin token's USD value
        per unit, PRICE fixed point."""
        fn = self.vault.functions.publishRiskArrays(arrays_key, collateral_value)
        return self.chain.transact(fn)

    def fold_risk_arrays(
        self, verifier: str, entries: Sequence[int], bases: Sequence[int]
    ) -> TxReceipt:
        """Fold risk arrays into the margin `verifier` (anyone may; the entries go on record
        in calldata and are range-checked there): zkrisk.engine.chain.margin_verifier's
        fold_arguments gives (entries, bases)."""
        contract = self.chain.w3.eth.contract(
            address=to_checksum_address(verifier), abi=FOLDED_VERIFIER_ABI
        )
        return self.chain.transact(contract.functions.fold(list(entries), list(bases)))

    def set_beneficiary(self, beneficiary: str) -> TxReceipt:
        """Who is owed later liquidations' repay (what the former one is owed stays its)."""
        fn = self.vault.functions.setBeneficiary(to_checksum_address(beneficiary))
        return self.chain.transact(fn)

    def set_attester(self, account: str, attester: str) -> TxReceipt:
        fn = self.vault.functions.setAttester(
            to_checksum_address(account), to_checksum_address(attester)
        )
        return self.chain.transact(fn)

    # -------------------------------------------------------------- views

    def account_state(self, account: str | None = None) -> AccountState:
        fn = self.vault.functions.accountState(account or self.account)
        return AccountState.from_abi(_outputs(fn.abi)[0]["components"], fn.call())

    def escrow(self, account: str | None = None) -> int:
        return int(self.vault.functions.escrowOf(account or self.account).call())

    def owed(self, payee: str | None = None) -> int:
        """Liquidation repayments credited to `payee` (default: the signer), not yet claimed."""
        return int(self.vault.functions.owed(to_checksum_address(payee or self.account)).call())

    def beneficiary(self) -> str:
        """Who is owed the repay of the next liquidation."""
        return str(self.vault.functions.beneficiary().call())

    def nonce(self, account: str | None = None) -> int:
        return self.account_state(account).nonce

    def policy(self) -> VaultPolicy:
        return VaultPolicy.from_abi(self._policy_components(), self.vault.functions.policy().call())

    def book_sequence(self, account: str | None = None) -> int:
        return int(self.vault.functions.bookSequence(account or self.account).call())

    def attester_of(self, account: str | None = None) -> str:
        return str(self.vault.functions.attesterOf(account or self.account).call())

    def attestation_digest(self, attestation: BookAttestation) -> bytes:
        """The vault's own EIP-712 digest of `attestation` (cross-checks the Python one)."""
        return bytes(self.vault.functions.attestationDigest(attestation.as_tuple()).call())

    def grace_ends_at(self) -> int:
        """End of the grace period after the last oracle / sequencer outage (no liquidations)."""
        return int(self.price_book.functions.graceEndsAt().call())

    def proof_status(self, account: str) -> tuple[bool, int]:
        """(liquidatable without a proof now, time until which it is not)."""
        stale, deadline = self.vault.functions.proofStatus(account).call()
        return bool(stale), int(deadline)

    def chain_time(self) -> int:
        return int(self.chain.w3.eth.get_block("latest")["timestamp"])

    def token_decimals(self) -> int:
        return int(self.token.functions.decimals().call())

    def token_balance(self, account: str) -> int:
        return int(self.token.functions.balanceOf(account).call())

    def slots(self) -> int:
        return int(self.price_book.functions.slots().call())

    def latest_snapshot_id(self) -> int:
        return int(self.price_book.functions.latestSnapshotId().call())

    def snapshot_taken_at(self, snapshot_id: int) -> int:
        """`takenAt` of a snapshot from storage (no event scan; 0 = no such snapshot)."""
        return int(self.price_book.functions.snapshot(snapshot_id).call()[1])

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
        snap = snapshot_from_event(logs[-1]["args"])
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
        *,
        submitter: str | None = None,
        proven_margin: int = 0,
        hf_below_bps: int = 0,
    ) -> tuple[int, ...]:
        """What the vault will verify for this action sent by `submitter` (default: the signer)
        now (RiskVault.publicSignals; arguments passed by the ABI's parameter names)."""
        fn = self.vault.get_function_by_name("publicSignals")
        args = self.public_signals_args(fn.abi, account, action, amount, snapshot_id, commitment,
                                        submitter=submitter, proven_margin=proven_margin,
                                        hf_below_bps=hf_below_bps)  # fmt: skip
        result = self.chain.call(fn(*args))
        return tuple(int(v) for v in result)

    def public_signals_args(
        self,
        abi: Mapping[str, Any],
        account: str,
        action: Action,
        amount: int,
        snapshot_id: int,
        commitment: int = 0,
        *,
        submitter: str | None = None,
        proven_margin: int = 0,
        hf_below_bps: int = 0,
    ) -> list[Any]:
        """publicSignals' arguments in the order of its ABI (`abi`) parameter names."""
        values: dict[str, Any] = {
            "account": to_checksum_address(account), "action": int(action), "amount": amount,
            "snapshotId": snapshot_id, "commitment": commitment,
            "submitter": to_checksum_address(submitter or self.account),
            "provenMargin": proven_margin, "hfBelowBps": hf_below_bps,
        }  # fmt: skip
        names = [str(i["name"]) for i in abi["inputs"]]
        unknown = [n for n in names if n not in values]
        if unknown:
            raise RuntimeError(f"RiskVault.publicSignals takes unknown argument(s) {unknown}")
        return [values[n] for n in names]

    def _policy_components(self) -> Sequence[Mapping[str, Any]]:
        fn = self.vault.get_function_by_name("policy")
        components: Sequence[Mapping[str, Any]] = _outputs(fn.abi)[0]["components"]
        return components

    def _precheck(
        self,
        proof: Proof,
        action: Action,
        amount: int,
        snapshot_id: int,
        commitment: int,
        *,
        account: str | None = None,
        proven_margin: int = 0,
        hf_below_bps: int = 0,
    ) -> None:
        expected = self.public_signals(
            account or self.account, action, amount, snapshot_id, commitment,
            proven_margin=proven_margin, hf_below_bps=hf_below_bps,
        )  # fmt: skip
        check_public_signals(proof.public_signals, expected)


def _outputs(abi: Any) -> list[dict[str, Any]]:
    outputs: list[dict[str, Any]] = abi["outputs"]
    if len(outputs) == 1 and "components" in outputs[0]:
        return outputs
    # A struct returned as separate values (a getter of a public struct variable).
    return [{"components": outputs}]


def check_public_signals(
    got: Sequence[int], expected: Sequence[int], names: Sequence[str] = PUBLIC_SIGNALS
) -> None:
    """Raise ProofMismatch (BookOutOfDate when the commitment differs) naming every public
    signal that differs (`names`: Health's by default, or PortfolioMargin's)."""
    diffs = [
        f"{name}: proof {g}, vault {e}"
        for name, g, e in zip(names, got, expected, strict=True)
        if g != e
    ]
    if diffs:
        kind = BookOutOfDate if got[0] != expected[0] else ProofMismatch
        raise kind(
            "the proof is not for this call — "
            + "; ".join(diffs)
            + ". Re-read the chain state (attested book, nonce, escrow, snapshot) and prove again "
            "(zkrisk.engine.chain.vault_statement.prepare_vault_action)."
        )


def _words(proof: Proof) -> list[int]:
    words, _public = proof.calldata()
    return words


def snapshot_from_event(args: Any) -> OnchainSnapshot:
    return OnchainSnapshot(
        snapshot_id=int(args["snapshotId"]),
        hash=int(args["hash"]),
        taken_at=int(args["takenAt"]),
        oldest_price_at=int(args["oldestPriceAt"]),
        prices=tuple(int(p) for p in args["prices"]),
        liquidation_thresholds=tuple(int(x) for x in args["liquidationThresholds"]),
        degraded=bool(args.get("degraded", False)),
    )
