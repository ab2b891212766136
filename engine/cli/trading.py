"""`zkrisk orders`, `zkrisk positions` and `zkrisk reconcile`: a run's trading, from its journal.

All three fold the run's journal read-only (they work beside a live run); `reconcile` also asks
the run's venue what it holds and compares. When the two agree it journals a `Reconciled` record
(the book it compared, as of the journal position it folded): the book attester signs only a
journal whose last reconciliation agreed (`zkrisk attest-run`). A mismatch is not journaled
here (the runner journals the mismatches it finds itself, at settled moments, and moves to
REDUCING on one): the command exits 1.
"""

from __future__ import annotations

import json
from contextlib import closing
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import typer

from .common import EXIT_BAD_INPUT, fail
from .run import ConfigOption, _load

if TYPE_CHECKING:
    from ..journal.events import Recorded
    from ..pipeline.fills import Positions
    from ..pipeline.orders import Orders
    from ..pipeline.run_config import LoadedRun

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
VenueOption = Annotated[
    str | None,
    typer.Option(
        "--venue", help="The venue the run trades on (default: the config's [venue] kind)."
    ),
]


def _num(value: Decimal) -> str:
    """A quantity as written, without the trailing zeros arithmetic leaves (4.0000 → 4)."""
    return f"{value.normalize():f}"


