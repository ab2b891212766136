"""A handle on a deployed vault stack from its deployment record (build/deployments/<id>.json).

`CheckedVaultClient` passes every account address to web3 in checksum form: the engine keeps
addresses lower case (Portfolio.account), web3.py refuses those.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar, cast
from weakref import WeakKeyDictionary

from eth_abi.abi import decode as abi_decode
from eth_utils.abi import function_abi_to_4byte_selector, get_abi_input_types, get_abi_output_types
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction

from zkrisk.prover.artifacts import CircuitArtifacts, build
from zkrisk.prover.registry import get_circuit, load_registry

from ..chain.client import ChainClient
from ..chain.deployments import DeploymentRecord, deployed_artifacts, load_deployment
from ..chain.vault import VaultClient
from ..chain.vault_deploy import VaultStack, compile_vault_contracts
from ..chain.vault_statement import (
    FULL_LIQUIDATION_THRESHOLD_BPS,
    LIQUIDATION_THRESHOLD_BPS,
    keeper_margin,
)
from ..chain.vault_types import AccountState, OnchainSnapshot, VaultPolicy
from ..paths import registry_path, repo_root
from ..risk.models import Asset
from ..statements.binding import Action
from . import rpc

T = TypeVar("T")

PREFETCH = 10
"""Accounts whose views one prefetch (`TickReads.prefetch`) reads in a JSON-RPC batch."""


class CheckedVaultClient(VaultClient):
    """VaultClient that accepts lower-case account addresses."""

    def account_state(self, account: str | None = None) -> AccountState:
        return super().account_state(_checksum(account))

    def escrow(self, account: str | None = None) -> int:
        return super().escrow(_checksum(account))

    def nonce(self, account: str | None = None) -> int:
        return super().nonce(_checksum(account))

    def proof_status(self, account: str) -> tuple[bool, int]:
        return super().proof_status(Web3.to_checksum_address(account))

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
        return super().public_signals(
            Web3.to_checksum_address(account), action, amount, snapshot_id, commitment,
            submitter=submitter, proven_margin=proven_margin, hf_below_bps=hf_below_bps,
        )  # fmt: skip

    def book_sequence(self, account: str | None = None) -> int:
        return super().book_sequence(_checksum(account))

    def attester_of(self, account: str | None = None) -> str:
        return super().attester_of(_checksum(account))

    def signed_by(self, chain: ChainClient) -> CheckedVaultClient:
        return checked(super().signed_by(chain))


def _checksum(account: str | None) -> str | None:
    return None if account is None else Web3.to_checksum_address(account)


def checked(client: VaultClient) -> CheckedVaultClient:
    return CheckedVaultClient(**{f.name: getattr(client, f.name) for f in fields(client)})


@dataclass(frozen=True)
class _View:
    """A view function's ABI, selector and types, worked out once per contract object."""

    abi: Any
    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    @property
    def post_processed(self) -> bool:
        """Outputs web3 post-processes (strings, bytes): `ViewChain` leaves these to web3."""
        return any(w in t for t in self.outputs for w in ("string", "bytes"))


def _plain(outputs: Sequence[str]) -> bool:
    """Outputs that `fn.call()` returns exactly as eth_abi decodes them (web3 post-processes
    addresses, strings and bytes)."""
    return not any(w in t for t in outputs for w in ("address", "string", "bytes"))


_VIEWS: WeakKeyDictionary[Contract, dict[str, _View]] = WeakKeyDictionary()


def _view(contract: Contract, name: str) -> _View:
    views = _VIEWS.setdefault(contract, {})
    if name not in views:
        abi = contract.get_function_by_name(name).abi
        selector = function_abi_to_4byte_selector(abi)
        views[name] = _View(abi, selector, tuple(get_abi_input_types(abi)),
                            tuple(get_abi_output_types(abi)))  # fmt: skip
    return views[name]


