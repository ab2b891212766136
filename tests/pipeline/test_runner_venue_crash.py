"""The runner SIGKILLed at each of its trading crash points, then restarted (issue 13): real feed
server, real simex server following the feed, real runner processes, the real journal.

After the restart has settled what the crash left open and the run stopped cleanly: the
journal's positions equal the exchange's balances, every order the exchange holds is one the
journal wrote (one per client order id, never filled beyond its quantity), the journal holds
each of the exchange's fills exactly once, and the journal's hash chain verifies.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from zkrisk.engine.journal.events import (
    IntentEmitted,
    OrderAccepted,
    OrderSubmitted,
    OrderTxSigned,
    Quarantined,
    Recorded,
    VerdictIssued,
)
from zkrisk.engine.journal.sqlite import SQLiteJournal
from zkrisk.engine.pipeline.order_send import (
    CRASH_AFTER_SEND,
    CRASH_BEFORE_POSITION,
    CRASH_MID_RECONCILE,
)
from zkrisk.engine.pipeline.orders import AWAITING
from zkrisk.engine.pipeline.runner import CRASH_AFTER_INTENT
from zkrisk.engine.pipeline.venues.base import Fill, OrderReport, VenueStatus
from zkrisk.engine.pipeline.venues.simex import SimexVenue

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
from .test_runner_uniswap import CROSSER as UNI_CROSSER
from .test_runner_uniswap import (
    KEY_ENV,
    Fork,
    forked,  # noqa: F401 (the fixture: a stack and its fork)
    run_args,
    steady_feed,
    wallet,
)
from .test_runner_uniswap import VENUE as UNI_VENUE
from .test_runner_venue import CROSSER, fills_of, folded, stop

SYMBOLS = ("WETH", "WBTC")

# The default suite kills at the fill point (a fill lost at the crash must come back once, and
# every restart's resubscribe repeats all the account's fills); `make test-slow` kills at all.
CRASH_POINTS = [f"{CRASH_BEFORE_POSITION}@4"] + (
    [f"{CRASH_AFTER_INTENT}@4", f"{CRASH_AFTER_SEND}@4", f"{CRASH_MID_RECONCILE}@5"]
    if os.environ.get("ZKRISK_SLOW") else []
)  # fmt: skip


def start_simex(port: int, feed_port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([*ZKRISK, "simex", "serve", "--port", str(port),
                             "--follow", f"ws://127.0.0.1:{feed_port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    wait_for_port(port, proc)
    return proc


@dataclass
class VenueSide:
    """What the exchange holds for the desk: its orders by client order id, all its fills."""

    orders: dict[str, OrderReport]
    fills: dict[str, Fill]
    balances: dict[str, Decimal]


def venue_side(port: int, coids: set[str], *, with_fills: bool = True) -> VenueSide:
    async def read() -> VenueSide:
        venue = SimexVenue(f"ws://127.0.0.1:{port}", account="desk")
        await venue.connect()  # subscribes from fill 0: the exchange pushes every desk fill
        try:
            orders = {c: await venue.query(c) for c in sorted(coids)}
            fills: dict[str, Fill] = {}
            if with_fills:
                venue.fill_watermark = 0  # every fill again, answered after its pushes
                resent = await venue.resend_fills()
                reports = venue.reports()
                while True:
                    try:
                        report = await asyncio.wait_for(anext(reports), 0.5)
                    except TimeoutError:
                        break
                    if isinstance(report, Fill):
                        fills[report.fill_id] = report
                assert len(fills) == resent, (len(fills), resent)
            return VenueSide(orders, fills, dict(await venue.balances()))
        finally:
            await venue.close()

    return asyncio.run(read())


def submitted(recs: list[Recorded]) -> list[str]:
    return [r.event.order.client_order_id for r in recs if isinstance(r.event, OrderSubmitted)]


def undecided_intents(recs: list[Recorded]) -> set[str]:
    """Intents journaled without a verdict (the crash came between the two)."""
    decided = {r.event.verdict.client_order_id for r in recs if isinstance(r.event, VerdictIssued)}
    return {r.event.intent.client_order_id for r in recs
            if isinstance(r.event, IntentEmitted)} - decided  # fmt: skip


def settled(journal: Path, simex_port: int, victims: set[str], crash_head: int) -> bool:
    """The restarted run trades (a fill journaled since the crash), and every victim is decided,
    answered by the exchange, with all its fills in the journal."""
    recs = records_so_far(journal)
    if not fills_of(recs[crash_head:]) or undecided_intents(recs) & victims:
        return False
    orders, _ = folded(recs)
    mine = {c: o for c in victims if (o := orders.get(c)) is not None}
    if any(o.status in AWAITING for o in mine.values()):
        return False
    venue = venue_side(simex_port, set(mine), with_fills=False)
    return all(o.filled == venue.orders[c].filled for c, o in mine.items())


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_runner_sigkilled_while_trading_restarts_with_the_exchanges_positions_and_nothing_twice(
    tmp_path: Path, point: str
) -> None:
    feed_port, simex_port = free_port(), free_port()
    feed = start_feed(feed_port, "--rate", "200")
    simex = start_simex(simex_port, feed_port)
    url = f"ws://127.0.0.1:{simex_port}"
    venue_toml = (
        f'\n[venue]\nkind = "simex"\nsimex = {{ url = "{url}" }}\nreconcile_every_s = 0.5\n'
    )
    config = write_config(tmp_path, feed_port, strategies=CROSSER, extra=venue_toml)
    journal = tmp_path / "journal.db"
    killed = start_runner(config, "--duration", "40", env={"ZKRISK_CRASH_AT": point})
    again: subprocess.Popen[bytes] | None = None
    try:
        killed.communicate(timeout=40)
        dead_ns = time.time_ns()
        assert killed.returncode == -signal.SIGKILL, f"the run did not crash at {point}"
        before = records(journal)
        assert submitted(before), "the crash came before any trading"
        orders_then, _ = folded(before)
        victims = {o.spec.client_order_id for o in orders_then.open_orders()}
        victims |= undecided_intents(before)
        victims |= set(submitted(before)[-3:])  # the latest may have fills in flight
        again = start_runner(config, "--duration", "40")  # no crash point this time
        wait_until(lambda: settled(journal, simex_port, victims, len(before)), timeout=40,
                   what=f"the orders open at the crash ({sorted(victims)}) settled")  # fmt: skip
        stop(feed)  # the exchange's mids freeze: no order resting there fills after the run
        time.sleep(0.5)
        again.send_signal(signal.SIGINT)
        out, err = again.communicate(timeout=20)
        assert again.returncode == 0, (out + err).decode()[-3000:]
        recs = records(journal)
        assert [r.key for r in recs[: len(before)]] == [r.key for r in before], "history changed"
        assert_the_crash_left_work_for_the_restart(point, before, recs, dead_ns)
        coids = submitted(recs)
        assert max(Counter(coids).values()) == 1, "one OrderSubmitted per client order id"
        orders, positions = folded(recs)
        venue = venue_side(simex_port, set(coids))
        # positions from the journal's fills are the exchange's
        for symbol in SYMBOLS:
            assert positions.quantity(symbol) == venue.balances.get(symbol, Decimal(0)), symbol
        # every order the journal wrote reached the exchange, which holds one per client order
        # id and no other, none filled beyond its quantity
        assert {f.client_order_id for f in venue.fills.values()} <= set(coids)
        for coid, report in venue.orders.items():
            spec = orders.orders[coid].spec
            assert report.status is not VenueStatus.UNKNOWN, f"{coid} never reached the exchange"
            assert report.quantity == spec.quantity and report.filled <= spec.quantity
            at_venue = sum((f.quantity for f in venue.fills.values()
                            if f.client_order_id == coid), Decimal(0))  # fmt: skip
            assert at_venue == report.filled <= spec.quantity, coid
        # the journal holds each of the exchange's fills once
        journaled = Counter(f.fill_id for f in fills_of(recs))
        assert journaled and max(journaled.values()) == 1, journaled.most_common(3)
        assert set(journaled) == set(venue.fills)
        # every repeat the restarts' resubscribe brought was known by its id, none quarantined
        assert not [r for r in recs if isinstance(r.event, Quarantined) and r.stream == "fills"]
        with closing(SQLiteJournal(journal, readonly=True)) as j:
            chain = j.verify()
        assert chain.intact and chain.entries == len(recs), chain.problem
    finally:
        stop(killed, *([again] if again else []), simex, feed)


def assert_the_crash_left_work_for_the_restart(
    point: str, before: list[Recorded], after: list[Recorded], dead_ns: int
) -> None:
    """The kill came where its name says: the restart had that point's loose end to tie."""
    name = point.partition("@")[0]
    later = after[len(before) :]
    if name == CRASH_AFTER_INTENT:  # an intent without its verdict, decided after the restart
        undecided = undecided_intents(before)
        assert undecided and not undecided_intents(after) & undecided
        assert set(submitted(later)) & undecided, "the approved intent's order came after"
    elif name == CRASH_AFTER_SEND:  # the last order written had no ack: the re-send's came
        last = submitted(before)[-1]
        assert last not in acked(before) and last in acked(later)
    elif name == CRASH_BEFORE_POSITION:  # a fill the exchange made before the kill came after
        assert [f for f in fills_of(later) if f.venue_time_ns <= dead_ns]


