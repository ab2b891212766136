"""Dev-chain helpers shared by the demo, the keeper benchmark and tests: open a desk that has
deposited margin and committed a book proven healthy at the latest prices."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from eth_account import Account

from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.backends import ProvingBackend

from ..chain.vault_deploy import VaultStack
from ..models import Portfolio
from ..statements.binding import Action
from ..statements.commitment import new_salt
from .books import BookFile
from .proving import ProvenAction, prove_action
from .tx import take_snapshot
from .vault_access import CheckedVaultClient, checked


@dataclass(frozen=True)
class OpenedDesk:
    """A desk's signer, its book (with the salt) and the proven commitment."""

    client: CheckedVaultClient
    book: BookFile
    commit: ProvenAction
    commit_gas: int
    deposit_gas: int


def fund(stack: VaultStack, address: str, wei: int = 10**20) -> None:
    """Give `address` ether on Anvil (anvil_setBalance)."""
    stack.chain.w3.provider.make_request("anvil_setBalance", [address, hex(wei)])  # type: ignore[arg-type]


def open_desk(
    stack: VaultStack,
    artifacts: CircuitArtifacts,
    backend: ProvingBackend,
    *,
    portfolio: Portfolio | None = None,
    deposit: int,
    key: str | None = None,
) -> OpenedDesk:
    """Fund a (new) account, mint and deposit `deposit` margin, snapshot, prove and commit.

    `portfolio` is the desk's book; its account is replaced by the new signer's address.
    """
    signer = key or "0x" + secrets.token_hex(32)
    address = Account.from_key(signer).address
    fund(stack, address)
    admin = stack.client()
    admin.chain.transact(stack.margin_token.functions.mint(address, deposit))
    desk = checked(stack.client(admin.chain.with_key(signer)))
    deposit_gas = int(desk.deposit(deposit)["gasUsed"])
    take_snapshot(admin)
    base = portfolio or Portfolio(account=address)
    fields = base.model_dump(exclude={"account"})
    book = BookFile(salt=new_salt(), portfolio=Portfolio(account=address, **fields))
    proven = prove_action(desk, book, stack.assets, Action.UPDATE_COMMITMENT, artifacts, backend)
    receipt = desk.commit(proven.action.statement.commitment(), proven.proof)
    return OpenedDesk(desk, book, proven, int(receipt["gasUsed"]), deposit_gas)
