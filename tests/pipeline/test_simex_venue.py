"""`SimexVenue` against the real simulated exchange over loopback WebSocket: matching, cancels,
idempotent client order ids, reconnects, balances, bad requests, auth, `zkrisk simex serve`."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from decimal import Decimal

import pytest
from typer.testing import CliRunner
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from zkrisk.engine.chain.anvil import free_port
from zkrisk.engine.cli.main import app
from zkrisk.engine.pipeline.venues.base import (
    Ack,
    Canceled,
    Fill,
    OrderReport,
    Reject,
    Venue,
    VenueError,
    VenueReport,
    VenueStatus,
)
from zkrisk.engine.pipeline.venues.simex import SimexVenue
from zkrisk.engine.pipeline.venues.simex_server import Faults, SimexServer
from zkrisk.engine.risk.models import Side

from .simex_support import MIDS, collect, count, exchange, spec

D = Decimal


def test_the_adapter_is_a_venue() -> None:
    assert isinstance(SimexVenue("ws://127.0.0.1:1"), Venue)


def test_an_order_larger_than_the_best_level_is_acked_then_filled_in_parts() -> None:
    async def scenario() -> None:
        async with exchange() as (_server, venue):
            sent = await venue.submit(spec("c1", quantity="10"))
            assert (sent.client_order_id, sent.duplicate) == ("c1", False)
            got = await collect(venue, count(OrderReport))
        ack, *fills, final = got
        assert isinstance(ack, Ack) and ack.venue_order_id
        assert [(f.price, f.quantity, f.fill_seq) for f in fills if isinstance(f, Fill)] == [
            (D("3001.5"), D("6.0667"), 1), (D(3003), D("3.9333"), 2)]  # fmt: skip
        assert all(isinstance(f, Fill) and f.fill_id and f.client_order_id == "c1" and f.fee > 0
                   and f.venue_order_id == ack.venue_order_id for f in fills)  # fmt: skip
        assert isinstance(final, OrderReport) and final.status is VenueStatus.FILLED
        assert final.filled == D(10)

    asyncio.run(scenario())


def test_a_resting_order_is_canceled_and_the_cancel_is_reported() -> None:
    async def scenario() -> None:
        async with exchange() as (server, venue):
            await venue.submit(spec("c1", quantity="1", limit="2900"))
            await collect(venue, count(Ack))
            assert [o.client_order_id for o in await venue.open_orders()] == ["c1"]
            await venue.cancel("c1")
            got = await collect(venue, count(Canceled, 2))  # the answer and the push
            assert {type(r) for r in got} == {Canceled}
            assert (await venue.query("c1")).status is VenueStatus.CANCELED
            assert await venue.open_orders() == []
            server.set_mid("WETH", D(2800))
            assert await collect(venue, timeout=0.2) == []  # no fill after the cancel

    asyncio.run(scenario())


def test_a_fill_racing_a_cancel_wins_and_the_cancel_reports_the_filled_order() -> None:
    async def scenario() -> None:
        async with exchange() as (server, venue):
            await venue.submit(spec("c1", quantity="1", limit="2990"))
            await collect(venue, count(Ack))
            # The venue fills the order, but its fill reaches us late: our cancel crosses it.
            server.set_faults(Faults(delay_ms=600, delay_rate=1.0, targets=frozenset({"fill"})))
            server.set_mid("WETH", D(2980))
            await venue.cancel("c1")
            got = await collect(venue, count(Fill))
        first, *_rest, last = got
        assert isinstance(first, OrderReport) and first.status is VenueStatus.FILLED
        assert isinstance(last, Fill) and last.quantity == D(1) and last.price == D(2990)
        assert not any(isinstance(r, Canceled) for r in got)

    asyncio.run(scenario())


def test_a_partly_filled_order_canceled_keeps_its_fill() -> None:
    async def scenario() -> None:
        async with exchange(mids={"WETH": D(3000)}) as (server, venue):
            await venue.submit(spec("c1", Side.SELL, quantity="100", limit="3010"))
            await collect(venue, count(Ack))
            server.set_mid("WETH", D(3020))  # the maker buys what its bids reach: part of 100
            fills = await collect(venue, count(Fill))
            await venue.cancel("c1")
            await collect(venue, count(Canceled))
            report = await venue.query("c1")
        assert report.status is VenueStatus.CANCELED and D(0) < report.filled < D(100)
        assert sum(f.quantity for f in fills if isinstance(f, Fill)) <= report.filled

    asyncio.run(scenario())


def test_the_same_client_order_id_sent_twice_yields_one_order_at_the_venue() -> None:
    async def scenario() -> None:
        async with exchange() as (server, venue):
            first = await venue.submit(spec("c1", quantity="2"))
            again = await venue.submit(spec("c1", quantity="2"))
            got = await collect(venue, count(Ack, 2))
            # A retry after a crash: a new adapter, the same id.
            retry = SimexVenue(server.url)
            await retry.connect()
            await retry.submit(spec("c1", quantity="2"))
            retried = await collect(retry, count(Ack))
            balances = await retry.balances()
            await retry.close()
        assert (first.duplicate, again.duplicate) == (False, True)
        acks = [r for r in got + retried if isinstance(r, Ack)]
        assert len({a.venue_order_id for a in acks}) == 1
        assert balances["WETH"] == D(2)
        assert len(server.book.fills("default")) == 1

    asyncio.run(scenario())


def test_a_dropped_connection_is_reopened_and_the_fills_missed_meanwhile_are_resent() -> None:
    async def scenario() -> None:
        async with exchange() as (server, venue):
            await venue.submit(spec("c1", quantity="1", limit="2990"))
            await collect(venue, count(Ack))
            await server.drop_connections()
            with pytest.raises(VenueError) as err:
                await venue.query("c1")  # nothing answers while it reconnects
            assert err.value.retryable
            server.set_mid("WETH", D(2980))  # fills c1 while nobody is connected
            deadline = time.monotonic() + 3
            while venue.reconnects < 1 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            got = await collect(venue, count(Fill))
            assert (await venue.query("c1")).status is VenueStatus.FILLED
            await venue.submit(spec("c2", quantity="1"))
            await collect(venue, count(Ack))
        fill = next(r for r in got if isinstance(r, Fill))
        assert (fill.client_order_id, fill.fill_seq, venue.fill_watermark) == ("c1", 1, 2)

    asyncio.run(scenario())


def test_balances_and_open_orders_agree_with_the_fills_the_client_saw() -> None:
    async def scenario() -> None:
        async with exchange(initial_balances={"USDC": D(1_000_000)}) as (_server, venue):
            orders = [spec("b1", quantity="3"), spec("s1", Side.SELL, quantity="20"),
                      spec("r1", quantity="1", limit="2950"),
                      spec("r2", Side.SELL, "2", limit="3050"),
                      spec("w1", quantity="0.5", symbol="WBTC")]  # fmt: skip
            for order in orders:
                await venue.submit(order)
            got = await collect(venue, count(Ack, len(orders)))
            got += await collect(venue, timeout=0.2)
            balances = await venue.balances()
            open_ids = sorted(o.client_order_id for o in await venue.open_orders())
        fills = [r for r in got if isinstance(r, Fill)]
        for symbol in ("WETH", "WBTC"):
            signed = sum(f.quantity if f.side is Side.BUY else -f.quantity
                         for f in fills if f.symbol == symbol)  # fmt: skip
            assert balances[symbol] == signed
        cash = sum((-1 if f.side is Side.BUY else 1) * f.quantity * f.price - f.fee for f in fills)
        assert balances["USDC"] == D(1_000_000) + cash
        assert open_ids == ["r1", "r2"]

    asyncio.run(scenario())


def test_an_order_on_an_unknown_symbol_is_rejected_with_the_reason() -> None:
    async def scenario() -> list[VenueReport]:
        async with exchange() as (_server, venue):
            await venue.submit(spec("c1", symbol="DOGE"))
            return await collect(venue, count(Reject))

    (reject,) = asyncio.run(scenario())
    assert isinstance(reject, Reject) and reject.reason == "BAD_SYMBOL"
    assert "unknown symbol 'DOGE'" in reject.detail


@pytest.mark.parametrize(
    ("frame", "code", "words"),
    [
        ("{not json", "BAD_REQUEST", "not JSON"),
        ('{"id": 1, "method": "sellEverything"}', "BAD_REQUEST", "unknown method 'sellEverything'"),
        (
            '{"id": 1, "method": "createOrder", "params": {"symbol": "WETH", "type": "limit"}}',
            "BAD_SYMBOL",
            "expected 'BASE/USDC'",
        ),
        (
            '{"id": 1, "method": "createOrder", "params": {"symbol": "WETH/USDC", "type": "limit", '
            '"side": "buy", "amount": "-1", "price": "1"}}',
            "BAD_REQUEST",
            "amount -1",
        ),
        (
            '{"id": 1, "method": "createOrder", "params": {"symbol": "WETH/USDC", "type": "limit", '
            '"side": "buy", "amount": "1"}}',
            "BAD_REQUEST",
            "needs a price",
        ),
        ('{"id": 1, "method": "fetchOrder", "params": {}}', "BAD_REQUEST", "clientOrderId"),
        ('{"id": 1, "method": "cancelOrder", "params": {"id": "404"}}', "ORDER_NOT_FOUND", "404"),
        (
            '{"id": 1, "method": "admin", "params": {"faults": {"drop": 1}}}',
            "BAD_REQUEST",
            "unknown fault ['drop']",
        ),
        (
            '{"id": 1, "method": "admin", "params": {"faults": {"drop_rate": 2}}}',
            "BAD_REQUEST",
            "drop_rate 2",
        ),
        (
            '{"id": 1, "method": "admin", "params": {"faults": {"reject_all": "yes"}}}',
            "BAD_REQUEST",
            "reject_all 'yes' must be true or false",
        ),
        (
            '{"id": 1, "method": "admin", "params": {"faults": {"targets": ["quote"]}}}',
            "BAD_REQUEST",
            "targets ['quote']",
        ),
        (
            '{"id": 1, "method": "admin", "params": {"mids": ["WETH", 1]}}',
            "BAD_REQUEST",
            "'list' object has no attribute 'items'",
        ),
    ],
)
def test_a_bad_request_gets_an_error_naming_the_problem_and_the_server_keeps_serving(
    frame: str, code: str, words: str
) -> None:
    async def scenario() -> tuple[dict[str, object], dict[str, object]]:
        async with SimexServer(mids=MIDS) as server, connect(server.url) as ws:
            await ws.send(frame)
            answer = json.loads(await asyncio.wait_for(ws.recv(), 2))
            await ws.send('{"id": 2, "method": "ping"}')
            return answer, json.loads(await asyncio.wait_for(ws.recv(), 2))

    answer, pong = asyncio.run(scenario())
    error = answer["error"]
    assert isinstance(error, dict) and error["code"] == code and words in error["message"]
    assert pong == {"id": 2, "result": "pong"}


def test_orders_and_trades_on_the_wire_have_ccxts_unified_fields() -> None:
    async def scenario() -> list[dict[str, object]]:
        async with SimexServer(mids=MIDS) as server, connect(server.url) as ws:
            await ws.send(json.dumps({"id": "a", "method": "createOrder", "params": {
                "symbol": "WETH/USDC", "type": "market", "side": "buy", "amount": "0.5",
                "params": {"clientOrderId": "c1"}}}))  # fmt: skip
            return [json.loads(await asyncio.wait_for(ws.recv(), 2)) for _ in range(3)]

    answer, trade, update = asyncio.run(scenario())
    order = answer["result"]
    assert isinstance(order, dict) and answer["id"] == "a"
    assert {"id", "clientOrderId", "timestamp", "datetime", "status", "symbol", "type", "side",
            "price", "average", "amount", "filled", "remaining", "cost",
            "fee"} <= set(order)  # fmt: skip
    assert (order["status"], order["filled"], order["remaining"]) == ("closed", "0.5", "0")
    assert trade["channel"] == "trade" and update["channel"] == "order"
    data = trade["data"]
    assert isinstance(data, dict)
    assert {"id", "order", "clientOrderId", "timestamp", "datetime", "symbol", "side", "price",
            "amount", "cost", "fee", "takerOrMaker"} <= set(data)  # fmt: skip
    assert (data["order"], data["takerOrMaker"], data["fee"]) == (
        order["id"], "taker", {"cost": "0.750375", "currency": "USDC"})  # fmt: skip
    assert str(data["datetime"]).endswith("Z") and str(data["datetime"])[10] == "T"


def test_a_frame_the_adapter_cannot_read_is_skipped_and_the_next_one_is_reported() -> None:
    trade = {"id": "9", "order": "1", "clientOrderId": "c1", "timestamp": 1, "symbol": "WETH/USDC",
             "side": "buy", "price": "3000", "amount": "1", "cost": "3000",
             "fee": {"cost": "1.5", "currency": "USDC"}, "info": {"seq": 1}}  # fmt: skip

    async def garbage(ws: ServerConnection) -> None:
        await ws.recv()  # the adapter's subscribe
        for frame in ("{cut short", '{"channel": "trade", "data": {"amount": "x"}}', "[]"):
            await ws.send(frame)
        await ws.send(json.dumps({"channel": "trade", "data": trade}))
        await ws.wait_closed()

    async def scenario() -> tuple[list[VenueReport], int]:
        async with serve(garbage, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            venue = SimexVenue(f"ws://127.0.0.1:{port}")
            await venue.connect()
            got = await collect(venue, count(Fill))
            await venue.close()
            return got, venue.bad_frames

    got, bad = asyncio.run(scenario())
    assert bad == 3 and [(r.fill_id, r.fee) for r in got if isinstance(r, Fill)] == [
        ("9", D("1.5"))
    ]


def test_a_wrong_token_is_refused_and_the_right_one_trades_as_its_account() -> None:
    async def scenario() -> None:
        tokens = {"alice": "alice-secret-token", "bob": "bob-secret-token"}
        async with SimexServer(mids=MIDS, tokens=tokens) as server:
            for bad in ("wrong-token-123", None):
                venue = SimexVenue(server.url, token=bad)
                with pytest.raises(VenueError, match="HTTP 401") as err:
                    await venue.connect()
                assert not err.value.retryable
            alice = SimexVenue(server.url, token="alice-secret-token")
            await alice.connect()
            await alice.submit(spec("c1", quantity="1"))
            await collect(alice, count(Ack))
            balances = await alice.balances()
            await alice.close()
        assert balances["WETH"] == D(1) and server.book.balances("bob")["WETH"] == 0

    asyncio.run(scenario())


def test_a_token_of_another_account_is_refused_for_good_naming_both_accounts() -> None:
    async def scenario() -> VenueError:
        tokens = {"alice": "alice-secret-token", "bob": "bob-secret-token"}
        async with SimexServer(mids=MIDS, tokens=tokens) as server:
            venue = SimexVenue(server.url, token="bob-secret-token", account="alice")
            with pytest.raises(VenueError, match="HTTP 403") as err:
                await venue.connect()
            bob = SimexVenue(server.url, token="bob-secret-token", account="bob")
            await bob.connect()  # the token's own account is let in
            await bob.close()
        return err.value

    refusal = asyncio.run(scenario())
    assert not refusal.retryable
    assert "'bob''s, not 'alice''s" in str(refusal) and "set [venue.simex] account" in str(refusal)


def test_zkrisk_simex_serve_runs_the_exchange_with_its_flags_and_stops_on_sigint() -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "zkrisk.engine.cli", "simex", "serve",
                             "--port", str(port), "--walk-ms", "0", "--mid", "WETH=2000",
                             "--reject-rate", "1"], stderr=subprocess.PIPE, text=True)  # fmt: skip

    async def scenario() -> list[VenueReport]:
        venue = SimexVenue(f"ws://127.0.0.1:{port}")
        deadline = time.monotonic() + 20
        while True:
            try:
                await venue.connect()
                break
            except VenueError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
        await venue.submit(spec("c1"))
        got = await collect(venue, count(Reject))
        await venue.close()
        return got

    try:
        (reject,) = asyncio.run(scenario())
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    assert isinstance(reject, Reject) and reject.reason == "VENUE_REJECTED"
    assert proc.returncode == 0 and f"simex on ws://127.0.0.1:{port} (mids WETH=2000.00)" in err


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--mid", "WETH"], "--mid 'WETH': expected SYMBOL=NUMBER"),
        (["--mid", "WETH=-5"], "--mid WETH=-5: a mid must be > 0"),
        (["--balance", "USDC=lots"], "--balance 'USDC=lots'"),
        (["--token", "alice=short"], "a token of ≥ 8 characters"),
        (["--drop-rate", "1.5"], "--drop-rate"),
    ],
)
def test_zkrisk_simex_serve_refuses_a_bad_flag_with_exit_2(flags: list[str], words: str) -> None:
    result = CliRunner().invoke(app, ["simex", "serve", *flags])
    assert result.exit_code == 2 and words in " ".join(result.stderr.split())
