"""The simulated exchange's fault injector, each kind seen at the client through `SimexVenue`:
dropped, duplicated, reordered and delayed acks and fills, silence, rejects; seeded."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal

from zkrisk.engine.pipeline.feed_server import FeedServer
from zkrisk.engine.pipeline.venues.base import (
    Ack,
    Fill,
    OrderReport,
    Reject,
    VenueReport,
    VenueStatus,
)
from zkrisk.engine.pipeline.venues.simex_server import Faults, SimexServer
from zkrisk.engine.risk.models import Side

from .simex_support import MIDS, collect, count, exchange, spec

D = Decimal


def only(kind: str, **rates: object) -> Faults:
    return Faults(targets=frozenset({kind}), **rates)  # type: ignore[arg-type]


def test_a_dropped_ack_never_arrives_but_the_fill_does_and_the_query_finds_the_order() -> None:
    async def scenario() -> None:
        async with exchange(faults=only("ack", drop_rate=1.0)) as (server, venue):
            await venue.submit(spec("c1", quantity="1"))
            got = await collect(venue, count(OrderReport))
            assert not any(isinstance(r, Ack) for r in got)
            assert any(isinstance(r, Fill) for r in got)
            assert (await venue.query("c1")).status is VenueStatus.FILLED
            assert [f for f, *_ in server.injected] == ["drop"]

    asyncio.run(scenario())


def test_a_duplicated_fill_arrives_twice_with_the_same_fill_id() -> None:
    async def scenario() -> list[Fill]:
        async with exchange(faults=only("fill", duplicate_rate=1.0)) as (_server, venue):
            await venue.submit(spec("c1", quantity="10"))  # two fills
            got = await collect(venue, count(Fill, 4))
            return [r for r in got if isinstance(r, Fill)]

    fills = asyncio.run(scenario())
    ids = [f.fill_id for f in fills]
    assert len(ids) == 4 and len(set(ids)) == 2 and all(ids.count(i) == 2 for i in ids)


def test_a_reordered_ack_arrives_after_the_fill_it_preceded() -> None:
    async def scenario() -> list[VenueReport]:
        async with exchange(faults=only("ack", reorder_rate=1.0)) as (_server, venue):
            await venue.submit(spec("c1", quantity="1"))
            return await collect(venue, count(Ack))

    got = asyncio.run(scenario())
    assert isinstance(got[0], Fill) and isinstance(got[-1], Ack)


def test_a_held_back_frame_is_released_even_when_nothing_follows_it() -> None:
    async def scenario() -> list[VenueReport]:
        async with exchange(faults=only("ack", reorder_rate=1.0)) as (_server, venue):
            await venue.submit(spec("c1", quantity="1", limit="2900"))  # rests: no later frame
            return await collect(venue, count(Ack), timeout=1.0)

    assert [type(r) for r in asyncio.run(scenario())] == [Ack]


def test_a_delayed_ack_comes_after_the_delay_and_after_the_fill() -> None:
    async def scenario() -> tuple[float, list[VenueReport]]:
        faults = only("ack", delay_rate=1.0, delay_ms=200)
        async with exchange(faults=faults) as (_server, venue):
            t0 = time.monotonic()
            await venue.submit(spec("c1", quantity="1"))
            got = await collect(venue, count(Ack))
            return time.monotonic() - t0, got

    took, got = asyncio.run(scenario())
    assert took >= 0.2 and isinstance(got[0], Fill) and isinstance(got[-1], Ack)


def test_a_silent_venue_executes_orders_but_answers_nothing_until_the_silence_ends() -> None:
    async def scenario() -> None:
        async with exchange() as (server, venue):
            server.silence(0.5)
            await venue.submit(spec("c1", quantity="1"))
            assert not await venue.healthy()
            assert await collect(venue, timeout=0.2) == []
            await asyncio.sleep(0.35)
            assert await venue.healthy()
            report = await venue.query("c1")
            assert report.status is VenueStatus.FILLED  # it traded during the silence
            assert await venue.resend_fills() == 1  # the lost fill, on demand
            (fill,) = await collect(venue, count(Fill))
            assert isinstance(fill, Fill) and fill.client_order_id == "c1"

    asyncio.run(scenario())


def test_rejects_come_at_the_set_rate_and_can_be_switched_at_run_time() -> None:
    async def scenario() -> list[VenueReport]:
        async with exchange() as (_server, venue):
            await venue.submit(spec("ok1", quantity="0.1"))
            await collect(venue, count(Ack))
            await venue.admin(faults={"reject_all": True})
            await venue.submit(spec("no1", quantity="0.1"))
            got = await collect(venue, count(Reject))
            assert (await venue.query("no1")).status is VenueStatus.REJECTED
            await venue.submit(spec("ok1", quantity="0.1"))  # a known id is not rejected
            got += await collect(venue, lambda g: any(
                isinstance(r, Ack | Reject) and r.client_order_id == "ok1" for r in g))  # fmt: skip
            await venue.admin(faults={"reject_all": False, "reject_rate": 0.5, "seed": 3})
            for i in range(20):
                await venue.submit(spec(f"r{i}", quantity="0.01"))
            got += await collect(venue, lambda g: sum(isinstance(r, Ack | Reject)
                                                      for r in g) >= 20)  # fmt: skip
            return got

    got = asyncio.run(scenario())
    rejects = [r for r in got if isinstance(r, Reject)]
    assert rejects[0].client_order_id == "no1" and rejects[0].reason == "VENUE_REJECTED"
    assert [type(r) for r in got if r.client_order_id == "ok1"][-1] is Ack
    assert 4 <= len(rejects[1:]) <= 16


def test_the_admin_call_moves_the_mid_and_reports_the_venue_side() -> None:
    async def scenario() -> dict[str, object]:
        async with exchange() as (_server, venue):
            await venue.submit(spec("c1", quantity="1", limit="2990"))
            await collect(venue, count(Ack))
            await venue.admin(mids={"WETH": "2980"})
            await collect(venue, count(Fill))
            await venue.submit(spec("c2", Side.SELL, quantity="1", limit="3100"))
            await collect(venue, count(Ack))
            return (await venue.admin(report=True))["report"]  # type: ignore[no-any-return]

    report = asyncio.run(scenario())
    assert list(report) == ["default"]
    account = report["default"]
    assert isinstance(account, dict) and account["balances"]["WETH"] == "1"
    assert [o["clientOrderId"] for o in account["open_orders"]] == ["c2"]


def test_the_fault_injector_is_seeded_so_a_run_is_reproducible() -> None:
    async def run(seed: int) -> list[tuple[str, str]]:
        faults = Faults(seed=seed, drop_rate=0.05, duplicate_rate=0.1, reorder_rate=0.1,
                        reject_rate=0.05)  # fmt: skip
        async with SimexServer(mids=MIDS, faults=faults) as server:
            from zkrisk.engine.pipeline.venues.simex import SimexVenue

            venue = SimexVenue(server.url)
            await venue.connect()
            for i in range(60):
                side = Side.BUY if i % 2 else Side.SELL
                await venue.submit(spec(f"c{i}", side, quantity="0.2"))
            await collect(venue, timeout=0.3)
            await venue.close()
            return [(f, k) for f, k, _text in server.injected]

    first, again, other = (asyncio.run(run(s)) for s in (11, 11, 12))
    assert first == again and first != other
    assert {f for f, _k in first} == {"drop", "duplicate", "reorder", "reject"}


def test_under_mixed_faults_deduped_fills_and_queries_recover_the_venues_positions() -> None:
    """What the order stage's soak relies on, at the adapter: 10% duplicated, 10% reordered and
    5% dropped acks, fills and order updates; every fill is recovered (resend after the
    contiguous fill sequence) and every order's final state is found by `query`."""

    async def scenario() -> None:
        faults = Faults(seed=5, drop_rate=0.05, duplicate_rate=0.1, reorder_rate=0.1)
        async with exchange(faults=faults) as (server, venue):
            n = 300
            for i in range(n):
                limit = None if i % 3 else ("2990" if i % 2 else "3010")  # a third rest
                await venue.submit(spec(f"c{i}", Side.BUY if i % 2 else Side.SELL, "0.3",
                                        limit=limit))  # fmt: skip
            got = await collect(venue, timeout=0.5)
            while await venue.resend_fills():
                got += await collect(venue, timeout=0.2)
            fills = {r.fill_id: r for r in got if isinstance(r, Fill)}
            balances = await venue.balances()
            reports = [await venue.query(f"c{i}") for i in range(n)]
            assert {f for f, *_ in server.injected} == {"drop", "duplicate", "reorder"}
        signed = sum(f.quantity if f.side is Side.BUY else -f.quantity for f in fills.values())
        assert balances["WETH"] == signed
        assert len(fills) == len(server.book.fills("default"))
        by_orders = sum(r.filled if r.side is Side.BUY else -r.filled for r in reports)
        assert by_orders == signed
        assert {r.status for r in reports} <= {
            VenueStatus.FILLED,
            VenueStatus.OPEN,
            VenueStatus.PARTIALLY_FILLED,
            VenueStatus.EXPIRED,
        }

    asyncio.run(scenario())