@dataclass
class ViewChain(ChainClient):
    """A ChainClient whose views (`call`, `view`) go to the provider directly.

    web3's request pipeline (middleware, formatters, normalizers) costs ~8 ms of CPU per call and
    building a ContractFunction ~5 more (it hashes every signature of the ABI), the call itself
    ~2 ms, and a storm's keeper makes three views per account while the provers want the cores.
    Only a plain result is decoded here (eth_abi, the function's own output types, as
    `fn.call()` returns them); anything else (an RPC error, a revert, an output web3 would
    post-process) is made again with `ChainClient.call`, so failures are web3's own exceptions,
    decoded and classified as before."""

    _chain_id: int | None = field(default=None, compare=False, repr=False)

    @property
    def chain_id(self) -> int:
        """The node's chain id, read once per ViewChain (one per tick): it does not change, and
        every account's statement asks for it twice."""
        if self._chain_id is None:
            self._chain_id = super().chain_id
        return self._chain_id

    def call(self, fn: ContractFunction) -> Any:
        outputs = tuple(get_abi_output_types(fn.abi))
        fast = None
        if _plain(outputs):
            fast = self._eth_call(fn.address, fn._encode_transaction_data(), outputs)
        return super().call(fn) if fast is None else fast[0]

    def view(self, contract: Contract, name: str, *args: Any) -> Any:
        """`contract.functions.<name>(*args).call()` from the signer, without web3's overhead;
        addresses in the result come back as eth_abi decodes them (lower case, for callers that
        read numbers only)."""
        spec = _view(contract, name)
        if not spec.post_processed:
            data = rpc.calldata(spec.selector, spec.inputs, args)
            fast = self._eth_call(contract.address, data, spec.outputs)
            if fast is not None:
                return fast[0]
        return super().call(contract.get_function_by_name(name)(*args))

    def views(self, requests: Sequence[tuple[Contract, str, Sequence[Any]]]) -> list[Any]:
        """`view(contract, name, *args)` for each request, in one JSON-RPC batch: per request
        (the result,) as `view` returns it, or None where this path cannot say (the entry or
        the batch failed, an output `view` would not decode itself); the caller then uses
        `view`, whose errors are web3's own."""
        calls: list[rpc.Call] = []
        asked: list[tuple[int, _View]] = []  # (request index, its view) of each call
        for i, (contract, name, args) in enumerate(requests):
            spec = _view(contract, name)
            if spec.post_processed:
                continue  # `view` takes its own path
            asked.append((i, spec))
            data = rpc.calldata(spec.selector, spec.inputs, args)
            calls.append(("eth_call", self._call_params(contract.address, data)))
        out: list[Any] = [None] * len(requests)
        for (i, spec), result in zip(asked, rpc.batch(self.w3, calls), strict=True):
            out[i] = _decoded(result, spec.outputs)
        return out

    def _eth_call(self, to: str, data: str, outputs: tuple[str, ...]) -> tuple[Any] | None:
        """(what fn.call() returns,) for a plain result, None for anything else (the node, the
        transport, the bytes: web3's path says what it was)."""
        return _decoded(rpc.request(self.w3, "eth_call", self._call_params(to, data)), outputs)

    def _call_params(self, to: str, data: str) -> list[Any]:
        return [{"from": self.address, "to": to, "data": data}, "latest"]


def _decoded(result: Any, outputs: tuple[str, ...]) -> tuple[Any] | None:
    """(what fn.call() returns,) for a plain eth_call result, None for anything else."""
    if not isinstance(result, str) or len(result) <= 2:
        return None
    try:
        decoded = abi_decode(outputs, bytes.fromhex(result.removeprefix("0x")))
    except Exception:  # not the function's output: the single view's path says what it is
        return None
    return (decoded[0] if len(decoded) == 1 else list(decoded),)


def view_chain(chain: ChainClient) -> ViewChain:
    return ViewChain(**{f.name: getattr(chain, f.name) for f in fields(chain)})


