"""Dev-chain helpers shared by the demo, the keeper benchmark and tests: open a desk that has
deposited margin and committed an attested book proven healthy at the latest prices."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from eth_account import Account

from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.backends import ProvingBackend

from ..chain.attestation import SignedAttestation
from ..chain.book_attester import DEV_ATTESTER_KEY, attest_for_vault
from ..chain.client import TransactionReverted
from ..chain.vault import VaultClient
from ..chain.vault_deploy import VaultStack, advance_time
from ..chain.vault_types import OnchainSnapshot
from ..risk.models import Portfolio
from ..statements.binding import Action
from ..statements.commitment import new_salt
from .books import BookFile
from .proving import ProvenAction, prove_action
from .tx import take_snapshot
from .vault_access import CheckedVaultClient, checked


@dataclass(frozen=True)
class OpenedDesk:
    """A desk's signer, its book (with the salt), the attestation and the proven commitment."""

    client: CheckedVaultClient
    book: BookFile
    commit: ProvenAction
    commit_gas: int
    deposit_gas: int
    attestation: SignedAttestation


def snapshot_now(vault: VaultClient) -> OnchainSnapshot:
    """Take a snapshot on a dev chain; when the price book's rate limit refuses it (Anvil mines
    several blocks per second), move Anvil's clock past it and retry."""
    for _ in range(3):
        try:
            return take_snapshot(vault)
        except TransactionReverted as exc:
            if exc.error != "PriceBook__SnapshotTooSoon":
                raise
            advance_time(vault.chain, 1)
    return take_snapshot(vault)


def fund(stack: VaultStack, address: str, wei: int = 10**20) -> None:
    """Give `address` ether on Anvil (anvil_setBalance)."""
    stack.chain.w3.provider.make_request("anvil_setBalance", [address, hex(wei)])  # type: ignore[arg-type]


def attest(
    desk: CheckedVaultClient,
    stack: VaultStack,
    book: BookFile,
    *,
    attester_key: str = DEV_ATTESTER_KEY,
) -> SignedAttestation:
    """The attester signs `book` for `desk`'s vault (the next sequence, the chain's time)."""
    return attest_for_vault(desk, book.portfolio, salt=book.salt,
                            symbols=[a.symbol for a in stack.assets], private_key=attester_key)  # fmt: skip


def commit_book(
    desk: CheckedVaultClient,
    stack: VaultStack,
    book: BookFile,
    artifacts: CircuitArtifacts,
    backend: ProvingBackend,
    *,
    attester_key: str = DEV_ATTESTER_KEY,
) -> tuple[SignedAttestation, ProvenAction, int]:
    """Attester signs, desk proves HF ≥ min health for it and commits it (updateBook); gas."""
    signed = attest(desk, stack, book, attester_key=attester_key)
    proven = prove_action(desk, book, stack.assets, Action.UPDATE_COMMITMENT, artifacts, backend,
                          commitment=signed.attestation.commitment)  # fmt: skip
    receipt = desk.update_book(signed, proven.action.snapshot_id, proven.proof)
    return signed, proven, int(receipt["gasUsed"])


def open_desk(
    stack: VaultStack,
    artifacts: CircuitArtifacts,
    backend: ProvingBackend,
    *,
    portfolio: Portfolio | None = None,
    deposit: int,
    key: str | None = None,
    attester_key: str = DEV_ATTESTER_KEY,
) -> OpenedDesk:
    """Fund a (new) account, register its attester (governance), mint and deposit `deposit`
    margin, snapshot, have the attester sign the book, prove and commit it (updateBook).

    `portfolio` is the desk's book; its account is replaced by the new signer's address.
    """
    signer = key or "0x" + secrets.token_hex(32)
    address = Account.from_key(signer).address
    fund(stack, address)
    stack.set_attester(address, Account.from_key(attester_key).address)
    admin = stack.client()
    admin.chain.transact(stack.margin_token.functions.mint(address, deposit))
    desk = checked(stack.client(admin.chain.with_key(signer)))
    deposit_gas = int(desk.deposit(deposit)["gasUsed"])
    snapshot_now(admin)
    base = portfolio or Portfolio(account=address)
    fields = base.model_dump(exclude={"account"})
    book = BookFile(salt=new_salt(), portfolio=Portfolio(account=address, **fields))
    signed, proven, gas = commit_book(desk, stack, book, artifacts, backend,
                                      attester_key=attester_key)  # fmt: skip
    return OpenedDesk(desk, book, proven, gas, deposit_gas, signed)
