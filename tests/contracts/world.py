"""A dev vault stack on a real Anvil node, with named actors and helpers to move time and prices."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak
from web3 import Web3

from zkrisk.engine.chain import dev_scenario as ds
from zkrisk.engine.chain.anvil import DEV_PRIVATE_KEYS, AnvilNode
from zkrisk.engine.chain.client import ChainClient
from zkrisk.engine.chain.vault import VaultClient
from zkrisk.engine.chain.vault_deploy import VaultStack, deploy_vault_stack
from zkrisk.engine.chain.vault_statement import prepare_vault_action
from zkrisk.engine.chain.vault_types import ListedAsset
from zkrisk.engine.models import Portfolio
from zkrisk.engine.statements.binding import Action
from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.proof import Proof

BENEFICIARY = "0x000000000000000000000000000000000000be4E"
ACCOUNTS_SLOT = 4  # RiskVault storage: mapping(address => AccountState) _accounts (forge inspect)


def rpc(w3: Web3, method: str, *params: Any) -> Any:
    response = w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    if "error" in response:
        raise RuntimeError(f"{method}: {response['error']}")
    return response["result"]


@dataclass
class VaultWorld:
    """Admin (dev key 0, also guardian), desk (1), keeper (2), other (3) around one vault stack."""

    node: AnvilNode
    artifacts: CircuitArtifacts
    stack: VaultStack
    admin: VaultClient
    desk: VaultClient
    keeper: VaultClient
    other: VaultClient
    salt: int = 0x5A17_7E57
    proofs: dict[str, Proof] = field(default_factory=dict)

    @classmethod
    def deploy(
        cls,
        node: AnvilNode,
        artifacts: CircuitArtifacts,
        *,
        listed: tuple[ListedAsset, ...] | None = None,
        save_to: Path | None = None,
    ) -> VaultWorld:
        chain = ChainClient.connect(node.url, DEV_PRIVATE_KEYS[0])
        stack = deploy_vault_stack(
            chain, artifacts, listed=listed or ds.listed_assets(), policy=ds.POLICY,
            price_book_max_age=ds.PRICE_BOOK_MAX_AGE, beneficiary=BENEFICIARY, save_to=save_to,
        )  # fmt: skip
        admin = stack.client()
        desk, keeper, other = (admin.signed_by(chain.with_key(k)) for k in DEV_PRIVATE_KEYS[1:4])
        return cls(node, artifacts, stack, admin, desk, keeper, other)

    @property
    def w3(self) -> Web3:
        return self.admin.chain.w3

    # ---------------------------------------------------------------- time, prices, state

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def advance(self, seconds: int) -> None:
        rpc(self.w3, "evm_increaseTime", seconds)
        rpc(self.w3, "evm_mine")

    def set_prices(self, prices: dict[str, Decimal]) -> None:
        for symbol, price in prices.items():
            self.stack.set_price(symbol, price)

    @contextmanager
    def isolated(self) -> Iterator[None]:
        """Run a block and roll the chain back afterwards (anvil evm_snapshot / evm_revert)."""
        snapshot = rpc(self.w3, "evm_snapshot")
        try:
            yield
        finally:
            rpc(self.w3, "evm_revert", snapshot)

    def mint(self, who: VaultClient, amount: int) -> None:
        self.admin.chain.transact(self.stack.margin_token.functions.mint(who.account, amount))

    def fund_and_deposit(self, who: VaultClient, amount: int) -> None:
        self.mint(who, amount)
        who.deposit(amount)

    def account_storage(self, account: str, vault: str | None = None) -> list[str]:
        """The 2 raw storage words of `account`'s AccountState (hex)."""
        target = vault or self.admin.address
        return [
            "0x" + self.w3.eth.get_storage_at(target, account_slot(account) + i).hex()  # type: ignore[arg-type]
            for i in range(2)
        ]

    def set_account_storage(self, account: str, words: list[str], vault: str | None = None) -> None:
        target = vault or self.admin.address
        for i, word in enumerate(words):
            rpc(self.w3, "anvil_setStorageAt", target, hex(account_slot(account) + i), word)

    def copy_account_state(self, src: str, dst: str, vault: str | None = None) -> None:
        """Make `dst`'s AccountState (in `vault`, default this world's) equal to `src`'s here, so a
        test can show that a proof fails for another account only because of its binding."""
        self.set_account_storage(dst, self.account_storage(src), vault)

    # ---------------------------------------------------------------- proving

    def book(self, who: VaultClient) -> Portfolio:
        return ds.book(who.account)

    def prove(
        self,
        action: Action,
        *,
        on: VaultClient,
        book: Portfolio,
        amount: int = 0,
        snapshot_id: int | None = None,
    ) -> tuple[Proof, int]:
        """A fresh proof for `action` on `book.account` against `on`'s vault; (proof, snapshot id)."""
        prepared = prepare_vault_action(
            on, book=book, assets=ds.ASSETS, salt=self.salt, action=action, amount=amount,
            snapshot_id=snapshot_id,
        )  # fmt: skip
        return prepared.prove(self.artifacts), prepared.snapshot_id


def account_slot(account: str) -> int:
    """Storage slot of `_accounts[account]` in RiskVault."""
    key = bytes.fromhex(account[2:].rjust(64, "0")) + ACCOUNTS_SLOT.to_bytes(32, "big")
    return int.from_bytes(keccak(key), "big")
