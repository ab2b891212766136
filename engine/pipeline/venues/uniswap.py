"""Uniswap v2 (Router02) on an EVM chain as a venue: an order is one router swap.

submit: the swap's amounts come from `uniswap_amounts` (quantity = the asset traded, exactly; the
price bound is the minimum proceeds of a sell or the maximum spend of a buy). The call is
simulated with eth_call (a revert → Reject SIMULATION_REVERTED with the reason) and gas
estimated in the same round trip, then signed (`TxSigner`) with the next local nonce
(`NonceManager`) and broadcast; `submit` returns the transaction hash as the venue order id
without waiting, and an Ack follows on `reports()`.

Allowances: `connect` approves the router for the maximum (2²⁵⁶−1) on every token the wallet
trades, once (an allowance already that high is left alone) and waits for those receipts.

Confirmation (one task per order) polls receipts through `FailoverRpc` (primary, then backup).
A successful receipt's pair Swap log becomes a Fill (fill_id "<tx hash>:<log index>", the gas paid
as the fee, in ETH); a reverted one a Reject REVERTED. A transaction not mined within
`replace_after_s` is re-sent with the same nonce and both EIP-1559 fees raised by
`fee_bump_percent` (≥ 10 %, what nodes require of a replacement), up to `max_replacements`
times; after that the order is abandoned: its nonce is taken by a 0-value transfer to the wallet
itself at a still higher fee (so no copy of the swap can mine later and the nonces after it are
not blocked), and a Reject ABANDONED is reported. Whichever of the order's transactions mines
decides its outcome: a swap copy mining after all gives its Fill (a late fill). `cancel` sends
that same self-transfer at once.

Crash safety (with a `tx_log`, the run's journal: `uniswap_txlog`): every transaction signed for
an order is journaled before it is broadcast, and its hash is polled from then on; a broadcast
whose outcome is unknown (no endpoint answered) keeps the nonce and is rebroadcast as the same
bytes, never re-signed under another nonce. `connect` adopts the orders the journal holds in
flight with all their transactions, rebroadcasts each nonce's latest one before anything new is
signed, and watches them like its own: whichever transaction mined decides the order; when its
nonce was taken by none of them, the order never executed (`query` says EXPIRED, and order send
finalises it).

Keyless (a `RemoteSigner`: `signer_client`): the process holds no key. Each order's swap is
built at the approved limit (`approved_limit`), the risk service approves it with the exact
transaction (a REJECT rejects the order with the service's reasons), and the signer process signs
each of the order's transactions: replacements under the same approval (fees only), the
self-transfer by its cancel rule. The journal is the private queue (`uniswap_txlog`): every
signer request is journaled before it is made, one at a time per wallet, and a restart resumes
an unanswered one with the very same request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise
from pathlib import Path
from typing import Any, Final, Protocol

from eth_account import Account
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from pydantic import BaseModel, ConfigDict, Field
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError

from ...chain.client import revert_data
from ...chain.errors import ErrorRegistry
from ...chain.uniswap_deploy import UniswapAddresses, artefact, from_units, mock_erc20
from ...journal.crashpoints import crash_point
from ...journal.events import OrderSpec
from ...risk.models import Side
from .base import (
    Ack,
    Canceled,
    Fill,
    OrderReport,
    Reject,
    Replaced,
    Submitted,
    VenueError,
    VenueReport,
    VenueStatus,
)
from .rpc_failover import AllEndpointsDown, FailoverRpc
from .signer_client import (
    RemoteSigner,
    SignerRefused,
    SignerUnavailable,
    approved_limit,
    unsigned_tx,
)
from .uniswap_amounts import OrderAmountError, SwapAmounts, fill_price, swap_amounts, worst_price
from .uniswap_baseline import Baseline, change_since, load_or_record
from .uniswap_logs import PairSwap, pair_swaps
from .uniswap_nonces import NonceManager
from .uniswap_txlog import (
    InFlight,
    QueueConflict,
    QueuedTx,
    SignedTx,
    SignRoute,
    TxKind,
    TxLog,
)

log = logging.getLogger(__name__)

MAX_UINT256: Final = 2**256 - 1
SELF_TRANSFER_GAS: Final = 21_000
ORACLE_WRITE_GAS: Final = 50_000
ALREADY_KNOWN: Final = ("already known", "already imported")
"""A node's answer to a transaction it holds already (geth's, Anvil's): the send succeeded."""


class UniswapSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    name: str = "uniswap"
    default_slippage_bps: int = Field(default=50, ge=0, le=10_000)
    """The bound of an order with neither limit_price nor max_slippage_bps."""
    deadline_s: int = Field(default=300, gt=0)
    """The swap's router deadline, from the chain's time at submit."""
    poll_interval_s: float = Field(default=0.005, gt=0)
    replace_after_s: float = Field(default=12.0, gt=0)
    """A transaction not mined this long after its broadcast is replaced (or the order abandoned)."""
    max_replacements: int = Field(default=2, ge=0)
    fee_bump_percent: int = Field(default=15, ge=10)
    priority_fee_wei: int = Field(default=10**9, ge=0)
    abandon_watch_s: float = Field(default=120.0, gt=0)
    """How long an abandoned order's transactions are still watched for the one that mines."""
    rpc_timeout_s: float = Field(default=2.0, gt=0)
    gas_margin_percent: int = Field(default=25, ge=0)


class TxSigner(Protocol):
    """Signs the venue's transactions (issue 19 moves this into a signer process)."""

    @property
    def address(self) -> str: ...

    def sign(self, tx: Mapping[str, Any]) -> bytes:
        """The raw signed transaction."""


