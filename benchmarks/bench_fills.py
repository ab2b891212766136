"""Stage 5 throughput: venue fill reports through dedupe, order match and the position update.

`fills_per_s` is what the fills consumer does per report, in-process on one core:
`fills.apply_fill` (dedupe by fill key, match to the order, the overfill and status checks,
building the `OrderFilled` event and its `Draft`), then folding the record into `Orders` (the
order's filled quantity, average price and status) and `Positions` (signed quantity, average
entry, realised P&L net of the fee). The journal append in between is not included (that is
`journal_append_per_s`): the record is built in memory as the journal would return it. One
report in 20 is a repeat of an earlier fill (the dedupe path).

The baseline, in the same run on the same reports, is a bare loop over dicts doing the same
Decimal arithmetic (a set for dedupe, the overfill compare, filled and average per order, the
position's average and realised P&L) without events, drafts, records or the state machine; the
ratio (median of the per-run pairs) is what the typed events and projections cost on top.
Medians over RUNS runs; the notes state the load average (wall-clock rates, shared machine).
"""

from __future__ import annotations

import os
import statistics
import time
from decimal import Decimal

from zkrisk.engine.journal.events import OrderAccepted, OrderSpec, OrderSubmitted, Recorded
from zkrisk.engine.pipeline.fills import Positions, apply_fill
from zkrisk.engine.pipeline.orders import Orders
from zkrisk.engine.pipeline.strategies.base import DECIMAL
from zkrisk.engine.pipeline.venues.base import Fill
from zkrisk.engine.risk.models import Side

from .common import Metric, metric

ORDERS, FILLS_PER_ORDER, RUNS = 1_000, 50, 5
VENUE = "simex"
SYMBOLS = ("WETH", "WBTC", "SOL")
T0 = 1_700_000_000_000_000_000
ZERO = Decimal(0)


def _order_records() -> list[Recorded]:
    records, position = [], 0
    for i in range(ORDERS):
        coid = f"o-{i}"
        spec = OrderSpec(client_order_id=coid, strategy_id="mom", venue=VENUE,
                         symbol=SYMBOLS[i % 3], side=Side.BUY if i % 5 < 3 else Side.SELL,
                         quantity=Decimal(10), limit_price=Decimal(2100),
                         reference_price=Decimal(2000))  # fmt: skip
        for key, event in ((f"order:{coid}", OrderSubmitted(order=spec)),
                           (f"ack:{coid}", OrderAccepted(client_order_id=coid, venue=VENUE,
                                                         venue_order_id=f"v-{i}"))):  # fmt: skip
            position += 1
            records.append(Recorded(position, "orders", position, key, event, T0 + position,
                                    T0 + position, None, ""))  # fmt: skip
    return records


def _reports() -> list[Fill]:
    """FILLS_PER_ORDER fills of 0.2 per order, interleaved across orders; every 20th report
    repeats the one before it."""
    out: list[Fill] = []
    step = Decimal("0.2")
    for k in range(FILLS_PER_ORDER):
        for i in range(ORDERS):
            price = Decimal(200_000 + (i * 7919 + k * 104_729) % 2_000) / 100
            out.append(Fill(client_order_id=f"o-{i}", venue_order_id=f"v-{i}",
                            fill_id=f"t-{i}-{k}", symbol=SYMBOLS[i % 3],
                            side=Side.BUY if i % 5 < 3 else Side.SELL, quantity=step,
                            price=price, fee=Decimal("0.01")))  # fmt: skip
            if len(out) % 20 == 19:
                out.append(out[-1])
    return out


def _pipeline_rate(state: bytes, reports: list[Fill]) -> tuple[float, Orders, Positions]:
    orders, positions = Orders.from_bytes(state), Positions()
    position = orders.position
    t0 = time.perf_counter()
    for report in reports:
        outcome = apply_fill(report, VENUE, orders, event_time_ns=T0, recv_time_ns=T0)
        draft = outcome.draft
        if draft is not None:
            position += 1
            record = Recorded(position, draft.stream, position, draft.key, draft.event,
                              draft.event_time_ns, draft.recv_time_ns, draft.causation_id, "")  # fmt: skip
            orders.apply(record)
            positions.apply(record)
    seconds = time.perf_counter() - t0
    return len(reports) / seconds, orders, positions


