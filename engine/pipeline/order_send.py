"""Stage 4's I/O edge: send journaled orders to the venue and journal what the venue says.

The decisions are `orders.py`'s and `fills.py`'s (pure); this task only does the I/O around
them, on the runner's event loop:

- an `OrderSubmitted` the pipeline folds live is sent (`Venue.submit`), never awaited beyond
  the write: acks and fills come back on `Venue.reports()`, consumed by their own task;
- every report becomes drafts (`fills.apply_fill` for fills, `orders.drafts_for_venue_report`
  for the rest), appended and folded at once, so the next report is judged against it
  (dedupe, overfill, the state table);
- a timer asks `orders.what_now` about every open order: one still awaiting its venue gets
  status queries, then `OrderTimedOut`; a working one (ACCEPTED, PARTIALLY_FILLED) without news
  for `fill_check_s` gets a status query too. Answers go through
  `orders.drafts_for_status_answer`: when the venue has filled more than the journal holds (a
  fill lost on the way), the venue is asked to resend its fills (`ResendsFills`, once per
  tick) and the order keeps being checked until they land; an order timed out is still asked
  about every `fill_check_s` until the venue's answer is final and its fills are in (its late
  fill lands on the position, `orders.late_fill_settled`); a failed send is retried with
  backoff (`after_send_failure`) and a venue that keeps failing leaves routing until a probe
  passes (`VenueRouting`);
- reconciliation compares the fills' positions with the venue's balances at start-up and then
  periodically (`reconcile.mismatches`).

Exactly once across a crash: the order is journaled before it is sent (write-ahead), so a
restart re-sends every order still SUBMITTED under its client order id, which the venue holds
once; a fill the venue repeats after the restart dedupes by its fill id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Protocol

from ..journal.crashpoints import crash_point
from ..journal.events import (
    Alert,
    AlertSeverity,
    Draft,
    OrderCancelRequested,
    OrderSubmitted,
    Recorded,
)
from .fills import FillOutcomeKind, Positions, apply_fill
from .orders import (
    WORKING,
    ActionKind,
    Order,
    Orders,
    OrderSendConfig,
    OrderStatus,
    StatusAnswer,
    VenueRouting,
    after_send_failure,
    drafts_for_status_answer,
    drafts_for_venue_report,
    late_fill_settled,
    what_now,
)
from .reconcile import mismatches
from .venues.base import Fill, OrderReport, ResendsFills, Venue, VenueError

log = logging.getLogger(__name__)

CRASH_AFTER_SEND = "orders.after_send_before_ack"
CRASH_BEFORE_POSITION = "fills.before_position"
"""Crash point: a fill received from the venue, not yet journaled (positions are a projection
of the journaled fills, so this is between the fill and the position update)."""
CRASH_MID_RECONCILE = "orders.mid_reconcile"
"""Crash point: reconciliation holds the venue's balances and has not journaled its result."""
QUIESCE_S = 2.0
"""How long a clean stop waits for the answers to what was sent."""

Append = Callable[[list[Draft]], None]
"""Appends drafts to the journal and folds them (the pipeline's `append` + `drain`)."""


class VenueUnusable(RuntimeError):
    """The venue refused the run for a reason no retry changes (the message says the fix): the
    run stops, the refusal journaled as a CRITICAL 'VenueUnusable' alert."""


def unusable_alert(venue: str, exc: VenueError, now_ns: int) -> Draft:
    """The journaled refusal (stream 'monitor', keyed by venue and time: each start is one)."""
    return Draft("monitor", f"alert:VenueUnusable:{venue}:{now_ns}",
                 Alert(name="VenueUnusable", severity=AlertSeverity.CRITICAL,
                       message=f"{exc} (the run stopped: retrying cannot help)",
                       component="order-send"), now_ns, now_ns)  # fmt: skip