@dataclass(frozen=True)
class TickReads(CheckedVaultClient):
    """The keeper's view of the vault for one tick: what cannot change within it, or only by a
    governance or oracle event the next tick sees, is read once instead of once per account
    (a storm's keeper made ~12 round trips per account, half of them these). A snapshot by id
    never changes; a policy or grace period that changes mid-tick costs at worst one refused
    liquidation, which the failure rules already handle. An account's state is read once per
    tick (the keeper's checks and its statement then see the same state; the vault checks the
    nonce and escrow again when the liquidation lands). The chain time is the tick's first
    reading: it only grows, so a cooldown or grace period looks at most a tick longer, never
    shorter."""

    memo: dict[object, object] = field(default_factory=dict, compare=False, repr=False)

    def _once(self, key: object, read: Callable[[], T]) -> T:
        if key not in self.memo:
            self.memo[key] = read()
        return cast(T, self.memo[key])

    def policy(self) -> VaultPolicy:
        return self._once("policy", super().policy)

    def account_state(self, account: str | None = None) -> AccountState:
        address = Web3.to_checksum_address(account or self.account)

        def read() -> AccountState:
            chain = cast(ViewChain, self.chain)
            components = _view(self.vault, "accountState").abi["outputs"][0]["components"]
            return AccountState.from_abi(
                components, chain.view(self.vault, "accountState", address)
            )

        return self._once(("account", address), read)

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
        """As VaultClient.public_signals, as a view (no ContractFunction built); the answer
        `prefetch` read for exactly these arguments, once, if it did."""
        args = self.public_signals_args(_view(self.vault, "publicSignals").abi, account, action,
                                        amount, snapshot_id, commitment, submitter=submitter,
                                        proven_margin=proven_margin, hf_below_bps=hf_below_bps)  # fmt: skip
        result = self.memo.pop(("signals", *args), None)
        if result is None:
            result = cast(ViewChain, self.chain).view(self.vault, "publicSignals", *args)
        return tuple(int(v) for v in cast(Sequence[int], result))

    def proof_status(self, account: str) -> tuple[bool, int]:
        """RiskVault.proofStatus; the answer `prefetch` read, once, if it did."""
        address = Web3.to_checksum_address(account)
        result = self.memo.pop(("proof_status", address), None)
        if result is None:
            result = cast(ViewChain, self.chain).view(self.vault, "proofStatus", address)
        stale, deadline = cast(Sequence[Any], result)
        return bool(stale), int(deadline)

    def prefetch(self, accounts: Sequence[str], snapshot_id: int) -> None:
        """Read in two JSON-RPC batches, instead of three round trips per account, what the
        keeper's evaluation of `accounts` at `snapshot_id` will ask: each one's accountState and
        proofStatus, then the publicSignals of its liquidation (amount 0, this signer the
        submitter, proven at `keeper_margin(escrow)`) at both thresholds, HF < 1 and < 0.95.

        Best effort and exact: a read that fails here is made again on its own when asked, a
        prefetched proofStatus or publicSignals answers one call (made with exactly these
        arguments) and is then forgotten, and the account states are the tick's own reads
        (`account_state`), made a few accounts earlier. Nothing is skipped: every check the
        keeper makes still sees the vault's own answer, and an error here never fails the tick
        (the per-account reads that follow meet it, and keep it to their account)."""
        try:
            self._prefetch(accounts, snapshot_id)
        except Exception:  # e.g. token decimals unreadable: each account reads on its own
            return

    def _prefetch(self, accounts: Sequence[str], snapshot_id: int) -> None:
        chain = cast(ViewChain, self.chain)
        wanted = [a for a in dict.fromkeys(Web3.to_checksum_address(a) for a in accounts)
                  if ("account", a) not in self.memo]  # fmt: skip
        if not wanted:
            return
        components = _view(self.vault, "accountState").abi["outputs"][0]["components"]
        reads = chain.views([(self.vault, name, (a,)) for a in wanted
                             for name in ("accountState", "proofStatus")])  # fmt: skip
        states, status = reads[0::2], reads[1::2]
        due: list[tuple[str, AccountState]] = []
        for address, state, stale in zip(wanted, states, status, strict=True):
            if state is None:
                continue
            read = AccountState.from_abi(components, state[0])
            self.memo[("account", address)] = read
            if stale is not None:
                self.memo[("proof_status", address)] = stale[0]
            if read.commitment != 0 and read.escrow != 0:
                due.append((address, read))
        if not due:
            return
        abi = _view(self.vault, "publicSignals").abi
        decimals = self.token_decimals()
        keys: list[tuple[Any, ...]] = []
        for account, due_state in due:
            margin = keeper_margin(due_state.escrow, decimals)
            for below in (LIQUIDATION_THRESHOLD_BPS, FULL_LIQUIDATION_THRESHOLD_BPS):
                args = self.public_signals_args(abi, account, Action.LIQUIDATE, 0, snapshot_id,
                                                proven_margin=margin, hf_below_bps=below)  # fmt: skip
                keys.append(tuple(args))
        answers = chain.views([(self.vault, "publicSignals", key) for key in keys])
        for key, signals in zip(keys, answers, strict=True):
            if signals is not None:
                self.memo[("signals", *key)] = signals[0]

    def chain_time(self) -> int:
        return self._once("now", super().chain_time)

    def slots(self) -> int:
        return self._once("slots", super().slots)

    def token_decimals(self) -> int:
        return self._once("decimals", super().token_decimals)

    def grace_ends_at(self) -> int:
        return self._once("grace", super().grace_ends_at)

    def snapshot(self, snapshot_id: int | None = None) -> OnchainSnapshot:
        if snapshot_id is None:  # "the latest" may move within a tick
            return super().snapshot(None)
        return self._once(
            ("snapshot", snapshot_id), lambda: super(TickReads, self).snapshot(snapshot_id)
        )