def _baseline_rate(reports: list[Fill]) -> tuple[float, dict[str, Decimal]]:
    """The same arithmetic on bare dicts (see the module docstring)."""
    seen: set[str] = set()
    filled = {f"o-{i}": ZERO for i in range(ORDERS)}
    average = dict(filled)
    quantity = dict.fromkeys(filled, Decimal(10))
    held: dict[str, list[Decimal]] = {s: [ZERO, ZERO, ZERO] for s in SYMBOLS}  # qty, avg, pnl
    t0 = time.perf_counter()
    for r in reports:
        key = f"fill:{VENUE}:{r.fill_id}"
        if key in seen:
            continue
        coid = r.client_order_id
        done = filled[coid] + r.quantity
        if done > quantity[coid]:
            continue
        seen.add(key)
        average[coid] = DECIMAL.divide(
            DECIMAL.add(DECIMAL.multiply(filled[coid], average[coid]),
                        DECIMAL.multiply(r.quantity, r.price)), done)  # fmt: skip
        filled[coid] = done
        h = held[r.symbol]
        signed = r.quantity if r.side is Side.BUY else -r.quantity
        q, avg = h[0], h[1]
        after = q + signed
        if q == 0 or (q > 0) == (signed > 0):
            h[1] = DECIMAL.divide(DECIMAL.add(abs(q) * avg, abs(signed) * r.price), abs(after))
        else:
            closed = min(abs(signed), abs(q))
            h[2] = DECIMAL.add(h[2], DECIMAL.multiply(closed * (1 if q > 0 else -1), r.price - avg))
            if after == 0:
                h[1] = ZERO
            elif (after > 0) != (q > 0):
                h[1] = r.price
        h[0] = after
        h[2] = DECIMAL.subtract(h[2], r.fee)
    seconds = time.perf_counter() - t0
    return len(reports) / seconds, {s: h[2] for s, h in held.items()}


def run() -> dict[str, Metric]:
    load = os.getloadavg()[0]
    warm = Orders()
    for record in _order_records():
        warm.apply(record)
    state, reports = warm.to_bytes(), _reports()
    _pipeline_rate(state, reports[:5_000])  # warm-up
    rates, baselines = [], []
    for _ in range(RUNS):
        rate, orders, positions = _pipeline_rate(state, reports)
        base, pnl = _baseline_rate(reports)
        rates.append(rate)
        baselines.append(base)
    # Both loops did the same work: every order filled exactly, the same realised P&L.
    assert all(o.filled == 10 for o in orders.orders.values()), "a fill was lost or doubled"
    assert {s: positions.realised_pnl(s) for s in SYMBOLS} == pnl, "the baseline diverged"
    r, b = statistics.median(rates), statistics.median(baselines)
    ratio = statistics.median(base / rate for base, rate in zip(baselines, rates, strict=True))
    load = max(load, os.getloadavg()[0])
    shape = (f"{len(reports):,} fill reports ({ORDERS:,} orders × {FILLS_PER_ORDER} fills, 1 in "
             f"20 a duplicate), median of {RUNS}; 1-min load average up to {load:.1f} on "
             f"{os.cpu_count()} cores")  # fmt: skip
    notes = {
        "fills_per_s": "apply_fill (dedupe, match, overfill/status checks, building the "
        "OrderFilled event and Draft) + Orders and Positions folds, one core, in-process; "
        f"journal append not included; {shape}; best run {max(rates):,.0f}; target ≥ 50,000",
        "fills_baseline_dict_per_s": f"bare dict loop, same Decimal arithmetic, no events or "
        f"projections; {shape}",
        "fills_vs_dict_ratio": "baseline / fills_per_s (median of the per-run pairs): the cost "
        "of typed events, drafts, records and the state machine",
    }
    values = {"fills_per_s": (r, "fills/s"), "fills_baseline_dict_per_s": (b, "fills/s"),
              "fills_vs_dict_ratio": (ratio, "x")}  # fmt: skip
    return {name: metric(v, unit, RUNS, notes[name]) for name, (v, unit) in values.items()}
