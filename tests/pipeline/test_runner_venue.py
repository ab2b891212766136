"""The runner trading on the simulated exchange: real feed server, real simex server, real
runner processes, the real journal; positions checked against what the exchange reports."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import threading
from collections import Counter
from contextlib import closing
from decimal import Decimal
from pathlib import Path

from zkrisk.engine.journal.base import JournalError
from zkrisk.engine.journal.events import (
    OrderAccepted,
    OrderFilled,
    OrderSpec,
    OrderSubmitted,
    Quarantined,
    Quote,
    ReconcileMismatch,
    Recorded,
    TradingStateChanged,
)
from zkrisk.engine.journal.sqlite import SQLiteJournal
from zkrisk.engine.pipeline.fills import Positions
from zkrisk.engine.pipeline.order_send import CRASH_AFTER_SEND
from zkrisk.engine.pipeline.orders import FINAL, Orders
from zkrisk.engine.pipeline.venues.simex import SimexVenue
from zkrisk.engine.risk.models import Side, TradingState

from ..api.server_fixtures import free_port
from .runner_support import (
    ZKRISK,
    records,
    records_so_far,
    start_feed,
    start_runner,
    wait_for_port,
    wait_until,
    write_config,
)

CROSSER = """[[signal.strategies]]
id = "crosser"
strategy = "tests.pipeline.plugin_strategies:CrossEveryNth"
symbols = ["WETH"]
params = { quantity = "0.5", every = 8, cross_bps = 30 }
"""


def _venue(port: int) -> str:
    return f'\n[venue]\nkind = "simex"\nsimex = {{ url = "ws://127.0.0.1:{port}" }}\n'


def start_simex(port: int, *args: str) -> subprocess.Popen[bytes]:
    # A fixed mid where the feed server starts (WETH 3000): the crosser's limits reach it.
    proc = subprocess.Popen([*ZKRISK, "simex", "serve", "--port", str(port), "--walk-ms", "0",
                             "--mid", "WETH=3000", "--mid", "WBTC=60000", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    wait_for_port(port, proc)
    return proc


class MidFollowsFeed:
    """Keeps the exchange's WETH mid at the feed's latest, as arbitrage keeps venues together
    (the two shipped servers walk independently): a thread reading the run's journal."""

    def __init__(self, simex_port: int, journal: Path) -> None:
        self.port, self.journal = simex_port, journal
        self.done = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> MidFollowsFeed:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join(timeout=10)

    async def _run(self) -> None:
        venue = SimexVenue(f"ws://127.0.0.1:{self.port}", account="mid-setter")
        await venue.connect()
        after, mid = 0, None
        try:
            while not self.done.is_set():
                for r in records_after(self.journal, after):
                    after = r.position
                    if isinstance(r.event, Quote) and r.event.symbol == "WETH":
                        mid = (r.event.bid + r.event.ask) / 2
                if mid is not None:
                    await venue.admin(mids={"WETH": str(mid.quantize(Decimal("0.01")))})
                await asyncio.sleep(0.1)
        finally:
            await venue.close()


def records_after(journal: Path, after: int) -> list[Recorded]:
    try:
        with closing(SQLiteJournal(journal, readonly=True)) as j:
            return j.read(after, limit=5000)
    except JournalError:
        return []