class OrderSend:
    """The order-send task of one venue (see the module docstring)."""

    def __init__(
        self,
        venue: Venue,
        pipeline: PipelineView,
        append: Append,
        *,
        config: OrderSendConfig,
        symbols: tuple[str, ...],
        reconcile_every_s: float,
        tolerance: Decimal,
        cancel_on_stop: bool = True,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.venue, self.pipeline, self.append = venue, pipeline, append
        self.config, self.symbols, self.clock = config, symbols, clock
        self.reconcile_every_s, self.tolerance = reconcile_every_s, tolerance
        self.cancel_on_stop = cancel_on_stop
        self.routing = VenueRouting(config, pipeline)
        self.queries: dict[str, tuple[int, int]] = {}
        """client order id -> (the order's last activity it counts from, queries made)."""
        self.retry_at: dict[str, int] = {}
        """client order id -> when its resend is due (after a failed send)."""
        self._retries: dict[str, Draft] = {}
        """The OrderRetried to journal when that resend goes out."""
        self.sending: set[str] = set()
        self.answered_pending: set[str] = set()
        """Orders this task sent (a clean stop waits a moment for their answers)."""
        self.last_report = 0.0
        self.sent = 0
        self.resends = 0
        """Times the venue was asked to resend its fills (a status answer showed one lost)."""
        self.status_queries = 0
        self.late_watch: dict[str, int] = {}
        """Orders timed out here -> when to ask the venue about them again: one it took after
        all may have a fill lost on the way (in memory: a restart forgets them)."""
        self.duplicate_fills = 0
        """Fill reports dropped as repeats of a fill already journaled."""
        self.connected = asyncio.Event()
        self.refused: VenueUnusable | None = None
        """Set when the venue gave up for good mid-run (the run stops, `run` raises it)."""
        self._tasks: set[asyncio.Task[None]] = set()

    # -- what the pipeline tells us -------------------------------------------------------

    def on_folded(self, rec: Recorded) -> None:
        """A record folded live: send an order just journaled."""
        if isinstance(rec.event, OrderSubmitted) and rec.event.order.venue == self.venue.name:
            self._schedule_send(rec.event.order.client_order_id)

    def _schedule_send(self, coid: str) -> None:
        if coid in self.sending or not self.connected.is_set():
            return  # a send is under way, or `run` sends it once connected
        self.sending.add(coid)
        task = asyncio.get_running_loop().create_task(self._send(coid))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, coid: str) -> None:
        try:
            order = self.pipeline.orders.get(coid)
            if order is None or order.status is not OrderStatus.SUBMITTED:
                return
            if not self.routing.routable(self.venue.name):
                return  # out of routing: the timer re-sends it once a probe passes
            try:
                await self.venue.submit(order.spec)
            except VenueError as exc:
                self._send_failed(coid, exc)
                return
            # The order has left and no ack is journaled: the SIGKILL test kills here.
            crash_point(CRASH_AFTER_SEND)
            self.sent += 1
            self.answered_pending.add(coid)
            self.routing.on_success(self.venue.name)
        finally:
            self.sending.discard(coid)

    def _send_failed(self, coid: str, exc: VenueError) -> None:
        now = self.clock()
        order = self.pipeline.orders.get(coid)
        drafts = [d for d in [self.routing.on_failure(self.venue.name, now, str(exc))] if d]
        if order is not None:
            action = after_send_failure(order, exc, now, self.config)
            if action.kind is ActionKind.RETRY:
                self.retry_at[coid] = action.at_ns
                if action.draft is not None:
                    self._retries[coid] = action.draft
            elif action.draft is not None:
                drafts.append(action.draft)
        log.warning("send of %s to %s failed: %s", coid, self.venue.name, exc)
        self.append(drafts)

    # -- the tasks ------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Connect (retrying), re-send what a crash left unsent, then consume reports and run
        the timers until `stop`."""
        delay = 0.05
        while not stop.is_set():
            try:
                await self.venue.connect()
                break
            except VenueError as exc:
                if not exc.retryable:  # credentials, account, chain: no retry changes them
                    self.append([unusable_alert(self.venue.name, exc, self.clock())])
                    await self.venue.close()
                    raise VenueUnusable(str(exc)) from exc
                log.warning("venue %s unreachable (%s); retrying in %.2f s", self.venue.name,
                            exc, delay)  # fmt: skip
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, 2.0)
        if stop.is_set():
            return
        self.connected.set()
        for order in self.pipeline.orders.open_orders():
            if order.spec.venue == self.venue.name and order.status is OrderStatus.SUBMITTED:
                self._schedule_send(order.spec.client_order_id)  # the venue dedupes by id
        reports = asyncio.create_task(self._reports_until_refused(stop),
                                      name=f"{self.venue.name}-reports")  # fmt: skip
        try:
            await self._timers(stop)
            if self.refused is None:  # a venue that refused the run gets nothing more
                await self._quiesce()
        finally:
            reports.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reports
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self.venue.close()
        if self.refused is not None:
            raise self.refused

    async def _quiesce(self) -> None:
        """At a clean stop: send nothing new (a journaled order not yet sent goes out at the
        next start), give the venue a bounded moment to answer what was sent, then cancel
        what still works there (`cancel_on_stop`): a resting order left behind would keep
        filling with no one journaling it, and the book would no longer be the venue's."""
        self.connected.clear()
        await self._settle(lambda o: o.status is OrderStatus.SUBMITTED
                           and o.spec.client_order_id in self.answered_pending)  # fmt: skip
        if not self.cancel_on_stop:
            return
        working = [o for o in self._open_here() if o.status in WORKING]
        if not working:
            return
        now = self.clock()
        requests = [Draft("orders", f"cancelreq:{o.spec.client_order_id}",
                          OrderCancelRequested(client_order_id=o.spec.client_order_id,
                                               venue=self.venue.name, reason="RUN_STOPPED"),
                          now, now, f"order:{o.spec.client_order_id}") for o in working]  # fmt: skip
        self.append(requests)  # journaled first, as every order action is
        for order in working:
            try:
                await self.venue.cancel(order.spec.client_order_id)
            except VenueError as exc:
                log.warning("cancel of %s at stop failed: %s", order.spec.client_order_id, exc)
        await self._settle(lambda o: o.status is OrderStatus.PENDING_CANCEL)

    def _open_here(self) -> list[Order]:
        return [o for o in self.pipeline.orders.open_orders() if o.spec.venue == self.venue.name]

    async def _settle(self, waiting_for: Callable[[Order], bool]) -> None:
        """Until no open order matches, no send is under way and the reports have been quiet
        for a moment, at most QUIESCE_S."""
        deadline = time.monotonic() + QUIESCE_S
        while time.monotonic() < deadline:
            busy = any(waiting_for(o) for o in self._open_here())
            if not busy and not self.sending and time.monotonic() - self.last_report > 0.2:
                return
            await asyncio.sleep(0.02)

    async def _reports_until_refused(self, stop: asyncio.Event) -> None:
        """`_reports`; a venue that gives up for good mid-run (a reconnect refused: the token
        revoked) ends them with a VenueError, which stops the run as a refused connect does."""
        try:
            await self._reports()
        except VenueError as exc:
            self.append([unusable_alert(self.venue.name, exc, self.clock())])
            self.refused = VenueUnusable(str(exc))
            stop.set()

    async def _reports(self) -> None:
        async for report in self.venue.reports():
            now = self.clock()
            orders = self.pipeline.orders
            if isinstance(report, Fill):
                outcome = apply_fill(report, self.venue.name, orders, event_time_ns=now,
                                     recv_time_ns=now)  # fmt: skip
                fresh = outcome.kind is not FillOutcomeKind.DUPLICATE and outcome.draft
                self.duplicate_fills += outcome.kind is FillOutcomeKind.DUPLICATE
                drafts = [outcome.draft] if fresh and outcome.draft is not None else []
                if drafts:
                    crash_point(CRASH_BEFORE_POSITION)
            else:
                drafts = drafts_for_venue_report(report, self.venue.name, orders, now_ns=now)
            self.last_report = time.monotonic()
            self.append(drafts)

    async def _timers(self, stop: asyncio.Event) -> None:
        next_reconcile = 0.0
        poll = min(0.05, self.config.query_interval_s / 4)
        while not stop.is_set():
            await self._tick()
            if time.monotonic() >= next_reconcile:
                await self.reconcile()
                next_reconcile = time.monotonic() + self.reconcile_every_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll)

    async def _tick(self) -> None:
        now = self.clock()
        name = self.venue.name
        if self.routing.probe_due(name, now):
            healthy = await self.venue.healthy()
            back = self.routing.on_probe(name, healthy, self.clock())
            if back is not None:
                self.append([back])
        for coid, at in sorted(self.retry_at.items()):
            if now >= at:
                del self.retry_at[coid]
                draft = self._retries.pop(coid, None)
                self.append([draft] if draft is not None else [])
                self._schedule_send(coid)
        resend = False
        for order in self.pipeline.orders.open_orders():
            coid = order.spec.client_order_id
            if order.spec.venue != name or coid in self.sending or coid in self.retry_at:
                continue
            since, made = self.queries.get(coid, (order.last_activity_ns, 0))
            if since != order.last_activity_ns:  # news since the last query: count afresh
                since, made = order.last_activity_ns, 0
            action = what_now(order, now, self.config, queries_made=made)
            if action.kind is ActionKind.QUERY:
                self.queries[coid] = (since, made + 1)
                answer = await self._query(coid)
                if answer is not None:
                    self.append(answer[1].drafts)
                    resend = resend or answer[1].missing > 0
            elif action.kind is ActionKind.TIME_OUT and action.draft is not None:
                self.queries.pop(coid, None)
                self.append([action.draft])
                self.late_watch[coid] = now + round(self.config.fill_check_s * 1e9)
        resend = await self._watch_late(now) or resend
        if resend:
            await self._resend_fills()

    async def _watch_late(self, now: int) -> bool:
        """Ask about the timed-out orders due; True if one has a fill the journal lacks."""
        resend = False
        for coid, at in sorted(self.late_watch.items()):
            order = self.pipeline.orders.get(coid)
            if now < at or order is None:
                continue
            answer = await self._query(coid)
            if answer is not None and late_fill_settled(order, answer[0]):
                del self.late_watch[coid]
                continue
            self.late_watch[coid] = self.clock() + round(self.config.fill_check_s * 1e9)
            resend = resend or (answer is not None and answer[1].missing > 0)
        return resend

    async def _query(self, coid: str) -> tuple[OrderReport, StatusAnswer] | None:
        self.status_queries += 1
        try:
            report = await self.venue.query(coid)
        except VenueError as exc:
            down = self.routing.on_failure(self.venue.name, self.clock(), str(exc))
            self.append([down] if down is not None else [])
            return None
        return report, drafts_for_status_answer(report, self.venue.name, self.pipeline.orders,
                                                now_ns=self.clock())  # fmt: skip

    async def _resend_fills(self) -> None:
        """One request covers every order of the tick: the venue resends all it may have lost."""
        if not isinstance(self.venue, ResendsFills):
            return  # its fills cannot be lost in transit; the checks go on
        try:
            resent = await self.venue.resend_fills()
        except VenueError as exc:
            log.warning("%s: asking for its fills again failed: %s", self.venue.name, exc)
            return
        self.resends += 1
        log.info("%s resent %d fills (a status answer showed a lost one)", self.venue.name, resent)

    async def reconcile(self) -> list[Draft]:
        """Compare the fills' positions on this venue with its balances; journal mismatches."""
        try:
            balances = await self.venue.balances()
        except VenueError as exc:
            log.warning("reconciliation with %s skipped: %s", self.venue.name, exc)
            return []
        crash_point(CRASH_MID_RECONCILE)
        positions = self.pipeline.positions.venue_quantity
        book = {s: q for (v, s), q in positions.items() if v == self.venue.name}
        drafts = mismatches(book, balances, venue=self.venue.name, symbols=self.symbols,
                            tolerance=self.tolerance, now_ns=self.clock())  # fmt: skip
        self.append(drafts)
        return drafts


class PipelineView(Protocol):
    """What order send reads of the pipeline: its folded projections."""

    @property
    def orders(self) -> Orders: ...

    @property
    def positions(self) -> Positions: ...