class LocalKeySigner:
    """A private key in this process (an Anvil dev key)."""

    def __init__(self, private_key: str) -> None:
        self._account = Account.from_key(private_key)

    @property
    def address(self) -> str:
        return str(self._account.address)

    def sign(self, tx: Mapping[str, Any]) -> bytes:
        return bytes(self._account.sign_transaction(dict(tx)).raw_transaction)


class _State(StrEnum):
    PENDING = "PENDING"
    FILLED = "FILLED"
    REVERTED = "REVERTED"
    REJECTED = "REJECTED"
    ABANDONED = "ABANDONED"
    CANCELED = "CANCELED"
    UNMINED = "UNMINED"
    """Adopted after a restart: its nonce was taken by none of its transactions."""


@dataclass
class _Order:
    client_order_id: str
    spec: OrderSpec | None
    sent: asyncio.Future[str]
    """The first transaction's hash ('' when nothing was sent)."""
    state: _State = _State.PENDING
    nonce: int = -1
    call: dict[str, Any] = field(default_factory=dict)
    """from/to/data/value/gas of the swap (re-signed by every replacement)."""
    fees: tuple[int, int] = (0, 0)
    """(maxFeePerGas, maxPriorityFeePerGas) of the latest copy."""
    hashes: list[str] = field(default_factory=list)
    """Every transaction sent with this order's nonce, oldest first (the swap, its replacements,
    the abandoning self-transfer last)."""
    kill_hash: str = ""
    """The self-transfer taking the nonce (abandon or cancel)."""
    cancel_requested: bool = False
    last_sent: float = 0.0
    replacements: int = 0
    fill: Fill | None = None
    watcher: asyncio.Task[None] | None = None
    signed: int = 0
    """Transactions signed (and journaled) for this order: numbers the next one's key."""
    unsent: bytes = b""
    """A signed transaction the node may not have (no endpoint answered): rebroadcast as is."""
    adopted: bool = False
    approval: dict[str, Any] | None = None
    """The risk service's approval of the swap (a keyless venue's): every copy is signed under it."""
    queued: int = 0
    """Signer requests queued (journaled) for this order: numbers the next one's key."""

    @property
    def venue_order_id(self) -> str:
        return self.hashes[-1] if self.hashes else ""


def _hash_of(raw: bytes) -> str:
    return "0x" + keccak(raw).hex()


def _decoded(raw: bytes) -> dict[str, Any]:
    """The fields of a signed EIP-1559 transaction."""
    return dict(TypedTransaction.from_bytes(HexBytes(raw)).as_dict())


