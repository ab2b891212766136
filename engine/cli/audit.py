"""`zkrisk audit verify [DB]`: check the risk service's hash-chained audit log, read-only.

The check is a pure function of the rows (`verify_rows`), so it does not depend on how
`engine/audit.py` writes them: it re-derives every link with `row_hash` from the stored fields.
The database is opened read-only (`mode=ro`), so verifying can never alter the evidence.

Exit codes: 0 the chain is intact (prints the number of entries and the head hash), 1 it is
broken (names the first bad entry and what is wrong with it), 2 bad input (no such file, not an
audit database).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from ..audit import GENESIS, row_hash
from .common import EXIT_FAILED, fail
from .help import FullHelpGroup

audit_app = typer.Typer(
    help="Inspect the risk service's append-only, hash-chained audit log.",
    no_args_is_help=True,
    rich_markup_mode=None,
    cls=FullHelpGroup,
)

#: The columns the chain covers, in the order `row_hash` takes them (after `prev`).
COLUMNS = ("seq", "at_ns", "kind", "subject", "outcome", "request", "response", "prev", "hash")
DEFAULT_DB = Path("build/zkrisk-audit.sqlite")  # what examples/serve.toml writes


@dataclass(frozen=True)
class ChainReport:
    """The outcome of walking the chain: entries checked, the head, the first bad entry."""

    entries: int
    head: str
    bad_seq: int | None = None
    problem: str = ""

    @property
    def intact(self) -> bool:
        return self.bad_seq is None


def verify_rows(rows: Iterable[tuple[Any, ...]]) -> ChainReport:
    """Walk rows (in `COLUMNS` order, sorted by seq) from the genesis hash; stop at the first
    entry whose `prev` is not the previous entry's hash or whose own hash does not match its
    fields."""
    prev, count = GENESIS, 0
    for row in rows:
        seq, at_ns, kind, subject, outcome, request, response, stored_prev, stored = row
        if stored_prev != prev:
            problem = f"its prev {str(stored_prev)[:16]}… is not the hash of the entry before"
            return ChainReport(count, prev, int(seq), problem)
        fields = (int(seq), int(at_ns), str(kind), str(subject), str(outcome))
        expected = row_hash(prev, *fields, str(request), str(response))
        if stored != expected:
            problem = "its fields do not hash to its stored hash (edited after it was written)"
            return ChainReport(count, prev, int(seq), problem)
        prev, count = str(stored), count + 1
    return ChainReport(count, prev)


def read_rows(path: Path) -> list[tuple[Any, ...]]:
    """The audit rows of the SQLite file at `path`, opened read-only; ValueError if not one."""
    if not path.is_file():
        raise ValueError(f"{path}: file not found (the service's audit_db setting names it)")
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return db.execute(f"SELECT {', '.join(COLUMNS)} FROM audit ORDER BY seq").fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"{path}: not a zkrisk audit database ({exc})") from None


@audit_app.command(
    epilog="Exit codes: 0 intact, 1 broken (names the first bad entry), 2 bad input."
)
def verify(
    db: Annotated[
        Path, typer.Argument(help="The audit log (SQLite file).", dir_okay=False)
    ] = DEFAULT_DB,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Verify the hash chain of the audit log: every entry links to the one before it."""
    try:
        report = verify_rows(read_rows(db))
    except ValueError as exc:
        fail([str(exc)])
    if as_json:
        typer.echo(json.dumps({"db": str(db), "intact": report.intact, "entries": report.entries,
                               "head": report.head, "bad_seq": report.bad_seq,
                               "problem": report.problem or None}))  # fmt: skip
    elif report.intact:
        typer.echo(f"OK: {db}: {report.entries} entries, hash chain intact; head {report.head}")
    if not report.intact:
        fail([f"{db}: audit chain broken at entry seq {report.bad_seq}: {report.problem} "
              f"({report.entries} entries before it verify)"], EXIT_FAILED)  # fmt: skip