def tick_reads(client: CheckedVaultClient) -> TickReads:
    """A fresh per-tick view of `client` (same node, signer and contracts; views through
    ViewChain)."""
    parts = {f.name: getattr(client, f.name) for f in fields(client)}
    return TickReads(**{**parts, "chain": view_chain(client.chain)})


@dataclass(frozen=True)
class VaultHandle:
    """A deployment record, the circuit's artefacts and a signer's client on it."""

    record: DeploymentRecord
    artifacts: CircuitArtifacts
    client: CheckedVaultClient
    feeds: tuple[Contract, ...]
    """The listed assets' price feeds, in slot order (AggregatorV3Interface)."""

    def contract_address(self, name: str) -> str:
        return self.record.contracts[name]


def circuit_artifacts(name: str) -> CircuitArtifacts:
    spec = get_circuit(load_registry(registry_path()), name)
    return build(spec, repo_root(), log=lambda _line: None)


def open_vault(chain: ChainClient, folder: Path | None = None) -> VaultHandle:
    """The vault deployed on `chain`'s chain id, per its deployment record in `folder`."""
    record = load_deployment(chain.chain_id, folder)
    artifacts = deployed_artifacts(record, folder)  # the pinned setup, never a new one
    compiled = compile_vault_contracts(artifacts)
    for contract in compiled.values():
        chain.errors.register(contract.abi)

    def at(name: str, address: str) -> Contract:
        made = chain.w3.eth.contract(address=address, abi=compiled[name].abi)  # type: ignore[call-overload]
        return cast(Contract, made)

    client = CheckedVaultClient(
        chain,
        at("RiskVault", record.contracts["RiskVault"]),
        at("PriceBook", record.contracts["PriceBook"]),
        at("MockERC20", record.assets[0].token),  # any ERC-20 ABI with decimals()
    )
    feeds = tuple(at("MockAggregator", a.feed) for a in record.assets)  # AggregatorV3 + setAnswer
    return VaultHandle(record, artifacts, client, feeds)


def handle_from_stack(stack: VaultStack, chain: ChainClient | None = None) -> VaultHandle:
    """A handle on a stack deployed in this process, signing with `chain` (default: deployer)."""
    client = checked(stack.client(chain))
    feeds = tuple(stack.feeds[a.symbol] for a in stack.assets)
    artifacts = stack.artifacts or circuit_artifacts(stack.circuit)
    return VaultHandle(stack.record(), artifacts, client, feeds)


def slot_assets(record: DeploymentRecord, assets: Sequence[Asset]) -> tuple[Asset, ...]:
    """`assets` in the price book's slot order; ValueError naming a missing or mismatched one."""
    by_symbol = {a.symbol: a for a in assets}
    ordered = []
    for listed in record.assets:
        asset = by_symbol.get(listed.symbol)
        if asset is None:
            raise ValueError(f"the assets file has no {listed.symbol} (slot {listed.slot})")
        if asset.liquidation_threshold_bps != listed.liquidation_threshold_bps:
            raise ValueError(
                f"{listed.symbol}: liquidation threshold {asset.liquidation_threshold_bps} bps in "
                f"the assets file, {listed.liquidation_threshold_bps} listed on-chain"
            )
        ordered.append(asset)
    return tuple(ordered)
