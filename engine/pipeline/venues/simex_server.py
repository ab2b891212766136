"""The simulated exchange zkrisk ships: a local WebSocket server over `simex_book.Book`.

It stands in for the centralised venues that cannot be reached from here (no exchange account,
no network): the same protocol shape, a real order book, real partial fills, and the faults a
real venue's gateway has. Its messages follow ccxt's unified order and trade structures
(simex_wire.py), so an adapter over ccxt (`exchange.create_order(...)`, `watch_orders`,
`watch_my_trades`) is a small step from `simex.SimexVenue`. Where ccxt has floats, amounts and
prices here are decimal strings.

Protocol (JSON text frames). A request `{"id": <int or str>, "method": M, "params": {...}}`
gets one response `{"id": ..., "result": ...}` or `{"id": ..., "error": {"code", "message"}}`:
- `createOrder` {symbol 'WETH/USDC', type 'limit'|'market', side 'buy'|'sell', amount, price,
  params {clientOrderId}} → the order (status 'rejected' with `info.reason` when refused; a
  client order id the account already used → that order, with `info.duplicate` true);
- `cancelOrder` {id | params.clientOrderId} → the canceled order (error ORDER_NOT_OPEN with
  the order in `error.order` when it is already final, ORDER_NOT_FOUND when unknown);
- `fetchOrder` {id | params.clientOrderId}, `fetchOpenOrders` {symbol?}, `fetchBalance` {}
  (ccxt's {free, used, total} per asset), `ping` {}, `subscribe` {sinceSeq} (resends the
  account's fills after that fill sequence, then answers);
- `admin` {faults?, mids?, silence_ms?, disconnect?, report?} changes the faults or the mids at
  run time, starts a silence, drops every connection, or returns every account's balances and
  open orders (`report`: the venue side of a reconciliation). Admin is never faulted nor silent,
  and any connection may call it (a local simulator: it guards nothing).
Pushes, to every connection of the account: `{"channel": "trade", "data": <trade>}` per fill
(`info.seq` is the account's fill sequence), then `{"channel": "order", "data": <order>}` for
each order the fills changed, the new one included when it filled on arrival; an order push
also follows a cancel. A new order's answer is sent before its fills.

Accounts: with `tokens` (account → token) a connection must send `Authorization: Bearer
<token>` (HTTP 401 otherwise) and trades as that account (HTTP 403 when its `X-Simex-Account`
names another); without, `X-Simex-Account` names the account ('default' if absent).

Prices: the mids move by a seeded random walk (`walk_interval_s`), or follow a market-data
feed (`follow_url`, the shipped `zkrisk feed serve`): each of its quotes sets that symbol's mid,
as arbitrage keeps a venue near the market, so a bot trading the feed's prices finds them here.

Faults (`Faults`, seeded; settable at start and by `admin`), on the messages of the kinds in
`targets`: 'ack' (createOrder / cancelOrder answers), 'fill' (trade pushes), 'order' (order
pushes); other answers are never faulted. Per message: drop (`drop_rate`), else maybe send
twice (`duplicate_rate`: the copy after zero to two later frames), and either delay it and its
copy by `delay_ms` (share `delay_rate`) or hold it back (`reorder_rate`) until one to three
later frames went out, or `REORDER_HOLD_S` passed. `reject_rate` / `reject_all` reject new
orders (they exist at the venue as 'rejected'; a client order id it already holds keeps its
order). A silence (`silence(seconds)`) keeps accepting and executing requests but sends nothing
but admin answers; what it would have sent is lost. `injected` records every fault applied.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from http import HTTPStatus
from typing import Any, ClassVar, Literal

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .simex_book import (
    FINAL,
    QUOTE,
    Book,
    BookError,
    MakerConfig,
    Outcome,
    VenueOrder,
    check_order_fields,
)
from .simex_wire import (
    RequestError,
    balance_json,
    base_symbol,
    decimal_field,
    num,
    order_ids,
    order_json,
    trade_json,
)

REORDER_HOLD_S = 0.05
"""A held-back frame is released after this long even when no later frame pushes it out."""
MessageKind = Literal["ack", "fill", "order", "other"]
FAULT_KINDS: frozenset[str] = frozenset({"ack", "fill", "order"})
DEFAULT_MIDS = {"WETH": Decimal(3000), "WBTC": Decimal(60_000)}


@dataclass(frozen=True)
class Faults:
    seed: int = 7
    drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    reorder_rate: float = 0.0
    delay_rate: float = 0.0
    delay_ms: int = 0
    reject_rate: float = 0.0
    reject_all: bool = False
    targets: frozenset[str] = FAULT_KINDS

    def __post_init__(self) -> None:
        for name in ("drop_rate", "duplicate_rate", "reorder_rate", "delay_rate", "reject_rate"):
            rate = getattr(self, name)
            if not isinstance(rate, int | float) or not 0 <= rate <= 1:
                raise ValueError(f"{name} {rate!r} must be a number within [0, 1]")
        if not isinstance(self.delay_ms, int) or self.delay_ms < 0:
            raise ValueError(f"delay_ms {self.delay_ms!r} must be an integer ≥ 0")
        if not isinstance(self.reject_all, bool):
            raise ValueError(f"reject_all {self.reject_all!r} must be true or false")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError(f"seed {self.seed!r} must be an integer")
        if unknown := set(self.targets) - FAULT_KINDS:
            raise ValueError(f"targets {sorted(unknown)}: expected some of {sorted(FAULT_KINDS)}")

    def updated(self, changes: Mapping[str, Any]) -> Faults:
        """These faults with `changes` (a JSON object) applied; unknown names are refused."""
        names = {f.name for f in fields(self)}
        if unknown := set(changes) - names:
            raise ValueError(f"unknown fault {sorted(unknown)}; expected some of {sorted(names)}")
        data = dict(changes)
        if "targets" in data:
            data["targets"] = frozenset(data["targets"])
        return replace(self, **data)


@dataclass(eq=False)
class _Held:
    frames: int
    text: str


@dataclass(eq=False)
class _Conn:
    """One client connection: an outbound queue with the reorder / duplicate holds."""

    ws: ServerConnection
    account: str
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    held: list[_Held] = field(default_factory=list)

    def put(self, text: str) -> None:
        """Send `text` next; held-back frames whose count of later frames is reached follow."""
        self.queue.put_nowait(text)
        for item in self.held:
            item.frames -= 1
        due = [h for h in self.held if h.frames <= 0]
        self.held = [h for h in self.held if h.frames > 0]
        for item in due:
            self.queue.put_nowait(item.text)

    def hold(self, text: str, frames: int) -> None:
        """Send `text` after `frames` later frames, or after REORDER_HOLD_S at the latest."""
        if frames <= 0:
            self.queue.put_nowait(text)
            return
        item = _Held(frames, text)
        self.held.append(item)
        asyncio.get_running_loop().call_later(REORDER_HOLD_S, self._release, item)

    def _release(self, item: _Held) -> None:
        if any(h is item for h in self.held):
            self.held = [h for h in self.held if h is not item]
            self.queue.put_nowait(item.text)


class SimexServer:
    """In-process: `async with SimexServer(...) as server:`; see the module docstring."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        mids: Mapping[str, Decimal] = DEFAULT_MIDS,
        seed: int = 7,
        faults: Faults = Faults(),
        tokens: Mapping[str, str] | None = None,
        walk_interval_s: float | None = None,
        follow_url: str | None = None,
        maker: MakerConfig | None = None,
        taker_fee_bps: int = 5,
        maker_fee_bps: int = 1,
        initial_balances: Mapping[str, Decimal] | None = None,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self.host, self.port = host, port
        self.book = Book(mids, seed=seed, maker=maker or MakerConfig(), taker_fee_bps=taker_fee_bps,
                         maker_fee_bps=maker_fee_bps, initial_balances=initial_balances,
                         clock_ms=clock_ms)  # fmt: skip
        self._accounts_by_token = {t: a for a, t in (tokens or {}).items()}
        self.walk_interval_s = walk_interval_s
        self.follow_url = follow_url
        """A market-data feed (the shipped `zkrisk feed serve`) whose mids the book follows."""
        self.followed = 0
        self.faults = faults
        self._rng = random.Random(faults.seed)
        self._reject_rng = random.Random(faults.seed + 1)
        self._silent_until = 0.0
        self._conns: set[_Conn] = set()
        self._server: Server | None = None
        self._walker: asyncio.Task[None] | None = None
        self.injected: list[tuple[str, MessageKind, str]] = []
        """(fault, message kind, frame) for every fault applied, in order."""
        self.requests = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._deferred: list[Callable[[], None]] = []

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    async def __aenter__(self) -> SimexServer:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        # No permessage-deflate: on loopback it costs CPU per frame and saves nothing.
        self._server = await serve(self._handle, self.host, self.port, compression=None,
                                   process_request=self._gate, max_size=1 << 20)  # fmt: skip
        self.port = int(next(iter(self._server.sockets)).getsockname()[1])
        if self.follow_url:
            self._walker = asyncio.create_task(self._follow(self.follow_url))
        elif self.walk_interval_s:
            self._walker = asyncio.create_task(self._walk(self.walk_interval_s))

    async def stop(self) -> None:
        if self._walker is not None:
            self._walker.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # --- run-time controls ---------------------------------------------------------------------

    def set_faults(self, faults: Faults) -> None:
        """Switch faults now; the fault generators restart from `faults.seed`."""
        self.faults = faults
        self._rng = random.Random(faults.seed)
        self._reject_rng = random.Random(faults.seed + 1)

    def silence(self, seconds: float) -> None:
        self._silent_until = time.monotonic() + seconds

    @property
    def silent(self) -> bool:
        return time.monotonic() < self._silent_until

    def set_mid(self, symbol: str, mid: Decimal) -> None:
        self._publish(self.book.set_mid(symbol, mid))

    async def drop_connections(self) -> None:
        await asyncio.gather(*(c.ws.close(1012, "simex: connection dropped")
                               for c in list(self._conns)))  # fmt: skip

    def report(self) -> dict[str, Any]:
        """Every account's balances and open orders (the venue side of a reconciliation)."""
        return {a: {"balances": {k: num(v) for k, v in self.book.balances(a).items()},
                    "open_orders": [order_json(o) for o in self.book.open_orders(a)]}
                for a in self.book.accounts()}  # fmt: skip

    async def _follow(self, url: str) -> None:
        """Keep each symbol's mid at the feed's latest quote, as arbitrage keeps a venue near
        the market (reconnecting with backoff; a message that is not a quote is skipped)."""
        from websockets.asyncio.client import connect

        delay = 0.1
        while True:
            try:
                async with connect(url, compression=None) as ws:
                    await ws.send(json.dumps({"op": "subscribe", "symbols": list(self.book.mids)}))
                    delay = 0.1
                    async for frame in ws:
                        msg = json.loads(frame)
                        if msg.get("type") == "quote" and msg.get("symbol") in self.book.mids:
                            mid = (Decimal(msg["bid"]) + Decimal(msg["ask"])) / 2
                            self.set_mid(msg["symbol"], mid)
                            self.followed += 1
            except (OSError, ValueError, KeyError, ArithmeticError, ConnectionClosed):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _walk(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self._publish(self.book.step_walk())

    # --- connections ---------------------------------------------------------------------------

    def _account(self, request: Request) -> str | None:
        if not self._accounts_by_token:
            return request.headers.get("X-Simex-Account") or "default"
        auth = request.headers.get("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self._accounts_by_token.get(token.strip())

    def _gate(self, connection: ServerConnection, request: Request) -> Response | None:
        account = self._account(request)
        if account is None:
            why = "simex: missing or wrong token (Authorization: Bearer)\n"
            return connection.respond(HTTPStatus.UNAUTHORIZED, why)
        named = request.headers.get("X-Simex-Account")
        if named is not None and named != account:
            why = f"simex: the token is account {account!r}'s, not {named!r}'s\n"
            return connection.respond(HTTPStatus.FORBIDDEN, why)
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        account = self._account(ws.request)
        assert account is not None  # the gate refused the rest
        conn = _Conn(ws, account)
        self._conns.add(conn)
        writer = asyncio.create_task(self._write(conn))
        try:
            async for frame in ws:
                self.requests += 1
                self._serve_frame(conn, frame)
                if self._deferred:
                    # One loop turn lets the writer send the answer (the ack) before the fills'
                    # frames are built: acks are what latency-sensitive clients wait for.
                    await asyncio.sleep(0)
                    deferred, self._deferred = self._deferred, []
                    for publish in deferred:
                        publish()
        except ConnectionClosed:
            pass
        finally:
            self._conns.discard(conn)
            conn.queue.put_nowait(None)
            await writer

    @staticmethod
    async def _write(conn: _Conn) -> None:
        try:
            while (text := await conn.queue.get()) is not None:
                await conn.ws.send(text)
        except ConnectionClosed:
            pass

    # --- requests ------------------------------------------------------------------------------

    def _serve_frame(self, conn: _Conn, frame: str | bytes) -> None:
        request_id: object = None
        try:
            msg = json.loads(frame)
            if not isinstance(msg, dict):
                raise RequestError("BAD_REQUEST", 'expected {"id", "method", "params"}')
            request_id, method = msg.get("id"), msg.get("method")
            params = msg.get("params") or {}
            if not isinstance(params, dict):
                raise RequestError("BAD_REQUEST", "params must be an object")
            handler = self._methods.get(method) if isinstance(method, str) else None
            if handler is None:
                raise RequestError("BAD_REQUEST", f"unknown method {method!r}; expected one "
                                   f"of {', '.join(sorted(self._methods))}")  # fmt: skip
            handler(self, conn, request_id, params)
        except json.JSONDecodeError as exc:
            self._error(conn, request_id, "BAD_REQUEST", f"not JSON: {exc}")
        except RequestError as exc:
            self._error(conn, request_id, exc.code, str(exc), exc.order)
        except BookError as exc:
            self._error(conn, request_id, exc.code, str(exc), exc.order)
        except ValueError as exc:
            self._error(conn, request_id, "BAD_REQUEST", str(exc))
        except (TypeError, AttributeError) as exc:  # a field of the wrong shape
            self._error(conn, request_id, "BAD_REQUEST", f"wrong type: {exc}")

    def _error(self, conn: _Conn, request_id: object, code: str, message: str,
               order: VenueOrder | None = None, kind: MessageKind = "other") -> None:  # fmt: skip
        error: dict[str, Any] = {"code": code, "message": message}
        if order is not None:
            error["order"] = order_json(order)
        self._send(conn, {"id": request_id, "error": error}, kind)

    def _create_order(self, conn: _Conn, request_id: object, p: dict[str, Any]) -> None:
        symbol = base_symbol(p.get("symbol"))
        amount = decimal_field(p, "amount", required=True)
        price = decimal_field(p, "price", required=False)
        inner = p.get("params") or {}
        coid = inner.get("clientOrderId", "") if isinstance(inner, dict) else None
        if not isinstance(coid, str) or len(coid) > 64:
            raise RequestError("BAD_REQUEST", "params.clientOrderId must be a string of ≤ 64")
        assert amount is not None
        side, type_ = check_order_fields(p.get("side"), p.get("type"), amount, price)
        f, account = self.faults, conn.account
        if f.reject_all or self._reject_rng.random() < f.reject_rate:
            # A client order id the venue holds keeps its order (the book returns it).
            outcome = self.book.reject(account, coid, symbol, side, type_, amount, price,
                                       reason="VENUE_REJECTED")  # fmt: skip
            if not outcome.duplicate:
                self.injected.append(("reject", "ack", coid))
        else:
            outcome = self.book.place(account, coid, symbol, side, type_, amount, price)
        assert outcome.order is not None
        result = order_json(outcome.order, duplicate=outcome.duplicate)
        self._send(conn, {"id": request_id, "result": result}, "ack")
        self._deferred.append(lambda: self._publish(outcome, asked=outcome.order))

    def _cancel_order(self, conn: _Conn, request_id: object, p: dict[str, Any]) -> None:
        order_id, coid = order_ids(p)
        try:
            outcome = self.book.cancel(conn.account, order_id=order_id, client_order_id=coid)
        except BookError as exc:
            self._error(conn, request_id, exc.code, str(exc), exc.order, kind="ack")
            return
        assert outcome.order is not None
        self._send(conn, {"id": request_id, "result": order_json(outcome.order)}, "ack")
        self._push_order(outcome.order)

    def _fetch_order(self, conn: _Conn, request_id: object, p: dict[str, Any]) -> None:
        order_id, coid = order_ids(p)
        order = self.book.find(conn.account, order_id=order_id, client_order_id=coid)
        if order is None:
            raise RequestError("ORDER_NOT_FOUND", "no such order for this account")
        self._send(conn, {"id": request_id, "result": order_json(order)}, "other")

    def _fetch_open_orders(self, conn: _Conn, request_id: object, p: dict[str, Any]) -> None:
        symbol = None if p.get("symbol") is None else base_symbol(p["symbol"])
        if symbol is not None and symbol not in self.book.mids:
            raise RequestError("BAD_SYMBOL", f"unknown symbol {p['symbol']!r}")
        orders = [order_json(o) for o in self.book.open_orders(conn.account, symbol)]
        self._send(conn, {"id": request_id, "result": orders}, "other")

    def _fetch_balance(self, conn: _Conn, request_id: object, p: dict[str, Any]) -> None:
        used: dict[str, Decimal] = {}
        for o in self.book.open_orders(conn.account):
            asset, amount = ((QUOTE, o.remaining * (o.price or 0)) if o.side == "buy"
                             else (o.symbol, o.remaining))  # fmt: skip
            used[asset] = used.get(asset, Decimal(0)) + amount
        result = balance_json(self.book.balances(conn.account), used)
        self._send(conn, {"id": request_id, "result": result}, "other")

    def _ping(self, conn: _Conn, request_id: object, p: dict[str, Any]) -> None:
        self._send(conn, {"id": request_id, "result": "pong"}, "other")

    def _subscribe(self, conn: _Conn, request_id: object, p: dict[str, Any]) -> None:
        since = p.get("sinceSeq", 0)
        if not isinstance(since, int) or isinstance(since, bool) or since < 0:
            raise RequestError("BAD_REQUEST", f"sinceSeq {since!r}: expected an integer ≥ 0")
        trades = self.book.fills(conn.account, since)
        for trade in trades:
            self._send(conn, {"channel": "trade", "data": trade_json(trade)}, "fill")
        self._send(conn, {"id": request_id, "result": {"resent": len(trades)}}, "other")

    def _admin(self, conn: _Conn, request_id: object, p: dict[str, Any]) -> None:
        known = {"faults", "mids", "silence_ms", "disconnect", "report"}
        if unknown := set(p) - known:
            raise RequestError("BAD_REQUEST", f"admin: unknown {sorted(unknown)}; expected "
                               f"some of {sorted(known)}")  # fmt: skip
        if "faults" in p:
            if not isinstance(p["faults"], dict):
                raise RequestError("BAD_REQUEST", "admin faults: expected an object")
            self.set_faults(self.faults.updated(p["faults"]))
        for symbol, mid in (p.get("mids") or {}).items():
            value = decimal_field({"mid": mid}, "mid", required=True)
            assert value is not None
            self.set_mid(symbol, value)
        if "silence_ms" in p:
            self.silence(float(p["silence_ms"]) / 1000)
        result: dict[str, Any] = {"ok": True}
        if p.get("report"):
            result["report"] = self.report()
        self._send(conn, {"id": request_id, "result": result}, "other", admin=True)
        if p.get("disconnect"):
            task = asyncio.get_running_loop().create_task(self.drop_connections())
            self._tasks.add(task)  # a reference, so the task is not collected mid-way
            task.add_done_callback(self._tasks.discard)

    _methods: ClassVar[dict[str, Callable[[SimexServer, _Conn, object, dict[str, Any]], None]]] = {
        "createOrder": _create_order,
        "cancelOrder": _cancel_order,
        "fetchOrder": _fetch_order,
        "fetchOpenOrders": _fetch_open_orders,
        "fetchBalance": _fetch_balance,
        "ping": _ping,
        "subscribe": _subscribe,
        "admin": _admin,
    }

    # --- sending, with the faults ----------------------------------------------------------------

    def _publish(self, outcome: Outcome, asked: VenueOrder | None = None) -> None:
        """Push the fills of `outcome` and the order updates they caused."""
        for trade in outcome.trades:
            for conn in self._conns_of(trade.account):
                self._send(conn, {"channel": "trade", "data": trade_json(trade)}, "fill")
        changed = list(outcome.touched)
        if asked is not None and not outcome.duplicate and (asked.filled or asked.status in FINAL):
            changed.append(asked)
        for order in changed:
            self._push_order(order)

    def _push_order(self, order: VenueOrder) -> None:
        for conn in self._conns_of(order.account):
            self._send(conn, {"channel": "order", "data": order_json(order)}, "order")

    def _conns_of(self, account: str) -> list[_Conn]:
        return [c for c in self._conns if c.account == account]

    def _send(self, conn: _Conn, message: dict[str, Any], kind: MessageKind,
              admin: bool = False) -> None:  # fmt: skip
        text = json.dumps(message, separators=(",", ":"))
        if admin:
            conn.queue.put_nowait(text)
            return
        if self.silent:
            self.injected.append(("silence", kind, text))
            return
        f = self.faults
        if kind not in f.targets:
            conn.put(text)
            return
        rng = self._rng
        drop, delay, reorder, duplicate = (rng.random() for _ in range(4))
        if drop < f.drop_rate:
            self.injected.append(("drop", kind, text))
            return
        copies = 2 if duplicate < f.duplicate_rate else 1
        if copies == 2:
            self.injected.append(("duplicate", kind, text))
        if delay < f.delay_rate and f.delay_ms:
            self.injected.append(("delay", kind, text))
            loop = asyncio.get_running_loop()
            for _ in range(copies):
                loop.call_later(f.delay_ms / 1000, self._put_if_open, conn, text)
            return
        if reorder < f.reorder_rate:
            self.injected.append(("reorder", kind, text))
            conn.hold(text, rng.randint(1, 3))
        else:
            conn.put(text)
        if copies == 2:
            conn.hold(text, rng.randint(0, 2))

    def _put_if_open(self, conn: _Conn, text: str) -> None:
        if conn in self._conns:
            conn.put(text)