def _usd(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def _fold(loaded: LoadedRun) -> tuple[Orders, Positions, list[Recorded]]:
    from ..journal.base import JournalError
    from ..journal.events import ReconcileMismatch
    from ..journal.sqlite import SQLiteJournal
    from ..pipeline.fills import Positions
    from ..pipeline.orders import Orders

    if not loaded.journal_path.is_file():
        fail([f"{loaded.journal_path}: no journal yet: start the run with `zkrisk run`"])
    orders, positions, mismatches = Orders(), Positions(), []
    try:
        with closing(SQLiteJournal(loaded.journal_path, readonly=True)) as journal:
            for rec in journal.iter_from(0):
                orders.apply(rec)
                positions.apply(rec)
                if isinstance(rec.event, ReconcileMismatch):
                    mismatches.append(rec)
    except JournalError as exc:
        fail([str(exc)])
    return orders, positions, mismatches


def _table(title: str, header: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for name in header:
        table.add_column(name, justify="left" if name in ("order", "status", "symbol") else "right")
    for row in rows:
        table.add_row(*row)
    Console(highlight=False, soft_wrap=True).print(table)


def orders(config: ConfigOption, as_json: JsonOption = False) -> None:
    """Every order the run sent to a venue, with its fills and status."""
    loaded = _load(config)
    book, _, _ = _fold(loaded)
    items = sorted(book.orders.values(), key=lambda o: (o.submitted_ns, o.spec.client_order_id))
    rows = [[o.spec.client_order_id, o.spec.venue, o.spec.side.value, _num(o.spec.quantity),
             _num(o.filled), _usd(o.average_price) if o.filled else "-", o.status.value,
             o.reason] for o in items]  # fmt: skip
    header = ["order", "venue", "side", "quantity", "filled", "avg price", "status", "reason"]
    if as_json:
        typer.echo(json.dumps([dict(zip(header, r, strict=True)) for r in rows], indent=2))
        return
    _table(f"orders of {loaded.journal_path}", header, rows)


def positions(config: ConfigOption, as_json: JsonOption = False) -> None:
    """Positions from the venue fills the run journaled, with P&L at the latest marks."""
    loaded = _load(config)
    _, held, _ = _fold(loaded)
    symbols = sorted(held.holdings)
    rows = [[s, _num(held.quantity(s)), _usd(held.average_price(s)), _usd(held.realised_pnl(s)),
             _usd(held.unrealised_pnl(s))] for s in symbols]  # fmt: skip
    header = ["symbol", "quantity", "avg price", "realised USD", "unrealised USD"]
    if as_json:
        typer.echo(json.dumps([dict(zip(header, r, strict=True)) for r in rows], indent=2))
        return
    _table(f"positions of {loaded.journal_path} ({held.fills} fills)", header, rows)


def reconcile(
    config: ConfigOption, venue_kind: VenueOption = None, as_json: JsonOption = False
) -> None:
    """The book against the venue's balances now, and the mismatches the run journaled.

    Exit 1 when the two disagree beyond the run's tolerance."""
    import asyncio

    from ..pipeline.reconcile import mismatches as find_mismatches
    from ..pipeline.venues.base import VenueError
    from ..pipeline.venues.factory import VenueConfigError, make_venue

    loaded = _load(config)
    if venue_kind is not None:
        if venue_kind not in ("paper", "simex", "uniswap"):
            fail([f"--venue {venue_kind}: use paper, simex or uniswap"], EXIT_BAD_INPUT)
        loaded = loaded.with_venue(venue_kind)
    section = loaded.config.venue
    if section.kind == "paper":
        fail(["this run is in paper mode ([venue] kind = \"paper\"): there is no venue to "
              "reconcile with (--venue simex or uniswap names one)"], EXIT_BAD_INPUT)  # fmt: skip
    _, held, journaled = _fold(loaded)
    try:
        venue = make_venue(section)
    except VenueConfigError as exc:
        fail([str(exc)], EXIT_BAD_INPUT)

    async def balances() -> dict[str, Decimal]:
        await venue.connect()
        try:
            return dict(await venue.balances())
        finally:
            await venue.close()

    try:
        reported = asyncio.run(balances())
    except VenueError as exc:
        fail([f"{venue.name}: {exc}"], 1)
    book = {s: q for (v, s), q in held.venue_quantity.items() if v == venue.name}
    symbols = tuple(loaded.config.ingest.symbols)
    found = find_mismatches(book, reported, venue=venue.name, symbols=symbols,
                            tolerance=section.reconcile_tolerance, now_ns=0)  # fmt: skip
    rows = [[s, _num(book.get(s, Decimal(0))), _num(reported.get(s, Decimal(0))),
             "MISMATCH" if any(d.event.symbol == s for d in found) else "ok"]  # type: ignore[union-attr]
            for s in sorted(symbols)]  # fmt: skip
    if not found:
        _journal_agreement(loaded, venue.name, book, held.position, section.reconcile_tolerance)
    if as_json:
        typer.echo(json.dumps({"venue": venue.name, "symbols": [dict(zip(
            ["symbol", "book", "venue", "status"], r, strict=True)) for r in rows],
            "journaled_mismatches": len(journaled),
            "reconciled_through": None if found else held.position}, indent=2))  # fmt: skip
    else:
        _table(f"reconciliation with {venue.name} (tolerance {_num(section.reconcile_tolerance)})",
               ["symbol", "book", "venue", "status"], rows)  # fmt: skip
        typer.echo(f"{len(journaled)} mismatch(es) journaled by the run so far")
        if not found:
            typer.echo(f"agreed: journaled Reconciled through journal position {held.position} "
                       "(`zkrisk attest-run` hands this book to the attester)")  # fmt: skip
    if found:
        raise typer.Exit(1)


def _journal_agreement(
    loaded: LoadedRun, venue: str, book: dict[str, Decimal], through: int, tolerance: Decimal
) -> None:
    """Append the `Reconciled` record of an agreeing reconciliation (a no-op when the same
    journal position was reconciled before)."""
    import time

    from ..journal.base import JournalError
    from ..journal.sqlite import SQLiteJournal
    from ..pipeline.book_handoff import reconciled_draft

    draft = reconciled_draft(venue, book, through_position=through, tolerance=tolerance,
                             now_ns=time.time_ns())  # fmt: skip
    try:
        with closing(SQLiteJournal(loaded.journal_path)) as journal:
            journal.append([draft])
    except JournalError as exc:
        fail([str(exc)])