def _bump(value: int, percent: int) -> int:
    return max(value * (100 + percent) // 100, value + 1)


class UniswapVenue:
    """The `Venue` for Uniswap v2 at `addresses`, trading from `signer`'s wallet."""

    def __init__(
        self,
        addresses: UniswapAddresses,
        signer: TxSigner | RemoteSigner,
        rpc_urls: list[str],
        settings: UniswapSettings | None = None,
        *,
        baseline: Path | None = None,
        tx_log: TxLog | None = None,
    ) -> None:
        self.addresses = addresses
        self.tx_log = tx_log
        """Where each order's transactions are journaled before they are broadcast."""
        self.baseline_path = baseline
        """With a baseline file, `balances` is the change since it (`uniswap_baseline`)."""
        self._baseline: Baseline | None = None
        self._reported = 0
        self.settings = settings or UniswapSettings()
        self.signer = signer
        self._remote = signer if isinstance(signer, RemoteSigner) else None
        self._local = None if isinstance(signer, RemoteSigner) else signer
        self._send_lock = asyncio.Lock()
        """Held from a signer request's queue write to its broadcast: one at a time per wallet."""
        self._approvals: dict[str, tuple[dict[str, Any], str]] = {}
        """client order id -> (its approval, the calldata it covers): a retried submit reuses
        both (the service binds an order id to its first approval)."""
        self._queued_before: dict[str, int] = {}
        self.rpc = FailoverRpc(rpc_urls, timeout_s=self.settings.rpc_timeout_s)
        self.nonces = NonceManager(self._pending_count)
        self._router = Web3().eth.contract(abi=artefact("UniswapV2Router02").abi)
        self._erc20 = Web3().eth.contract(abi=mock_erc20().abi)
        self._errors = ErrorRegistry([mock_erc20().abi])
        self._orders: dict[str, _Order] = {}
        self._signed_before: dict[str, int] = {}
        """Signatures journaled for an order whose send failed (its retry numbers on)."""
        self._queue: asyncio.Queue[VenueReport | None] = asyncio.Queue()
        self._quote = addresses.token(addresses.quote)
        self._pairs: dict[str, tuple[str, str]] = {}
        for symbol, pair in addresses.pairs.items():
            a, b = addresses.token(symbol).address.lower(), self._quote.address.lower()
            self._pairs[pair.lower()] = (a, b) if a < b else (b, a)
        self._clock_offset = 0
        self._connected = False
        self._closed = False

    @property
    def name(self) -> str:
        return self.settings.name

    # --- connection -------------------------------------------------------------------------

    async def connect(self) -> None:
        if self._connected:
            return
        try:
            latest = await self.rpc.run(lambda w3: w3.eth.get_block("latest"))
            chain_id = await self.rpc.run(lambda w3: w3.eth.chain_id)
        except AllEndpointsDown as exc:
            raise VenueError(str(exc)) from None
        if chain_id != self.addresses.chain_id:
            raise VenueError(f"the node is chain {chain_id}, the addresses are for chain "
                             f"{self.addresses.chain_id}", retryable=False)  # fmt: skip
        self._clock_offset = int(latest["timestamp"]) - int(time.time())
        if self.tx_log is not None:  # before anything new takes a nonce
            await self._resume(self.tx_log.in_flight())
        await self._approve_all()
        if self.baseline_path is not None:
            self._baseline = load_or_record(self.baseline_path, chain_id=chain_id,
                                            wallet=self.signer.address,
                                            current=await self._wallet_balances())  # fmt: skip
        self._connected = True

    async def _approve_all(self) -> None:
        owner, spender = self.signer.address, self.addresses.router
        for record in self.addresses.tokens.values():
            data = self._erc20.encode_abi("allowance", args=[owner, spender])
            raw = await self._eth_call({"to": record.address, "data": data})
            if int.from_bytes(raw, "big") >= MAX_UINT256 // 2:
                continue
            await self._approve(record.address, spender)

    async def _approve(self, token: str, spender: str) -> None:
        call: dict[str, Any] = {
            "from": to_checksum_address(self.signer.address),
            "to": to_checksum_address(token),
            "value": 0,
            "data": self._erc20.encode_abi("approve", args=[spender, MAX_UINT256]),
        }
        gas = await self.rpc.run(lambda w3: w3.eth.estimate_gas(call))  # type: ignore[arg-type]
        call["gas"] = gas * 2
        fees = await self._fees()
        tx_hash = await self.nonces.assign(lambda nonce: self._broadcast(call, nonce, fees))
        await self._wait_mined(tx_hash, timeout_s=60)

    async def _wait_mined(self, tx_hash: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while await self._receipt(tx_hash) is None:
            if time.monotonic() > deadline:
                raise VenueError(f"approval {tx_hash} not mined within {timeout_s}s")
            await asyncio.sleep(self.settings.poll_interval_s)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for order in self._orders.values():
            if order.watcher is not None:
                order.watcher.cancel()
        await asyncio.gather(*(o.watcher for o in self._orders.values() if o.watcher),
                             return_exceptions=True)  # fmt: skip
        await self.rpc.close()
        if self._remote is not None:
            await self._remote.close()
        self._report(None)

    async def healthy(self) -> bool:
        try:
            await self.rpc.run(lambda w3: w3.eth.block_number)
        except AllEndpointsDown:
            return False
        return True

    # --- node access ------------------------------------------------------------------------

    async def _pending_count(self) -> int:
        address = to_checksum_address(self.signer.address)
        return int(await self.rpc.run(lambda w3: w3.eth.get_transaction_count(address, "pending")))

    async def _eth_call(self, call: Mapping[str, Any], block: int | str = "latest") -> bytes:
        payload = {
            k: (to_checksum_address(v) if k in ("from", "to") else v) for k, v in call.items()
        }
        return bytes(await self.rpc.run(lambda w3: w3.eth.call(payload, block)))  # type: ignore[arg-type]

    async def _receipt(self, tx_hash: str) -> Any:
        try:
            return await self.rpc.run(lambda w3: w3.eth.get_transaction_receipt(tx_hash))  # type: ignore[arg-type]
        except TransactionNotFound:
            return None

    async def _fees(self) -> tuple[int, int]:
        block = await self.rpc.run(lambda w3: w3.eth.get_block("latest"))
        priority = self.settings.priority_fee_wei
        return 2 * int(block.get("baseFeePerGas", 0)) + priority, priority

    def _sign(self, call: Mapping[str, Any], nonce: int, fees: tuple[int, int]) -> bytes:
        tx = {"type": 2, "chainId": self.addresses.chain_id, "nonce": nonce,
              "to": to_checksum_address(call["to"]), "value": call.get("value", 0),
              "data": call.get("data", "0x"), "gas": call["gas"],
              "maxFeePerGas": fees[0], "maxPriorityFeePerGas": fees[1]}  # fmt: skip
        assert self._local is not None, "a keyless venue signs through its RemoteSigner"
        return self._local.sign(tx)

    async def _send_raw(self, raw: bytes) -> None:
        try:
            await self.rpc.run(lambda w3: w3.eth.send_raw_transaction(raw))
        except Web3RPCError as exc:
            if not any(m in str(exc).lower() for m in ALREADY_KNOWN):
                raise

    async def _broadcast(self, call: Mapping[str, Any], nonce: int, fees: tuple[int, int]) -> str:
        """Sign and send a transaction of no order (an approval: sent again if lost)."""
        if self._remote is None:
            raw, sent = self._sign(call, nonce, fees), False
        else:
            tx = unsigned_tx(self.addresses.chain_id, nonce, call, fees)
            try:
                signed = await self._remote.sign("/v1/sign-call", self._remote.call_request(tx))
            except SignerRefused as exc:
                raise VenueError(f"the signer refused the router allowance on token {call['to']}"
                                 f" ({exc}): approve the router from the wallet beforehand, or "
                                 "allow approve(router) by a [[calls]] rule of signer.toml",
                                 retryable=False) from None  # fmt: skip
            except SignerUnavailable as exc:
                raise VenueError(str(exc)) from None
            raw, sent = signed.raw, signed.sent
        if not sent:
            await self._send_raw(raw)
        return _hash_of(raw)

    async def _signed(
        self, entry: _Order, kind: TxKind, call: Mapping[str, Any], fees: tuple[int, int]
    ) -> tuple[bytes, bool, QueuedTx | None]:
        """The order's transaction signed, whether the signer sent it, and its queue entry: by
        the local key, or queued in the journal, then signed by the signer process."""
        if self._remote is None:
            return self._sign(call, entry.nonce, fees), False, None
        tx = unsigned_tx(self.addresses.chain_id, entry.nonce, call, fees)
        route: SignRoute
        if kind in ("CANCEL", "ABANDON"):  # the signer's cancel rule: no approval needed
            route, request = "/v1/sign-call", self._remote.call_request(tx)
        else:
            assert entry.approval is not None, "a keyless swap is signed under its approval"
            route, request = "/v1/sign", RemoteSigner.sign_request(entry.approval, tx)
        queued = QueuedTx(entry.client_order_id, entry.queued, entry.signed, kind,
                          self._remote.wallet, entry.nonce, route, request)  # fmt: skip
        if self.tx_log is not None:  # the private queue: journaled before the signer sees it
            self.tx_log.queue(queued)
        entry.queued += 1
        crash_point("uniswap.queued_before_sign")
        try:
            signed = await self._remote.sign(route, request)
        except SignerRefused:
            if self.tx_log is not None:
                self.tx_log.release(queued)
            raise
        return signed.raw, signed.sent, queued

    async def _sign_and_send(
        self, entry: _Order, kind: TxKind, call: Mapping[str, Any], fees: tuple[int, int]
    ) -> str:
        """Sign one of the order's transactions (at its nonce), journal it, then broadcast it.

        From the journal write on, the hash is the order's (polled for a receipt), whatever the
        broadcast does: a node's refusal (Web3RPCError, raised) means it is not out and never
        mines; no answer at all keeps the bytes in `unsent` for the watcher to resend."""
        async with self._send_lock:
            raw, sent, queued = await self._signed(entry, kind, call, fees)
            crash_point("uniswap.signed_before_journal")
            tx_hash = _hash_of(raw)
            if self.tx_log is not None:  # write-ahead: on chain implies journaled (or queued)
                self.tx_log.write(SignedTx(entry.client_order_id, entry.signed, kind, entry.nonce,
                                           tx_hash, raw))  # fmt: skip
            crash_point("uniswap.journaled_before_send")
            entry.signed += 1
            entry.hashes.append(tx_hash)
            if kind in ("CANCEL", "ABANDON"):
                entry.kill_hash = tx_hash  # before the broadcast: its receipt may come at once
            try:
                if not sent:
                    await self._send_raw(raw)
            except AllEndpointsDown:
                entry.unsent = raw
            except Web3RPCError:
                entry.hashes.remove(tx_hash)
                if queued is not None and self.tx_log is not None:  # never mines: nonce free
                    self.tx_log.release(queued)
                raise
            return tx_hash

    # --- orders -----------------------------------------------------------------------------

    async def submit(self, order: OrderSpec) -> Submitted:
        coid = order.client_order_id
        held = self._orders.get(coid)
        if held is not None:
            return Submitted(coid, await asyncio.shield(held.sent), duplicate=True)
        entry = _Order(coid, order, asyncio.get_running_loop().create_future(),
                       signed=self._signed_before.pop(coid, 0),
                       queued=self._queued_before.pop(coid, 0))  # fmt: skip
        self._orders[coid] = entry  # before any await: a concurrent duplicate finds it
        try:
            tx_hash = await self._send_swap(entry, order)
        except BaseException as exc:
            del self._orders[coid]  # nothing out (refused or unsigned): a retry sends afresh
            if entry.signed:  # under the next numbers: the journal keeps the refused ones
                self._signed_before[coid] = entry.signed
            if entry.queued:
                self._queued_before[coid] = entry.queued
            entry.sent.set_exception(exc)
            entry.sent.exception()  # retrieved: no "never retrieved" warning for lone submits
            raise
        entry.sent.set_result(tx_hash)
        return Submitted(coid, tx_hash)

    def _report(self, report: VenueReport | None) -> None:
        self._reported += 1
        self._queue.put_nowait(report)

    def _reject(self, entry: _Order, reason: str, detail: str) -> str:
        entry.state = _State.REJECTED
        self._approvals.pop(entry.client_order_id, None)
        self._report(Reject(entry.client_order_id, reason, detail))
        return ""

    async def _send_swap(self, entry: _Order, order: OrderSpec) -> str:
        try:
            amounts = self._amounts(order)
        except (OrderAmountError, KeyError) as exc:
            return self._reject(entry, "INVALID_ORDER", str(exc).strip("'\""))
        call: dict[str, Any] = {"from": self.signer.address, "to": self.addresses.router,
                                "value": 0, "data": self._swap_data(order.symbol, amounts)}  # fmt: skip
        approved = self._approvals.get(order.client_order_id)
        if approved is not None:  # a retry: the transaction its approval covers
            call["data"] = approved[1]
        checked = {k: to_checksum_address(v) if k in ("from", "to") else v for k, v in call.items()}
        simulated, gas, block = await asyncio.gather(
            self.rpc.run(lambda w3: w3.eth.call(checked)),  # type: ignore[arg-type]
            self.rpc.run(lambda w3: w3.eth.estimate_gas(checked)),  # type: ignore[arg-type]
            self.rpc.run(lambda w3: w3.eth.get_block("latest")),
            return_exceptions=True,
        )
        for outcome in (simulated, gas, block):
            if isinstance(outcome, ContractLogicError):
                return self._reject(entry, "SIMULATION_REVERTED", self._reason(outcome))
            if isinstance(outcome, AllEndpointsDown):
                raise VenueError(str(outcome)) from None
            if isinstance(outcome, BaseException):
                raise VenueError(f"simulation failed: {outcome}") from outcome
        assert isinstance(gas, int) and not isinstance(block, BaseException)
        # The estimate runs at the latest block's time; mined in a later second, the pair first
        # updates its price accumulators (two cold zero → non-zero writes the estimate missed).
        call["gas"] = gas * (100 + self.settings.gas_margin_percent) // 100 + ORACLE_WRITE_GAS
        priority = self.settings.priority_fee_wei
        fees = (2 * int(block.get("baseFeePerGas", 0)) + priority, priority)
        entry.call, entry.fees = call, fees
        if self._remote is not None:
            try:
                entry.approval = await self._approval(order, amounts, call)
            except SignerRefused as exc:
                return self._reject(entry, exc.code, exc.detail)
            except SignerUnavailable as exc:
                raise VenueError(str(exc)) from None

        async def send(nonce: int) -> str:
            entry.nonce = nonce
            return await self._sign_and_send(entry, "SWAP", call, fees)

        try:
            tx_hash = await self.nonces.assign(send)
        except Web3RPCError as exc:
            if "nonce" not in str(exc).lower():
                return self._reject(entry, "VENUE_REJECTED", str(exc))
            tx_hash = await self.nonces.assign(send)  # the failure re-synced the counter
        except AllEndpointsDown as exc:
            raise VenueError(str(exc)) from None
        except SignerRefused as exc:
            return self._reject(entry, "SIGNER_REFUSED", str(exc))
        except QueueConflict as exc:
            return self._reject(entry, "QUEUE_CONFLICT", str(exc))
        except SignerUnavailable as exc:
            raise VenueError(str(exc)) from None
        entry.last_sent = time.monotonic()
        self._report(Ack(entry.client_order_id, tx_hash))
        entry.watcher = asyncio.create_task(self._watch(entry))
        return tx_hash

    async def _approval(
        self, order: OrderSpec, amounts: SwapAmounts, call: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The risk service's approval of the order at its swap's limit, covering `call`."""
        assert self._remote is not None
        held = self._approvals.get(order.client_order_id)
        if held is not None and held[1] == call["data"]:
            return held[0]
        approval = await self._remote.approve(order, amounts.worst_price, call)
        self._approvals[order.client_order_id] = (approval, str(call["data"]))
        return approval

    def _amounts(self, order: OrderSpec) -> SwapAmounts:
        if order.symbol not in self.addresses.pairs:
            raise KeyError(
                f"no Uniswap pool for {order.symbol} (pools: {sorted(self.addresses.pairs)})"
            )
        if self._remote is not None:  # the approval carries a limit: the swap is built at it
            limit = approved_limit(order, worst_price(order, self.settings.default_slippage_bps))
            order = order.model_copy(update={"limit_price": limit, "max_slippage_bps": None})
        return swap_amounts(order, asset_decimals=self.addresses.token(order.symbol).decimals,
                            quote_decimals=self._quote.decimals,
                            default_slippage_bps=self.settings.default_slippage_bps)  # fmt: skip

    def _swap_data(self, symbol: str, amounts: SwapAmounts) -> str:
        asset = to_checksum_address(self.addresses.token(symbol).address)
        quote = to_checksum_address(self._quote.address)
        deadline = int(time.time()) + self._clock_offset + self.settings.deadline_s
        me = to_checksum_address(self.signer.address)
        if amounts.side is Side.SELL:
            name, path = "swapExactTokensForTokens", [asset, quote]
        else:
            name, path = "swapTokensForExactTokens", [quote, asset]
        return str(
            self._router.encode_abi(name, args=[amounts.exact, amounts.bound, path, me, deadline])
        )

    def _reason(self, exc: ContractLogicError) -> str:
        decoded = self._errors.decode(revert_data(exc))
        if decoded is not None and decoded.name == "Error":
            return str(decoded.args[0][1])
        return str(decoded) if decoded is not None else str(exc)

    def adopt(self, client_order_id: str, tx_hash: str) -> None:
        """Seed the idempotency map with one known transaction (an OrderAccepted's hash): a
        submit of this id is then a duplicate, and the transaction is watched for its fill. A
        run's restart adopts through `tx_log` instead (every transaction, replacements too)."""
        if client_order_id in self._orders:
            return
        sent: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        sent.set_result(tx_hash)
        entry = _Order(client_order_id, None, sent, hashes=[tx_hash], last_sent=time.monotonic())
        self._orders[client_order_id] = entry
        entry.watcher = asyncio.create_task(self._watch(entry, replace=False))

    async def _resume(self, in_flight: list[InFlight]) -> None:
        """Adopt the orders a killed run left in flight, then rebroadcast each nonce's latest
        signature (the journal's latest at that nonce) unless the nonce is taken already: the
        node then counts it before any new order takes a nonce."""
        if any(f.queued for f in in_flight):
            await self._sign_queued(in_flight)
            assert self.tx_log is not None
            in_flight = [f for f in self.tx_log.in_flight() if f.txs]
        address = to_checksum_address(self.signer.address)
        try:
            mined = int(await self.rpc.run(lambda w3: w3.eth.get_transaction_count(address)))
        except AllEndpointsDown as exc:
            raise VenueError(str(exc)) from None
        newest: dict[int, SignedTx] = {}
        for tx in sorted((t for f in in_flight for t in f.txs), key=lambda t: t.position):
            newest[tx.nonce] = tx
        for flight in in_flight:
            if flight.spec.client_order_id not in self._orders:
                latest = flight.txs[-1]
                entry = self._adopted(flight)
                # Keyless, the signer sent it (its relay, maybe private) and keeps its delivery
                # on record: sending the bytes to our node would make a private one public.
                keyless = self._remote is not None
                if latest.nonce >= mined and newest.get(latest.nonce) is latest and not keyless:
                    entry.unsent = latest.raw
        for entry in [e for e in self._orders.values() if e.unsent]:
            try:
                await self._send_raw(entry.unsent)
            except AllEndpointsDown as exc:
                raise VenueError(str(exc)) from None  # connect is retried: sent then
            except Web3RPCError as exc:  # the nonce taken meanwhile, or a copy is pending
                log.info("%s: rebroadcast refused: %s", entry.client_order_id, exc)
            entry.unsent = b""
        for entry in self._orders.values():
            if entry.adopted and entry.watcher is None:
                entry.watcher = asyncio.create_task(self._watch(entry))

    async def _sign_queued(self, in_flight: list[InFlight]) -> None:
        """Each queue entry a killed run left unanswered, resumed with the very same request
        (the signer answers a retry with the same signature) and journaled as signed; an order
        whose only entry is refused now never executed: rejected with the signer's reason."""
        assert self.tx_log is not None
        for flight in in_flight:
            for q in flight.queued:
                if self._remote is None:
                    raise VenueError(f"order {q.client_order_id} waits in the journal for the "
                                     "signer process: configure signer_url to resume it",
                                     retryable=False)  # fmt: skip
                try:
                    signed = await self._remote.sign(q.route, q.request)
                except SignerUnavailable as exc:
                    raise VenueError(str(exc)) from None  # connect is retried
                except SignerRefused as exc:
                    self.tx_log.release(q)
                    if not flight.txs:
                        self._refused_at_resume(flight, str(exc))
                    continue
                self.tx_log.write(SignedTx(q.client_order_id, q.index, q.kind, q.nonce,
                                           _hash_of(signed.raw), signed.raw))  # fmt: skip

    def _refused_at_resume(self, flight: InFlight, reason: str) -> None:
        coid = flight.spec.client_order_id
        sent: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        sent.set_result("")
        self._orders[coid] = _Order(coid, flight.spec, sent, state=_State.REJECTED,
                                    queued=flight.entries, adopted=True)  # fmt: skip
        self._report(Reject(coid, "SIGNER_REFUSED", reason))

    def _adopted(self, flight: InFlight) -> _Order:
        """The order as its journaled transactions say, watched from now (and reported to the
        journal as far as it does not hold it yet: its ack, the replacements it lacks)."""
        coid, txs = flight.spec.client_order_id, flight.txs
        sent: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        sent.set_result(txs[0].tx_hash)
        entry = _Order(coid, flight.spec, sent, hashes=[t.tx_hash for t in txs],
                       signed=len(txs), adopted=True, last_sent=time.monotonic(),
                       approval=flight.approval, queued=flight.entries)  # fmt: skip
        swap = _decoded(next(t for t in reversed(txs) if t.kind in ("SWAP", "REPLACEMENT")).raw)
        entry.call = {"from": self.signer.address, "to": "0x" + bytes(swap["to"]).hex(),
                      "value": swap["value"], "data": "0x" + bytes(swap["data"]).hex(),
                      "gas": swap["gas"]}  # fmt: skip
        last = _decoded(txs[-1].raw)
        entry.nonce, entry.fees = (
            txs[-1].nonce,
            (last["maxFeePerGas"], last["maxPriorityFeePerGas"]),
        )
        self._orders[coid] = entry
        self._report(Ack(coid, txs[0].tx_hash))  # dropped when the journal has it
        replaced = 0
        for previous, tx in pairwise(txs):
            if tx.kind == "REPLACEMENT":
                entry.replacements = replaced = replaced + 1
                if replaced > flight.replacements_journaled:
                    self._report(Replaced(coid, previous.tx_hash, tx.tx_hash,
                                          f"replacement {replaced} of nonce {tx.nonce}, "
                                          "journaled before a restart"))  # fmt: skip
            elif tx.kind in ("CANCEL", "ABANDON"):
                entry.kill_hash = tx.tx_hash
                entry.cancel_requested = tx.kind == "CANCEL"
                entry.state = _State.ABANDONED if tx.kind == "ABANDON" else entry.state
        if entry.state is _State.ABANDONED:
            self._report(Reject(coid, "ABANDONED", f"nonce {entry.nonce} taken by a 0-value "
                                f"self-transfer {entry.kill_hash}"))  # fmt: skip
        return entry

    # --- confirmation -----------------------------------------------------------------------

    async def _watch(self, entry: _Order, *, replace: bool = True) -> None:
        """Poll the order's transactions until one is mined; replace or abandon on the way."""
        while entry.state in (_State.PENDING, _State.ABANDONED):
            if entry.unsent:
                await self._resend(entry)
            if await self._settled_by_receipt(entry):
                return
            if entry.adopted and await self._nonce_taken(entry):
                # taken by one of them just now, or by none: the order never executed
                if not await self._settled_by_receipt(entry):
                    entry.state = _State.UNMINED
                return
            waited = time.monotonic() - entry.last_sent
            if entry.state is _State.ABANDONED and waited > self.settings.abandon_watch_s:
                return  # no copy mined: the nonce stays taken by a transaction nobody mines
            if replace and entry.state is _State.PENDING and waited > self.settings.replace_after_s:
                try:
                    await self._replace_or_abandon(entry)
                except (AllEndpointsDown, Web3RPCError, SignerRefused, SignerUnavailable):
                    entry.last_sent = time.monotonic()  # try again after another period
            await asyncio.sleep(self.settings.poll_interval_s)

    async def _settled_by_receipt(self, entry: _Order) -> bool:
        for tx_hash in reversed(entry.hashes):
            try:
                receipt = await self._receipt(tx_hash)
            except AllEndpointsDown:
                receipt = None  # keep polling: an endpoint may come back
            if receipt is not None:
                await self._settle(entry, tx_hash, receipt)
                return True
        return False

    async def _nonce_taken(self, entry: _Order) -> bool:
        address = to_checksum_address(self.signer.address)
        try:
            mined = await self.rpc.run(lambda w3: w3.eth.get_transaction_count(address, "latest"))
        except AllEndpointsDown:
            return False
        return int(mined) > entry.nonce

    async def _resend(self, entry: _Order) -> None:
        """Broadcast `unsent` again: the same bytes, so the same hash and nonce."""
        try:
            await self._send_raw(entry.unsent)
        except AllEndpointsDown:
            return
        except Web3RPCError as exc:  # taken, or superseded: its receipt (or none) decides
            log.info("%s: rebroadcast refused: %s", entry.client_order_id, exc)
        entry.unsent = b""

    async def _replace_or_abandon(self, entry: _Order) -> None:
        fees = (_bump(entry.fees[0], self.settings.fee_bump_percent),
                _bump(entry.fees[1], self.settings.fee_bump_percent))  # fmt: skip
        previous = entry.venue_order_id
        if entry.replacements < self.settings.max_replacements and not entry.cancel_requested:
            try:
                tx_hash = await self._sign_and_send(entry, "REPLACEMENT", entry.call, fees)
            except SignerRefused as exc:  # an expired approval, say: the order is abandoned
                log.warning("%s: the signer refused the replacement (%s): abandoning it",
                            entry.client_order_id, exc)  # fmt: skip
                entry.replacements = self.settings.max_replacements
                return await self._replace_or_abandon(entry)
            crash_point("uniswap.mid_replacement")  # journaled and broadcast, not yet reported
            entry.replacements += 1
            entry.fees, entry.last_sent = fees, time.monotonic()
            detail = (f"not mined within {self.settings.replace_after_s}s: nonce {entry.nonce} "
                      f"re-sent at maxFee {fees[0]} / priority {fees[1]} wei "
                      f"(replacement {entry.replacements} of {self.settings.max_replacements})")  # fmt: skip
            self._report(Replaced(entry.client_order_id, previous, tx_hash, detail))
            return
        await self._kill(entry, fees, "ABANDON")
        entry.state = _State.ABANDONED
        detail = (f"not mined after {entry.replacements} replacement(s): nonce {entry.nonce} taken "
                  f"by a 0-value self-transfer {entry.kill_hash}")  # fmt: skip
        self._report(Reject(entry.client_order_id, "ABANDONED", detail))

    async def _kill(self, entry: _Order, fees: tuple[int, int], kind: TxKind) -> None:
        """Take the order's nonce with a 0-value transfer to the wallet itself."""
        call = {"to": self.signer.address, "value": 0, "data": "0x", "gas": SELF_TRANSFER_GAS}
        await self._sign_and_send(entry, kind, call, fees)
        entry.fees, entry.last_sent = fees, time.monotonic()

    async def _settle(self, entry: _Order, tx_hash: str, receipt: Any) -> None:
        self._approvals.pop(entry.client_order_id, None)  # mined: no retry will need it
        if tx_hash == entry.kill_hash:
            if entry.cancel_requested and entry.state is _State.PENDING:
                entry.state = _State.CANCELED
                self._report(Canceled(entry.client_order_id, "nonce taken by a self-transfer"))
            return  # an abandoned order: its Reject was reported when the nonce was taken
        if int(receipt["status"]) != 1:
            entry.state = _State.REVERTED
            reason = await self._replay_reason(entry, tx_hash, receipt)
            self._report(Reject(entry.client_order_id, "REVERTED", reason))
            return
        fill = await self._fill_from(entry.client_order_id, tx_hash, receipt)
        entry.state = _State.FILLED
        entry.fill = fill
        if fill is not None:
            self._report(fill)

    async def _replay_reason(self, entry: _Order, tx_hash: str, receipt: Any) -> str:
        where = f"tx {tx_hash} reverted in block {receipt['blockNumber']}"
        call = entry.call or await self._call_of(tx_hash)
        try:
            await self._eth_call(
                {k: call[k] for k in ("from", "to", "data")}, int(receipt["blockNumber"])
            )
        except ContractLogicError as exc:
            return f"{where}: {self._reason(exc)}"
        except Exception:  # the replay is best effort; the revert itself is certain
            pass
        return where

    async def _call_of(self, tx_hash: str) -> dict[str, Any]:
        tx = await self.rpc.run(lambda w3: w3.eth.get_transaction(tx_hash))  # type: ignore[arg-type]
        data = tx["input"]
        return {"from": tx["from"], "to": tx["to"],
                "data": data if isinstance(data, str) else "0x" + bytes(data).hex()}  # fmt: skip

    async def _fill_from(self, coid: str, tx_hash: str, receipt: Any) -> Fill | None:
        swaps = [s for s in pair_swaps(receipt["logs"], self._pairs, self._quote.address.lower())
                 if s.to.lower() == self.signer.address.lower()]  # fmt: skip
        if not swaps:
            return None
        swap = swaps[-1]
        symbol = self._symbol_of_pair(swap)
        decimals = self.addresses.token(symbol).decimals
        side = Side.BUY if swap.asset_out > 0 else Side.SELL
        asset = swap.asset_out if side is Side.BUY else swap.asset_in
        quote = swap.quote_in if side is Side.BUY else swap.quote_out
        gas_paid = int(receipt["gasUsed"]) * int(receipt.get("effectiveGasPrice", 0))
        return Fill(
            client_order_id=coid,
            venue_order_id=tx_hash,
            fill_id=f"{tx_hash}:{swap.log_index}",
            symbol=symbol,
            side=side,
            quantity=from_units(asset, decimals),
            price=fill_price(
                asset, quote, asset_decimals=decimals, quote_decimals=self._quote.decimals
            ),
            fee=from_units(gas_paid, 18),
            fee_currency="ETH",
            fill_seq=1,
        )

    def _symbol_of_pair(self, swap: PairSwap) -> str:
        for symbol, pair in self.addresses.pairs.items():
            if pair.lower() == swap.pair:
                return symbol
        raise KeyError(swap.pair)

    # --- questions --------------------------------------------------------------------------

    async def cancel(self, client_order_id: str) -> None:
        entry = self._orders.get(client_order_id)
        if entry is None or entry.state is not _State.PENDING or entry.cancel_requested:
            return
        if entry.nonce < 0:  # adopted: the nonce comes from the transaction itself
            tx = await self.rpc.run(lambda w3: w3.eth.get_transaction(entry.hashes[0]))  # type: ignore[arg-type]
            entry.nonce, entry.fees = (
                int(tx["nonce"]),
                (int(tx["maxFeePerGas"]), int(tx["maxPriorityFeePerGas"])),
            )
        entry.cancel_requested = True
        fees = (_bump(entry.fees[0], self.settings.fee_bump_percent),
                _bump(entry.fees[1], self.settings.fee_bump_percent))  # fmt: skip
        try:
            await self._kill(entry, fees, "CANCEL")
        except (SignerRefused, SignerUnavailable, QueueConflict) as exc:
            entry.cancel_requested = False  # still working: a later cancel may pass
            raise VenueError(f"the cancel of {client_order_id} was not signed: {exc}") from None

    async def query(self, client_order_id: str) -> OrderReport:
        entry = self._orders.get(client_order_id)
        if entry is None:
            return OrderReport(client_order_id, "", VenueStatus.UNKNOWN)
        spec = entry.spec
        report = OrderReport(
            client_order_id, entry.venue_order_id, VenueStatus.OPEN,
            symbol=spec.symbol if spec else "", side=spec.side if spec else None,
            quantity=spec.quantity if spec else Decimal(0),
        )  # fmt: skip
        for tx_hash in reversed(entry.hashes):
            receipt = await self._receipt(tx_hash)
            if receipt is None:
                continue
            if tx_hash == entry.kill_hash:
                status = VenueStatus.CANCELED if entry.cancel_requested else VenueStatus.EXPIRED
                return _with(report, venue_order_id=tx_hash, status=status)
            if int(receipt["status"]) != 1:
                return _with(report, venue_order_id=tx_hash, status=VenueStatus.REJECTED)
            fill = await self._fill_from(client_order_id, tx_hash, receipt)
            if fill is None:
                return _with(report, venue_order_id=tx_hash, status=VenueStatus.UNKNOWN)
            return _with(report, venue_order_id=tx_hash, status=VenueStatus.FILLED,
                         symbol=fill.symbol, side=fill.side, quantity=report.quantity or fill.quantity,
                         filled=fill.quantity, average_price=fill.price)  # fmt: skip
        if entry.state is _State.REJECTED:
            return _with(report, status=VenueStatus.REJECTED)
        if entry.state in (_State.ABANDONED, _State.UNMINED):
            return _with(report, status=VenueStatus.EXPIRED)
        return report

    async def resend_fills(self) -> int:
        """`ResendsFills`: re-read the receipts of the filled orders and report their fills
        again (a fill is never lost in transit here, but this is how a status answer that
        disagrees with the journal is settled; the repeats dedupe by key)."""
        resent = 0
        for entry in [e for e in self._orders.values() if e.state is _State.FILLED]:
            for tx_hash in entry.hashes:
                receipt = await self._receipt(tx_hash)
                fill = None if receipt is None else await self._fill_from(
                    entry.client_order_id, tx_hash, receipt)  # fmt: skip
                if fill is not None:
                    self._report(fill)
                    resent += 1
        return resent

    async def reports(self) -> AsyncIterator[VenueReport]:
        while True:
            report = await self._queue.get()
            if report is None:
                return
            yield report

    async def balances(self) -> Mapping[str, Decimal]:
        """Token balances of the wallet, in asset units (the quote included; not ETH for gas);
        with a baseline, their change since it (what the fills moved)."""
        if self._baseline is None:
            return await self._wallet_balances()
        # Compared with the book, balances must not be ahead of the fills it folded: no order in
        # flight before or after the read, and none reported (or left unread) meanwhile.
        before = self._settled_mark()
        current = await self._wallet_balances()
        if before is None or self._settled_mark() != before:
            raise VenueError("orders in flight: the balances are not comparable with the "
                             "book now (the next round reconciles)")  # fmt: skip
        return change_since(self._baseline, current)

    def _settled_mark(self) -> int | None:
        """How many reports were queued so far, or None while an order is in flight or a
        report still waits to be read."""
        in_flight = any(o.state is _State.PENDING or (o.state is _State.ABANDONED and
                                                      o.watcher is not None and not o.watcher.done())
                        for o in self._orders.values())  # fmt: skip
        return None if in_flight or not self._queue.empty() else self._reported

    async def _wallet_balances(self) -> dict[str, Decimal]:
        owner = self.signer.address
        out: dict[str, Decimal] = {}
        for symbol, record in self.addresses.tokens.items():
            raw = await self._eth_call({"to": record.address,
                                        "data": self._erc20.encode_abi("balanceOf", args=[owner])})  # fmt: skip
            out[symbol] = from_units(int.from_bytes(raw, "big"), record.decimals)
        return out

    async def open_orders(self) -> list[OrderReport]:
        return [
            OrderReport(
                e.client_order_id,
                e.venue_order_id,
                VenueStatus.OPEN,
                symbol=e.spec.symbol if e.spec else "",
                side=e.spec.side if e.spec else None,
                quantity=e.spec.quantity if e.spec else Decimal(0),
            )
            for e in self._orders.values()
            if e.state is _State.PENDING and e.hashes
        ]


def _with(report: OrderReport, **changes: Any) -> OrderReport:
    return replace(report, **changes)