def acked(recs: list[Recorded]) -> set[str]:
    return {r.event.client_order_id for r in recs if isinstance(r.event, OrderAccepted)}


# --- Uniswap: killed with a replacement transaction broadcast, not yet reported -------------
# (the fast, in-process variants are tests/pipeline/test_uniswap_restart.py)

UNI_CRASH = "uniswap.mid_replacement"


@pytest.mark.skipif(not os.environ.get("ZKRISK_SLOW"), reason="make test-slow (~45 s)")
def test_a_uniswap_runner_sigkilled_mid_replacement_restarts_with_the_wallets_positions(
    forked: Fork,  # noqa: F811 (the imported fixture)
    tmp_path: Path,
) -> None:
    feed_port = free_port()
    feed = start_feed(feed_port, "--rate", "40", "--file", str(steady_feed(tmp_path)))
    venue_toml = UNI_VENUE + "replace_after_s = 0.5\n"
    config = write_config(tmp_path, feed_port, strategies=UNI_CROSSER, extra=venue_toml)
    journal = tmp_path / "journal.db"
    start = wallet(forked.uni)
    w3 = forked.fork.web3()
    killed = start_runner(config, *run_args(forked), "--duration", "50",
                          env={**KEY_ENV, "ZKRISK_CRASH_AT": UNI_CRASH})  # fmt: skip
    again: subprocess.Popen[bytes] | None = None
    try:
        wait_until(lambda: len(fills_of(records_so_far(journal))) >= 2, timeout=40,
                   what="two swaps filled")  # fmt: skip
        w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
        killed.communicate(timeout=30)  # a swap stays pending, is replaced: the kill
        assert killed.returncode == -signal.SIGKILL, "the run did not crash mid-replacement"
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        before = records(journal)
        orders_then, _ = folded(before)
        victims = {o.spec.client_order_id for o in orders_then.open_orders()}
        assert victims, "no order was open at the kill"
        again = start_runner(config, *run_args(forked), "--duration", "50", env=KEY_ENV)

        def victims_filled() -> bool:
            orders, _ = folded(records_so_far(journal))
            return all((o := orders.get(c)) is not None and o.filled > 0 for c in victims)

        wait_until(victims_filled, timeout=20, what=f"the swaps pending at the kill ({victims}) "
                   "filled in the journal")  # fmt: skip
        stop(again, feed)
        assert again.returncode == 0, again.stderr
        recs = records(journal)
        _, positions = folded(recs)
        assert positions.quantity("WETH") == wallet(forked.uni)["WETH"] - start["WETH"]
        # the replacement was journaled before it went out, and no order was signed under a
        # second nonce (no swap sent twice)
        signed = [r.event for r in recs if isinstance(r.event, OrderTxSigned)]
        assert any(t.kind == "REPLACEMENT" and t.client_order_id in victims for t in signed)
        nonces: dict[str, set[int]] = {}
        for tx in signed:
            nonces.setdefault(tx.client_order_id, set()).add(tx.nonce)
        assert all(len(n) == 1 for n in nonces.values()), nonces
        journaled = Counter(f.fill_id for f in fills_of(recs))
        assert max(journaled.values()) == 1, journaled.most_common(3)
        with closing(SQLiteJournal(journal, readonly=True)) as j:
            assert j.verify().intact
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
        stop(killed, *([again] if again else []), feed)