def stop(*procs: subprocess.Popen[bytes]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in procs:
        try:
            p.communicate(timeout=20)  # reads and closes its pipes
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()


def venue_balances(port: int) -> dict[str, Decimal]:
    async def read() -> dict[str, Decimal]:
        venue = SimexVenue(f"ws://127.0.0.1:{port}", account="desk")
        await venue.connect()
        try:
            return dict(await venue.balances())
        finally:
            await venue.close()

    return asyncio.run(read())


def folded(recs: list[Recorded]) -> tuple[Orders, Positions]:
    orders, positions = Orders(), Positions()
    for r in recs:
        orders.apply(r)
        positions.apply(r)
    return orders, positions


def fills_of(recs: list[Recorded]) -> list[OrderFilled]:
    return [r.event for r in recs if isinstance(r.event, OrderFilled)]


def test_approved_intents_are_sent_acked_filled_and_the_book_equals_the_exchanges(
    tmp_path: Path,
) -> None:
    feed_port, simex_port = free_port(), free_port()
    feed = start_feed(feed_port, "--rate", "200")
    simex = start_simex(simex_port)
    config = write_config(tmp_path, feed_port, strategies=CROSSER, extra=_venue(simex_port))
    run = start_runner(config, "--duration", "40")
    journal = tmp_path / "journal.db"
    try:
        with MidFollowsFeed(simex_port, journal):
            wait_until(lambda: len(fills_of(records_so_far(journal))) >= 6, timeout=40,
                       what="six fills from the exchange")  # fmt: skip
        stop(run)
        assert run.returncode == 0
        recs = records(journal)
        orders, positions = folded(recs)
        submitted = [r for r in recs if isinstance(r.event, OrderSubmitted)]
        acked = {r.event.client_order_id for r in recs if isinstance(r.event, OrderAccepted)}
        # every order was written before it was sent, and caused by its approval
        assert submitted and all(r.causation_id == f"verdict:{r.event.order.client_order_id}"
                                 for r in submitted)  # fmt: skip
        assert acked and acked <= {r.event.order.client_order_id for r in submitted}
        assert all(o.filled <= o.spec.quantity for o in orders.orders.values())
        assert not [r for r in recs if isinstance(r.event, Quarantined) and r.stream == "fills"]
        # the monitor's book took the venue's fills: the gate judges the real position
        held = venue_balances(simex_port).get("WETH", Decimal(0))
        assert positions.quantity("WETH") == held
        assert fills_of(recs) and all(f.venue == "simex" for f in fills_of(recs))
    finally:
        stop(run, simex, feed)


def test_duplicated_fills_are_applied_once_and_positions_still_equal_the_exchanges(
    tmp_path: Path,
) -> None:
    feed_port, simex_port = free_port(), free_port()
    feed = start_feed(feed_port, "--rate", "200")
    simex = start_simex(simex_port, "--duplicate-rate", "0.5", "--seed", "3")
    config = write_config(tmp_path, feed_port, strategies=CROSSER, extra=_venue(simex_port))
    run = start_runner(config, "--duration", "40")
    journal = tmp_path / "journal.db"
    try:
        with MidFollowsFeed(simex_port, journal):
            wait_until(lambda: len(fills_of(records_so_far(journal))) >= 8, timeout=40,
                       what="eight fills")  # fmt: skip
        stop(run)
        recs = records(journal)
        ids = Counter(f.fill_id for f in fills_of(recs))
        assert ids and max(ids.values()) == 1, ids.most_common(3)
        _, positions = folded(recs)
        assert positions.quantity("WETH") == venue_balances(simex_port).get("WETH", Decimal(0))
    finally:
        stop(run, simex, feed)


def test_a_runner_killed_after_a_send_before_its_ack_sends_the_order_once(
    tmp_path: Path,
) -> None:
    feed_port, simex_port = free_port(), free_port()
    feed = start_feed(feed_port, "--rate", "200")
    simex = start_simex(simex_port)
    config = write_config(tmp_path, feed_port, strategies=CROSSER, extra=_venue(simex_port))
    journal = tmp_path / "journal.db"
    killed = start_runner(config, "--duration", "40",
                          env={"ZKRISK_CRASH_AT": f"{CRASH_AFTER_SEND}@2"})  # fmt: skip
    again: subprocess.Popen[bytes] | None = None
    try:
        with MidFollowsFeed(simex_port, journal):
            killed.wait(timeout=40)
            assert killed.returncode == -signal.SIGKILL
            before = records(journal)
            sent = [r.event.order.client_order_id for r in before
                    if isinstance(r.event, OrderSubmitted)]  # fmt: skip
            victim = sent[1]  # the second send is where it died
            assert victim not in {r.event.client_order_id for r in before
                                  if isinstance(r.event, OrderAccepted)}  # fmt: skip
            again = start_runner(config, "--duration", "40")  # no crash point this time

            def victim_settled() -> bool:
                orders, _ = folded(records_so_far(journal))
                order = orders.get(victim)
                return order is not None and (order.status in FINAL or order.filled > 0)

            wait_until(victim_settled, timeout=40, what=f"{victim} answered after the restart")
            stop(again)
        recs = records(journal)
        orders, positions = folded(recs)
        order = orders.get(victim)
        assert order is not None and order.filled <= order.spec.quantity
        # one order at the venue: its fills never exceed the order, and the book is the venue's
        victim_fills = [f for f in fills_of(recs) if f.client_order_id == victim]
        assert sum((f.quantity for f in victim_fills), Decimal(0)) <= order.spec.quantity
        assert positions.quantity("WETH") == venue_balances(simex_port).get("WETH", Decimal(0))
    finally:
        stop(killed, *([again] if again else []), simex, feed)


def test_a_trade_behind_the_bots_back_is_a_mismatch_that_moves_the_run_to_reducing(
    tmp_path: Path,
) -> None:
    feed_port, simex_port = free_port(), free_port()
    feed = start_feed(feed_port, "--rate", "100")
    simex = start_simex(simex_port)
    venue = _venue(simex_port) + "reconcile_every_s = 0.5\n"
    config = write_config(tmp_path, feed_port, strategies=CROSSER, extra=venue)
    run = start_runner(config, "--duration", "40")
    journal = tmp_path / "journal.db"
    try:
        wait_until(lambda: any(isinstance(r.event, OrderAccepted)
                               for r in records_so_far(journal)), what="a first ack")  # fmt: skip
        agreed = subprocess.run([*ZKRISK, "reconcile", "--config", str(config)],
                                capture_output=True, text=True, timeout=60)  # fmt: skip

        # someone trades the desk's account by hand: the venue now holds what the book does not
        async def manual_buy() -> None:
            desk = SimexVenue(f"ws://127.0.0.1:{simex_port}", account="desk")
            await desk.connect()
            try:
                await desk.submit(spec_for("by-hand", "WETH", "3"))
                await asyncio.sleep(0.5)
            finally:
                await desk.close()

        asyncio.run(manual_buy())

        def reducing() -> bool:
            return any(isinstance(r.event, TradingStateChanged)
                       and r.event.current is TradingState.REDUCING
                       and r.event.reason == "RECONCILE_MISMATCH"
                       for r in records_so_far(journal))  # fmt: skip

        wait_until(reducing, what="REDUCING after the mismatch")
        found_events = [r.event for r in records(journal) if isinstance(r.event, ReconcileMismatch)]
        assert {m.symbol for m in found_events} == {"WETH"}
        assert Decimal(3) in {m.venue_quantity - m.book_quantity for m in found_events}
        found = subprocess.run([*ZKRISK, "reconcile", "--config", str(config)],
                               capture_output=True, text=True, timeout=60)  # fmt: skip
        assert found.returncode == 1 and "MISMATCH" in found.stdout, found.stdout + found.stderr
        assert "mismatch(es) journaled" in found.stdout
    finally:
        stop(run, simex, feed)
    assert agreed.returncode in (0, 1)  # a fill may be in flight between the two reads
    listed = subprocess.run([*ZKRISK, "orders", "--config", str(config), "--json"],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert listed.returncode == 0 and '"venue": "simex"' in listed.stdout
    held = subprocess.run([*ZKRISK, "positions", "--config", str(config), "--json"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert held.returncode == 0 and '"symbol": "WETH"' in held.stdout


def spec_for(coid: str, symbol: str, quantity: str) -> OrderSpec:
    return OrderSpec(client_order_id=coid, venue="simex", symbol=symbol, side=Side.BUY,
                     quantity=Decimal(quantity), limit_price=Decimal("3500"),
                     reference_price=Decimal("3000"))  # fmt: skip


RESTER = CROSSER.replace('id = "crosser"', 'id = "rester"').replace(
    "cross_bps = 30", "cross_bps = -200"
)


def test_a_clean_stop_cancels_the_orders_still_resting_at_the_exchange(tmp_path: Path) -> None:
    feed_port, simex_port = free_port(), free_port()
    feed = start_feed(feed_port, "--rate", "200")
    simex = start_simex(simex_port)
    config = write_config(tmp_path, feed_port, strategies=RESTER, extra=_venue(simex_port))
    run = start_runner(config, "--duration", "40")
    journal = tmp_path / "journal.db"
    try:
        wait_until(lambda: sum(isinstance(r.event, OrderAccepted)
                               for r in records_so_far(journal)) >= 3, what="resting orders")  # fmt: skip
        stop(run)
        assert run.returncode == 0
        recs = records(journal)
        orders, _ = folded(recs)
        accepted = {r.event.client_order_id for r in recs if isinstance(r.event, OrderAccepted)}
        assert accepted and all(orders.orders[c].status in FINAL for c in accepted)

        async def still_open() -> list[str]:
            desk = SimexVenue(f"ws://127.0.0.1:{simex_port}", account="desk")
            await desk.connect()
            try:
                return [o.client_order_id for o in await desk.open_orders()]
            finally:
                await desk.close()

        assert asyncio.run(still_open()) == []
    finally:
        stop(run, simex, feed)
