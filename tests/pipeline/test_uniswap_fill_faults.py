"""The fill guards against the Uniswap venue's own reports, on a real Anvil (the simulated
exchange's fill faults are in test_simex_faults.py, test_runner_venue.py and the soak): a swap's
fill that a restarted venue reports again is applied once; the fill of a swap the book has no
order for, and one for more than the order's quantity, are quarantined and move no position."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from zkrisk.engine.chain.anvil import AnvilNode
from zkrisk.engine.chain.uniswap_deploy import UniswapDeployment
from zkrisk.engine.journal.events import OrderAccepted, OrderSpec, OrderSubmitted, Quarantined
from zkrisk.engine.pipeline.fills import FillOutcome, FillOutcomeKind, apply_fill
from zkrisk.engine.pipeline.venues.base import Fill
from zkrisk.engine.risk.models import Side

from .orders_support import Book
from .uniswap_support import deploy_and_fund, order, session


@pytest.fixture(scope="module")
def uni(anvil_node: AnvilNode) -> UniswapDeployment:
    return deploy_and_fund(anvil_node)


def swap(
    uni: UniswapDeployment, url: str, spec: OrderSpec, *, restarted: bool = False
) -> tuple[str, list[Fill]]:
    """Send `spec` as a swap: its hash and the venue's fill reports; with `restarted`, also the
    reports of a second venue that adopts the order from its hash, as a restarted run does."""

    async def scenario() -> tuple[str, list[Fill]]:
        coid = spec.client_order_id
        async with session(uni, [url]) as first:
            sent = await first.venue.submit(spec)
            await first.until(lambda: first.of(Fill, coid))
            fills = list(first.of(Fill, coid))
        if restarted:
            async with session(uni, [url]) as again:
                again.venue.adopt(coid, sent.venue_order_id)
                await again.until(lambda: again.of(Fill, coid))
                fills += again.of(Fill, coid)
        return sent.venue_order_id, fills

    return asyncio.run(scenario())


def journaled(book: Book, spec: OrderSpec, tx_hash: str) -> None:
    """The order as the journal holds it: submitted, then acked by its transaction hash."""
    coid = spec.client_order_id
    book.event(f"order:{coid}", OrderSubmitted(order=spec))
    book.event(f"ack:{coid}", OrderAccepted(client_order_id=coid, venue=spec.venue,
                                            venue_order_id=tx_hash))  # fmt: skip


def fold(book: Book, venue: str, fills: list[Fill]) -> list[FillOutcome]:
    """Each report through the fill guards, its draft (if any) journaled and folded."""
    outcomes = []
    for report in fills:
        book.t += 1
        outcome = apply_fill(report, venue, book.orders, event_time_ns=book.t,
                             recv_time_ns=book.t)  # fmt: skip
        if outcome.draft is not None:
            book.add(outcome.draft)
        outcomes.append(outcome)
    return outcomes


def test_a_swaps_fill_reported_again_by_the_restarted_venue_is_applied_once(
    anvil_node: AnvilNode, uni: UniswapDeployment
) -> None:
    spec = order(uni, "dup-1", Side.BUY, "0.2")
    tx_hash, fills = swap(uni, anvil_node.url, spec, restarted=True)
    assert len(fills) == 2 and fills[0].fill_id == fills[1].fill_id  # the same Swap log, twice
    book = Book()
    journaled(book, spec, tx_hash)
    outcomes = fold(book, spec.venue, fills)
    assert [o.kind for o in outcomes] == [FillOutcomeKind.APPLIED, FillOutcomeKind.DUPLICATE]
    assert book.positions.quantity("WETH") == Decimal("0.2") and book.positions.fills == 1


def test_the_fill_of_a_swap_the_book_has_no_order_for_is_quarantined(
    anvil_node: AnvilNode, uni: UniswapDeployment
) -> None:
    spec = order(uni, "stray-1", Side.BUY, "0.1")
    _, fills = swap(uni, anvil_node.url, spec)  # sent by a run whose journal this is not
    book = Book()
    (outcome,) = fold(book, spec.venue, fills)
    assert outcome.kind is FillOutcomeKind.QUARANTINED
    assert outcome.draft is not None and isinstance(outcome.draft.event, Quarantined)
    assert outcome.draft.event.reason == "UNKNOWN_FILL"
    assert book.positions.quantity("WETH") == 0 and book.positions.fills == 0


def test_a_swap_that_bought_more_than_its_journaled_order_is_an_overfill_quarantined(
    anvil_node: AnvilNode, uni: UniswapDeployment
) -> None:
    sent = order(uni, "over-1", Side.BUY, "0.3")
    tx_hash, fills = swap(uni, anvil_node.url, sent)
    book = Book()
    journaled(book, sent.model_copy(update={"quantity": Decimal("0.1")}), tx_hash)
    (outcome,) = fold(book, sent.venue, fills)
    assert outcome.kind is FillOutcomeKind.QUARANTINED
    assert outcome.draft is not None and isinstance(outcome.draft.event, Quarantined)
    assert outcome.draft.event.reason == "OVERFILL"
    assert book.positions.quantity("WETH") == 0
    order_now = book.orders.get("over-1")
    assert order_now is not None and order_now.filled == 0
