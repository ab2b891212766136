"""`SimexVenue`: the `Venue` over the simulated exchange's WebSocket (simex_server.py).

`submit` returns once the `createOrder` request is written to the socket; it never waits for
the answer. The ack is that answer, read by the reader task and yielded by `reports()` as an
`Ack` (or a `Reject`: status 'rejected', or an error answer such as BAD_REQUEST). Pushes become
reports too: a trade → `Fill` (fill id = the venue's trade id), an order update → `Canceled`
(status 'canceled', or 'expired': a market order's unfilled rest) or else an `OrderReport`.
Duplicates from the venue are passed through (the consumer dedupes by key).

`submit` of a client order id this adapter already sent returns `duplicate=True` and sends it
again: the venue holds one order per client order id, and the resend recovers a lost ack.

A dropped connection is reopened with jittered exponential backoff; on every (re)connect the
adapter subscribes with `sinceSeq`, the highest fill sequence up to which it has seen every
fill of the account, so the venue resends the fills it may have missed (`resend_fills()` asks
for them on demand). While disconnected, `submit` / `cancel` raise a retryable `VenueError`.
A reconnect refused for good (HTTP 4xx: the token revoked) ends `reports()` by raising that
non-retryable `VenueError`. A request in flight when the connection drops gets no answer (its ack is lost; the order may
exist: `query` finds it). `query`, `balances` and `open_orders` wait for their answer up to
`request_timeout_s`, then raise a retryable `VenueError`.

Symbols: the book's 'WETH' is the venue's 'WETH/USDC'. A MARKET `OrderSpec` is sent as a ccxt
market order with a protection price `reference_price × (1 ± max_slippage_bps)`, when given.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from ...journal.events import OrderSpec
from ...risk.models import Side
from ..sources.ws import backoff_delay
from .base import (
    Ack,
    Canceled,
    Fill,
    OrderReport,
    Reject,
    Submitted,
    VenueError,
    VenueReport,
    VenueStatus,
)
from .simex_book import QUOTE

_STATUS = {"closed": VenueStatus.FILLED, "canceled": VenueStatus.CANCELED,
           "rejected": VenueStatus.REJECTED, "expired": VenueStatus.EXPIRED}  # fmt: skip


def _dec(value: object, default: Decimal = Decimal(0)) -> Decimal:
    return default if value is None else Decimal(str(value))


def _base(symbol: object) -> str:
    return str(symbol).split("/")[0]


def _side(side: object) -> Side:
    return Side.BUY if side == "buy" else Side.SELL


def order_report(order: Mapping[str, Any]) -> OrderReport:
    """ccxt order structure → `OrderReport`."""
    filled = _dec(order.get("filled"))
    status = _STATUS.get(str(order.get("status")))
    if status is None:
        status = VenueStatus.PARTIALLY_FILLED if filled > 0 else VenueStatus.OPEN
    average = order.get("average")
    return OrderReport(
        client_order_id=str(order.get("clientOrderId") or ""),
        venue_order_id=str(order.get("id") or ""), status=status,
        symbol=_base(order.get("symbol")), side=_side(order.get("side")),
        quantity=_dec(order.get("amount")), filled=filled,
        average_price=None if average is None else _dec(average),
    )  # fmt: skip


def fill_report(trade: Mapping[str, Any]) -> Fill:
    """ccxt trade structure → `Fill`."""
    fee = trade.get("fee") or {}
    info = trade.get("info") or {}
    return Fill(
        client_order_id=str(trade.get("clientOrderId") or ""),
        venue_order_id=str(trade.get("order") or ""), fill_id=str(trade.get("id") or ""),
        symbol=_base(trade.get("symbol")), side=_side(trade.get("side")),
        quantity=_dec(trade.get("amount")), price=_dec(trade.get("price")),
        fee=_dec(fee.get("cost")), fee_currency=str(fee.get("currency") or QUOTE),
        fill_seq=int(info.get("seq") or 0),
        venue_time_ns=int(trade.get("timestamp") or 0) * 1_000_000,
    )  # fmt: skip


def create_order_params(order: OrderSpec) -> dict[str, Any]:
    """`OrderSpec` → the ccxt createOrder arguments."""
    side = "buy" if order.side is Side.BUY else "sell"
    params: dict[str, Any] = {"symbol": f"{order.symbol}/{QUOTE}", "side": side,
                              "amount": str(order.quantity),
                              "params": {"clientOrderId": order.client_order_id}}  # fmt: skip
    if order.limit_price is not None:
        params.update(type="limit", price=str(order.limit_price))
    else:
        params["type"] = "market"
        if order.max_slippage_bps is not None:
            sign = 1 if order.side is Side.BUY else -1
            worst = order.reference_price * (1 + sign * Decimal(order.max_slippage_bps) / 10_000)
            params["price"] = str(worst.quantize(Decimal("0.00000001")))
    return params


def refused(name: str, url: str, account: str | None, code: int, body: bytes) -> VenueError:
    """The exchange turned the connection away (HTTP `code`): a 5xx may pass, a 4xx is this
    client's credentials or account, which no retry changes (the message says the fix)."""
    said = body.decode(errors="replace").strip() or "no reason given"
    whose = f"account {account!r}" if account else "this client"
    if code == 401:
        fix = (
            "give the account's API token: [venue.simex] token_env names the environment "
            "variable holding it"
        )
    elif code == 403:
        fix = "set [venue.simex] account to the token's account, or use that account's token"
    else:
        fix = "check [venue.simex] url, account and token_env"
    if code >= 500:
        return VenueError(f"{name}: {url} refused the connection (HTTP {code}: {said})")
    return VenueError(f"{name}: {url} refused {whose} (HTTP {code}: {said}): {fix}",
                      retryable=False)  # fmt: skip


