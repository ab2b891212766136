"""A dev vault stack on a real Anvil node, with named actors and helpers to move time and prices."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3 import Web3

from zkrisk.engine.chain import dev_scenario as ds
from zkrisk.engine.chain.anvil import DEV_PRIVATE_KEYS, AnvilNode
from zkrisk.engine.chain.attestation import SignedAttestation
from zkrisk.engine.chain.book_attester import attest_for_vault
from zkrisk.engine.chain.client import ChainClient
from zkrisk.engine.chain.vault import VaultClient
from zkrisk.engine.chain.vault_deploy import VaultStack, deploy_vault_stack
from zkrisk.engine.chain.vault_statement import prepare_vault_action
from zkrisk.engine.chain.vault_types import ListedAsset, OnchainSnapshot
from zkrisk.engine.keeper.devnet import snapshot_now
from zkrisk.engine.risk.models import Portfolio
from zkrisk.engine.statements.binding import Action
from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.proof import Proof

BENEFICIARY = "0x000000000000000000000000000000000000be4E"
# AccountState: (escrow, nonce, times, snapshot id), commitment, (attester, seq, issuedAt)
ACCOUNT_WORDS = 3


def rpc(w3: Web3, method: str, *params: Any) -> Any:
    response = w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    if "error" in response:
        raise RuntimeError(f"{method}: {response['error']}")
    return response["result"]


@dataclass
class VaultWorld:
    """Admin (dev key 0, also guardian), desk (1), keeper (2), other (3) and the book attester
    (4) around one vault stack (no governance: the admin key holds the admin roles)."""

    node: AnvilNode
    artifacts: CircuitArtifacts
    stack: VaultStack
    admin: VaultClient
    desk: VaultClient
    keeper: VaultClient
    other: VaultClient
    salt: int = 0x5A17_7E57
    proofs: dict[str, Proof] = field(default_factory=dict)
    _accounts_slot: int | None = None

    @classmethod
    def deploy(
        cls,
        node: AnvilNode,
        artifacts: CircuitArtifacts,
        *,
        listed: tuple[ListedAsset, ...] | None = None,
        save_to: Path | None = None,
        l2_sequencer: bool = False,
    ) -> VaultWorld:
        chain = ChainClient.connect(node.url, DEV_PRIVATE_KEYS[0])
        stack = deploy_vault_stack(
            chain, artifacts, listed=listed or ds.listed_assets(), policy=ds.POLICY,
            beneficiary=BENEFICIARY, save_to=save_to, l2_sequencer=l2_sequencer,
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
        """New feed rounds, then a second passes (one snapshot per second)."""
        for symbol, price in prices.items():
            self.stack.set_price(symbol, price)
        self.advance(1)

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

    def accounts_slot(self) -> int:
        """RiskVault's storage slot of `_accounts` (found once: the slot whose mapping entry for
        an account with a commitment holds it)."""
        if self._accounts_slot is None:
            probe = self.desk.account
            commitment = self.admin.account_state(probe).commitment
            assert commitment, "accounts_slot needs the desk to have committed a book"
            for slot in range(32):
                word = self.w3.eth.get_storage_at(self.admin.address, account_slot(probe, slot) + 1)  # type: ignore[arg-type]
                if int.from_bytes(word, "big") == commitment:
                    self._accounts_slot = slot
                    break
            else:
                raise RuntimeError("RiskVault's _accounts mapping not found in slots 0-31")
        return self._accounts_slot

    def account_storage(self, account: str, vault: str | None = None) -> list[str]:
        """The raw storage words of `account`'s AccountState (hex)."""
        target = vault or self.admin.address
        base = account_slot(account, self.accounts_slot())
        return [
            "0x" + self.w3.eth.get_storage_at(target, base + i).hex()  # type: ignore[arg-type]
            for i in range(ACCOUNT_WORDS)
        ]

    def set_account_storage(self, account: str, words: list[str], vault: str | None = None) -> None:
        target = vault or self.admin.address
        base = account_slot(account, self.accounts_slot())
        for i, word in enumerate(words):
            rpc(self.w3, "anvil_setStorageAt", target, hex(base + i), word)

    def copy_account_state(self, src: str, dst: str, vault: str | None = None) -> None:
        """Make `dst`'s AccountState (in `vault`, default this world's) equal to `src`'s here, so a
        test can show that a proof fails for another account only because of its binding."""
        self.set_account_storage(dst, self.account_storage(src), vault)

    # ---------------------------------------------------------------- proving

    def book(self, who: VaultClient) -> Portfolio:
        return ds.book(who.account)

    def snapshot(self) -> OnchainSnapshot:
        """A snapshot now (past the price book's one-per-second rate limit)."""
        return snapshot_now(self.admin)

    def attest(self, who: VaultClient, book: Portfolio, *, on: VaultClient | None = None,
               sequence: int | None = None) -> SignedAttestation:  # fmt: skip
        """The attester signs `book` for `who` on `on`'s vault (registered as attester first)."""
        vault = on or self.admin
        admin = vault.signed_by(self.admin.chain)
        if vault.attester_of(who.account) != self.attester.address:
            admin.set_attester(who.account, self.attester.address)
        return attest_for_vault(vault, book, salt=self.salt, symbols=[a.symbol for a in ds.ASSETS],
                                private_key=DEV_PRIVATE_KEYS[4], sequence=sequence)  # fmt: skip

    def commit(self, who: VaultClient, book: Portfolio | None = None) -> tuple[Proof, int]:
        """Attester signs, `who` proves and commits the book (updateBook); (proof, snapshot id)."""
        made = book or self.book(who)
        signed = self.attest(who, made, on=who)
        proof, sid = self.prove(Action.UPDATE_COMMITMENT, on=who, book=made,
                                commitment=signed.attestation.commitment)  # fmt: skip
        who.update_book(signed, sid, proof)
        return proof, sid

    def prove_liquidation(
        self, keeper: VaultClient, book: Portfolio
    ) -> tuple[int, int, int, Proof]:
        """A keeper's liquidation proof of `book`: (snapshot id, proven margin, hfBelowBps, proof),
        the arguments of `liquidate` after the account."""
        prepared = prepare_vault_action(keeper, book=book, assets=ds.ASSETS, salt=self.salt,
                                        action=Action.LIQUIDATE)  # fmt: skip
        return (prepared.snapshot_id, prepared.proven_margin, prepared.hf_below_bps,
                prepared.prove(self.artifacts))  # fmt: skip

    @property
    def attester(self) -> LocalAccount:
        return Account.from_key(DEV_PRIVATE_KEYS[4])

    def prove(
        self,
        action: Action,
        *,
        on: VaultClient,
        book: Portfolio,
        amount: int = 0,
        snapshot_id: int | None = None,
        commitment: int | None = None,
    ) -> tuple[Proof, int]:
        """A fresh proof for `action` on `book.account` against `on`'s vault, bound to `on`'s
        signer; (proof, snapshot id)."""
        prepared = prepare_vault_action(
            on, book=book, assets=ds.ASSETS, salt=self.salt, action=action, amount=amount,
            snapshot_id=snapshot_id, commitment=commitment,
        )  # fmt: skip
        return prepared.prove(self.artifacts), prepared.snapshot_id


def account_slot(account: str, mapping_slot: int) -> int:
    """Storage slot of `_accounts[account]` in RiskVault (`_accounts` at `mapping_slot`)."""
    key = bytes.fromhex(account[2:].rjust(64, "0")) + mapping_slot.to_bytes(32, "big")
    return int.from_bytes(keccak(key), "big")
