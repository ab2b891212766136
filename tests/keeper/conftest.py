"""Keeper fixtures: one vault stack per module on the module's Anvil node, desks opened per test."""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3.contract.contract import ContractFunction

from zkrisk.engine.chain import dev_scenario as scenario
from zkrisk.engine.chain.anvil import DEV_PRIVATE_KEYS
from zkrisk.engine.chain.book_attester import DEV_ATTESTER_KEY
from zkrisk.engine.chain.client import ChainClient
from zkrisk.engine.chain.deployments import save_deployment
from zkrisk.engine.chain.vault_deploy import VaultStack, advance_time, deploy_vault_stack
from zkrisk.engine.keeper.books import BookFile
from zkrisk.engine.keeper.devnet import commit_book, snapshot_now
from zkrisk.engine.keeper.factory import build_keeper
from zkrisk.engine.keeper.keeper import Keeper, KeeperSettings
from zkrisk.engine.keeper.logs import JsonLog
from zkrisk.engine.keeper.vault_access import VaultHandle, checked, handle_from_stack, open_vault
from zkrisk.engine.risk.models import Portfolio, Position
from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.backends import ProvingBackend, create_backend

KEEPER_KEY = DEV_PRIVATE_KEYS[2]

SnapshotCall = tuple[ChainClient, ContractFunction]


@pytest.fixture(scope="module")
def stack(chain: ChainClient, health4: CircuitArtifacts) -> VaultStack:
    return deploy_vault_stack(chain, health4, listed=scenario.listed_assets(),
                              policy=scenario.POLICY)  # fmt: skip


@pytest.fixture(scope="module")
def backend() -> Iterator[ProvingBackend]:
    with create_backend("best") as made:
        yield made


def set_prices(stack: VaultStack, prices: dict[str, Decimal]) -> None:
    """New feed rounds, then one second passes (Anvil mines many blocks per second; the price
    book allows one snapshot per second)."""
    for symbol, price in prices.items():
        stack.set_price(symbol, price)
    advance_time(stack.chain, 1)


@dataclass
class Desks:
    """Opens desks: a fresh funded account that deposits and commits a book at CALM prices."""

    stack: VaultStack
    backend: ProvingBackend

    def open(self, positions: tuple[Position, ...] | None = None) -> BookFile:
        set_prices(self.stack, scenario.CALM)
        key = "0x" + secrets.token_hex(32)
        address = Account.from_key(key).address
        w3 = self.stack.chain.w3
        w3.provider.make_request("anvil_setBalance", [address, hex(10**20)])  # type: ignore[arg-type]
        admin = self.stack.client()
        admin.chain.transact(self.stack.margin_token.functions.mint(address, scenario.DEPOSIT))
        desk = checked(self.stack.client(admin.chain.with_key(key)))
        desk.deposit(scenario.DEPOSIT)
        self.stack.set_attester(address, Account.from_key(DEV_ATTESTER_KEY).address)
        snapshot_now(admin)
        book = scenario.book(address)
        if positions is not None:
            book = Portfolio(account=address, positions=positions)
        made = BookFile(salt=secrets.randbits(200), portfolio=book)
        commit_book(desk, self.stack, made, self.stack_artifacts, self.backend)
        return made

    @property
    def stack_artifacts(self) -> CircuitArtifacts:
        from zkrisk.engine.keeper.vault_access import circuit_artifacts

        return circuit_artifacts(self.stack.circuit)


@pytest.fixture
def desks(stack: VaultStack, backend: ProvingBackend) -> Desks:
    return Desks(stack, backend)


@pytest.fixture
def keeper_handle(stack: VaultStack) -> VaultHandle:
    return handle_from_stack(stack, stack.chain.with_key(KEEPER_KEY))


@pytest.fixture
def snapshot_call(stack: VaultStack, keeper_handle: VaultHandle) -> SnapshotCall:
    """The keeper's chain and a PriceBook.takeSnapshot() it may send now: two seconds after the
    last snapshot (the price book allows one a second)."""
    advance_time(stack.chain, 2)
    return keeper_handle.client.chain, keeper_handle.client.price_book.functions.takeSnapshot()


@dataclass
class Logged:
    stream: io.StringIO

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]

    def names(self) -> list[str]:
        return [e["event"] for e in self.events()]


def make_keeper(
    handle: VaultHandle,
    books: list[BookFile],
    backend: ProvingBackend,
    db: Path,
    **settings: Any,
) -> tuple[Keeper, Logged]:
    stream = io.StringIO()
    keeper = build_keeper(handle, books, scenario.ASSETS, backend, db, log=JsonLog(stream),
                          settings=KeeperSettings(**settings))  # fmt: skip
    return keeper, Logged(stream)


def handle_via(stack: VaultStack, url: str, folder: Path) -> VaultHandle:
    """The keeper's handle on `stack` with every call (contracts' too) sent to `url`, opened from
    a deployment record in `folder` as `zkrisk keeper` opens it."""
    save_deployment(stack.record(), folder)
    return open_vault(ChainClient.connect(url, KEEPER_KEY), folder)


def rpc(stack: VaultStack, method: str, *params: Any) -> Any:
    return stack.chain.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