class _Reports:
    """The reports queue as an async iterator that survives a cancelled `__anext__` (an
    async generator would be closed by it), so a consumer may wait with a timeout."""

    def __init__(self, queue: asyncio.Queue[VenueReport | VenueError | None]) -> None:
        self._queue = queue
        self._done = False

    def __aiter__(self) -> _Reports:
        return self

    async def __anext__(self) -> VenueReport:
        if self._done:
            raise StopAsyncIteration
        report = await self._queue.get()
        if report is None or isinstance(report, VenueError):
            self._done = True
            raise StopAsyncIteration if report is None else report
        return report


class SimexVenue:
    """The simulated exchange as a `Venue`; see the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        name: str = "simex",
        token: str | None = None,
        account: str | None = None,
        request_timeout_s: float = 2.0,
        backoff_s: float = 0.05,
        max_backoff_s: float = 2.0,
        seed: int = 0,
    ) -> None:
        self.url, self._name, self.account = url, name, account
        self._headers: dict[str, str] = {}
        if token is not None:
            self._headers["Authorization"] = f"Bearer {token}"
        if account is not None:
            self._headers["X-Simex-Account"] = account
        self.request_timeout_s = request_timeout_s
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        self._rng = random.Random(seed)
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._reports: asyncio.Queue[VenueReport | VenueError | None] = asyncio.Queue()
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._creates: dict[int, str] = {}  # request id → client order id (for its ack)
        self._cancels: dict[int, str] = {}
        self._sent: set[str] = set()
        self._fill_seqs: set[int] = set()
        self.fill_watermark = 0
        """Every fill of the account up to this sequence has been seen."""
        self.reconnects = 0
        self.bad_frames = 0
        self._closing = False

    @property
    def name(self) -> str:
        return self._name

    # --- connection ----------------------------------------------------------------------------

    async def connect(self) -> None:
        if self._reader is not None and not self._reader.done():
            return
        self._closing = False
        await self._open()
        self._reader = asyncio.create_task(self._read_forever())

    async def _open(self) -> None:
        try:
            self._ws = await connect(self.url, additional_headers=self._headers, open_timeout=5,
                                     compression=None, max_size=1 << 22)  # fmt: skip
        except InvalidStatus as exc:
            raise refused(self._name, self.url, self.account, exc.response.status_code,
                          exc.response.body) from None  # fmt: skip
        except (OSError, TimeoutError) as exc:
            raise VenueError(f"{self._name}: cannot reach {self.url}: {exc}") from None
        try:
            await self._ws.send(self._request("subscribe", {"sinceSeq": self.fill_watermark})[1])
        except ConnectionClosed:
            raise VenueError(f"{self._name}: {self.url} closed the connection at once") from None

    async def _read_forever(self) -> None:
        attempt = 0
        while not self._closing:
            ws = self._ws
            if ws is not None:
                try:
                    async for frame in ws:
                        attempt = 0
                        try:
                            self._on_frame(frame)
                        except (ValueError, KeyError, TypeError, AttributeError, ArithmeticError):
                            self.bad_frames += 1  # not the venue's shapes: skip, keep reading
                except ConnectionClosed:
                    pass
            self._ws = None
            self._fail_waiting("the connection dropped")
            if self._closing:
                break
            await asyncio.sleep(backoff_delay(attempt, self.backoff_s, self.max_backoff_s,
                                              self._rng))  # fmt: skip
            attempt += 1
            try:
                await self._open()
                self.reconnects += 1
            except VenueError as exc:
                if not exc.retryable:
                    self._reports.put_nowait(exc)  # e.g. the token was revoked: give up
                    return

    def _fail_waiting(self, why: str) -> None:
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(VenueError(f"{self._name}: {why}"))
        self._waiting.clear()
        self._creates.clear()
        self._cancels.clear()

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()  # it may be sleeping before a reconnect attempt
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
            self._reports.put_nowait(None)

    # --- requests ------------------------------------------------------------------------------

    def _request(self, method: str, params: dict[str, Any]) -> tuple[int, str]:
        rid = next(self._ids)
        return rid, json.dumps({"id": rid, "method": method, "params": params})

    async def _write(self, text: str) -> None:
        if self._ws is None:
            raise VenueError(f"{self._name}: not connected (reconnecting)")
        try:
            await self._ws.send(text)
        except ConnectionClosed:
            raise VenueError(f"{self._name}: the connection dropped while sending") from None

    async def _call(self, method: str, params: dict[str, Any], timeout: float | None = None
                    ) -> dict[str, Any]:  # fmt: skip
        rid, text = self._request(method, params)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = future
        try:
            await self._write(text)
            async with asyncio.timeout(timeout or self.request_timeout_s):
                return await future
        except TimeoutError:
            raise VenueError(f"{self._name}: no answer to {method} within "
                             f"{timeout or self.request_timeout_s:g} s") from None  # fmt: skip
        finally:
            self._waiting.pop(rid, None)

    async def submit(self, order: OrderSpec) -> Submitted:
        rid, text = self._request("createOrder", create_order_params(order))
        duplicate = order.client_order_id in self._sent
        self._creates[rid] = order.client_order_id
        try:
            await self._write(text)
        except VenueError:
            self._creates.pop(rid, None)
            raise
        self._sent.add(order.client_order_id)
        return Submitted(order.client_order_id, "", duplicate=duplicate)

    async def cancel(self, client_order_id: str) -> None:
        rid, text = self._request("cancelOrder", {"params": {"clientOrderId": client_order_id}})
        self._cancels[rid] = client_order_id
        await self._write(text)

    async def query(self, client_order_id: str) -> OrderReport:
        answer = await self._call("fetchOrder", {"params": {"clientOrderId": client_order_id}})
        if "error" in answer:
            if answer["error"].get("code") == "ORDER_NOT_FOUND":
                return OrderReport(client_order_id, "", VenueStatus.UNKNOWN)
            raise VenueError(f"{self._name}: fetchOrder: {answer['error']}", retryable=False)
        return order_report(answer["result"])

    async def balances(self) -> dict[str, Decimal]:
        answer = self._result("fetchBalance", await self._call("fetchBalance", {}))
        return {asset: _dec(total) for asset, total in answer["total"].items()}

    async def open_orders(self) -> list[OrderReport]:
        answer = self._result("fetchOpenOrders", await self._call("fetchOpenOrders", {}))
        return [order_report(o) for o in answer]

    async def healthy(self) -> bool:
        try:
            return "result" in await self._call(
                "ping", {}, timeout=min(0.5, self.request_timeout_s)
            )
        except VenueError:
            return False

    async def resend_fills(self) -> int:
        """Ask the venue for the fills after `fill_watermark` (they come as reports); returns
        how many it resent."""
        answer = await self._call("subscribe", {"sinceSeq": self.fill_watermark})
        return int(self._result("subscribe", answer)["resent"])

    async def admin(self, **params: Any) -> dict[str, Any]:
        """The server's admin call (faults, mids, silence, disconnect, report): for tests."""
        return dict(self._result("admin", await self._call("admin", params)))

    def _result(self, method: str, answer: dict[str, Any]) -> Any:
        if "error" in answer:
            raise VenueError(f"{self._name}: {method}: {answer['error']}", retryable=False)
        return answer["result"]

    # --- reports -------------------------------------------------------------------------------

    def reports(self) -> AsyncIterator[VenueReport]:
        return _Reports(self._reports)

    def _on_frame(self, frame: str | bytes) -> None:
        msg = json.loads(frame)
        channel = msg.get("channel")
        if channel == "trade":
            self._on_fill(fill_report(msg["data"]))
        elif channel == "order":
            self._reports.put_nowait(self._order_update(msg["data"]))
        elif "id" in msg:
            self._on_answer(msg)

    def _on_fill(self, fill: Fill) -> None:
        self._fill_seqs.add(fill.fill_seq)
        while self.fill_watermark + 1 in self._fill_seqs:
            self.fill_watermark += 1
            self._fill_seqs.discard(self.fill_watermark)
        self._reports.put_nowait(fill)

    def _on_answer(self, msg: dict[str, Any]) -> None:
        rid = msg["id"]
        future = self._waiting.pop(rid, None)
        if future is not None and not future.done():
            future.set_result(msg)
        if (coid := self._creates.pop(rid, None)) is not None:
            self._reports.put_nowait(self._create_answer(coid, msg))
        elif (coid := self._cancels.pop(rid, None)) is not None:
            if "result" in msg:
                self._reports.put_nowait(self._order_update(msg["result"]))
            elif "order" in msg["error"]:
                self._reports.put_nowait(order_report(msg["error"]["order"]))
            elif msg["error"].get("code") == "ORDER_NOT_FOUND":
                self._reports.put_nowait(OrderReport(coid, "", VenueStatus.UNKNOWN))

    @staticmethod
    def _create_answer(coid: str, msg: dict[str, Any]) -> VenueReport:
        if "error" in msg:
            error = msg["error"]
            return Reject(coid, str(error.get("code") or "VENUE_REJECTED"),
                          str(error.get("message") or ""))  # fmt: skip
        order = msg["result"]
        t_ns = int(order.get("timestamp") or 0) * 1_000_000
        if order.get("status") == "rejected":
            reason = str((order.get("info") or {}).get("reason") or "VENUE_REJECTED")
            return Reject(coid, reason, f"the venue rejected order {order.get('id')}", t_ns)
        return Ack(coid, str(order["id"]), t_ns)

    @staticmethod
    def _order_update(order: Mapping[str, Any]) -> VenueReport:
        status = order.get("status")
        if status in ("canceled", "expired"):
            reason = str(status) if status == "canceled" else f"expired: {order['info']['reason']}"
            return Canceled(str(order.get("clientOrderId") or ""), reason,
                            int(order.get("timestamp") or 0) * 1_000_000)  # fmt: skip
        return order_report(order)