def test_the_admin_call_drops_every_connection_and_starts_a_silence() -> None:
    async def scenario() -> None:
        async with exchange() as (_server, venue):
            await venue.admin(disconnect=True)
            deadline = time.monotonic() + 3
            while venue.reconnects < 1 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            assert venue.reconnects == 1 and await venue.healthy()
            await venue.admin(silence_ms=800)
            assert not await venue.healthy()  # its ping times out after 0.5 s
            await asyncio.sleep(0.4)
            assert await venue.healthy()

    asyncio.run(scenario())

    async def scenario() -> None:
        async with FeedServer(port=0) as feed, SimexServer(port=0, follow_url=feed.url) as server:
            await feed.subscribed()
            publishing = asyncio.create_task(feed.run(200.0, count=400))
            await publishing
            await asyncio.sleep(0.2)  # the last frames reach the follower
            assert server.followed >= 100, server.followed
            weth = json.loads(
                [p for p in feed.truth if p.symbol == "WETH" and "bid" in p.text][-1].text
            )
            last = (Decimal(weth["bid"]) + Decimal(weth["ask"])) / 2
            assert server.book.mids["WETH"] == last.quantize(Decimal("0.01"))
            assert server.book.mids["WETH"] != Decimal(3000)  # it moved with the feed

    asyncio.run(scenario())
