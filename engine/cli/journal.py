"""`zkrisk journal tail|replay|verify`: read the pipeline's journal, never write it.

`--journal` takes what `open_journal` takes: a SQLite file (the default, build/run/journal.db)
or a NATS JetStream journal, `nats://host:port[/prefix]`. Every command opens it read-only (a
SQLite file read-only, a JetStream journal without creating its stream), so it can run against
the live journal of a running `zkrisk run` (each committed batch shows as the writer goes on).

Exit codes: 0 fine, 1 the check failed (`verify`: the chain is broken; `replay`: the snapshot-
based projection differs from a from-scratch replay), 2 bad input (no such file, not a
journal, a schema version this zkrisk does not read).
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from .common import EXIT_FAILED, fail, report_chain

if TYPE_CHECKING:  # the journal's modules (pydantic events) load where used: start-up time
    from ..journal.events import Recorded
    from ..journal.jetstream import JetStreamJournal
    from ..journal.projection import Projection
    from ..journal.sqlite import SQLiteJournal
from .help import FullHelpGroup

journal_app = typer.Typer(
    help="Read the pipeline's journal: tail it, rebuild its projections, verify its hash chain.",
    no_args_is_help=True,
    rich_markup_mode=None,
    cls=FullHelpGroup,
)

DEFAULT_JOURNAL = "build/run/journal.db"  # what `zkrisk run` writes unless told otherwise
JOURNAL_HELP = "The journal: a SQLite file, or nats://host:port[/prefix] (JetStream)."


def _stream_heads() -> Projection[Any]:
    from ..journal.projection import StreamHeads

    return StreamHeads()


PROJECTIONS: dict[str, Callable[[], Projection[Any]]] = {"heads": _stream_heads}

JournalOption = Annotated[str, typer.Option("--journal", help=JOURNAL_HELP)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (one object per line).")]


def _open(spec: str) -> SQLiteJournal | JetStreamJournal:
    """The journal `spec` names, read-only (a string, not a Path: `nats://` must stay intact)."""
    from ..journal.base import JournalError
    from ..journal.opening import open_journal

    try:
        return cast("SQLiteJournal | JetStreamJournal", open_journal(spec, readonly=True))
    except JournalError as exc:
        fail([str(exc)])


def record_json(r: Recorded) -> dict[str, Any]:
    """A record as one JSON object: what the journal stored plus the event's fields."""
    return {"position": r.position, "stream": r.stream, "sequence": r.sequence, "key": r.key,
            "type": r.event.type, "event_time_ns": r.event_time_ns,
            "recv_time_ns": r.recv_time_ns, "causation_id": r.causation_id, "hash": r.hash,
            "event": r.event.model_dump(mode="json", exclude={"type"})}  # fmt: skip


def record_line(r: Recorded) -> str:
    """A record as one line: position, stream#sequence, type, key, the event's fields."""
    body = r.event.model_dump_json(exclude={"type"})
    cause = f" <- {r.causation_id}" if r.causation_id else ""
    return f"{r.position:>8}  {r.stream}#{r.sequence}  {r.event.type}  {r.key}{cause}  {body}"


def _last(records: Iterable[Recorded], n: int) -> list[Recorded]:
    return list(deque(records, maxlen=n))


@journal_app.command(epilog="Exit codes: 0 done (or interrupted), 2 bad input.")
def tail(
    journal: JournalOption = DEFAULT_JOURNAL,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing records as they are appended.")
    ] = False,
    stream: Annotated[
        list[str] | None,
        typer.Option("--stream", "-s", help="Only this stream (repeatable), e.g. md.feed."),
    ] = None,
    from_position: Annotated[
        int | None,
        typer.Option("--from", min=1, help="Start at this position (default: the last --lines)."),
    ] = None,
    lines: Annotated[
        int, typer.Option("--lines", "-n", min=0, help="How many of the last records to show.")
    ] = 10,
    count: Annotated[
        int | None, typer.Option("--count", min=1, help="Stop after printing this many records.")
    ] = None,
    interval: Annotated[
        float, typer.Option("--interval", min=0.01, help="Seconds between polls with --follow.")
    ] = 0.2,
    as_json: JsonOption = False,
) -> None:
    """Print the journal's records in order: the last few, or from a position; --follow waits
    for more."""
    j = _open(journal)
    streams = set(stream) if stream else None
    printed = 0

    def show(records: Iterable[Recorded]) -> bool:
        nonlocal printed
        for r in records:
            typer.echo(json.dumps(record_json(r)) if as_json else record_line(r))
            printed += 1
            if count is not None and printed >= count:
                return False
        return True

    try:
        if from_position is not None:
            after = from_position - 1
        elif streams is None:
            after = max(0, j.head() - lines)
        else:
            last = _last(j.iter_from(0, streams=streams), lines)
            after = last[0].position - 1 if last else j.head()
        going = True
        while going:
            page = j.read(after, streams=streams, limit=1000)
            going = show(page)
            if page:
                after = page[-1].position
            elif not follow:
                break
            else:
                time.sleep(interval)
            # without --follow, stop at the head as it was when the page came back empty
    except KeyboardInterrupt:
        pass
    finally:
        j.close()


@journal_app.command(epilog="Exit codes: 0 equal, 1 they differ, 2 bad input.")
def replay(
    journal: JournalOption = DEFAULT_JOURNAL,
    projection: Annotated[
        str, typer.Option("--projection", "-p", help=f"One of: {', '.join(PROJECTIONS)}.")
    ] = "heads",
    as_json: JsonOption = False,
) -> None:
    """Rebuild a projection from genesis, print it, and check it equals the snapshot-based
    state (latest snapshot + the records after it)."""
    make = PROJECTIONS.get(projection)
    if make is None:
        fail([f"--projection {projection!r}: unknown; choose one of {', '.join(PROJECTIONS)}"])
    from ..journal.projection import check_projection

    j = _open(journal)
    try:
        check = check_projection(j, make())
    finally:
        j.close()
    try:
        state: Any = json.loads(check.state)
    except ValueError:
        state = check.state.hex()
    if as_json:
        typer.echo(json.dumps({"projection": check.name, "position": check.position,
                               "snapshot_position": check.snapshot_position, "tail": check.tail,
                               "equal": check.equal, "state": state}))  # fmt: skip
    else:
        typer.echo(json.dumps(state, indent=2, sort_keys=True))
        source = (f"snapshot at position {check.snapshot_position} + {check.tail} records"
                  if check.snapshot_position else f"no snapshot, {check.tail} records")  # fmt: skip
        verdict = "equals" if check.equal else "DIFFERS FROM"
        typer.echo(f"{check.name} at position {check.position}: {source} {verdict} "
                   "the from-scratch replay")  # fmt: skip
    if not check.equal:
        fail([f"{journal}: projection {check.name} from its snapshot differs from a replay "
              "from genesis; delete the snapshot's row or rebuild it"], EXIT_FAILED)  # fmt: skip


@journal_app.command(
    epilog="Exit codes: 0 intact, 1 broken (names the first bad row), 2 bad input."
)
def verify(
    db: Annotated[str, typer.Argument(help=JOURNAL_HELP)] = DEFAULT_JOURNAL,
    as_json: JsonOption = False,
) -> None:
    """Verify the journal's hash chain: every event links to the one before it."""
    j = _open(db)
    try:
        report = j.verify()
    finally:
        j.close()
    report_chain(db, report, log="journal", unit="events", at="position",
                 bad_key="bad_position", as_json=as_json)  # fmt: skip
