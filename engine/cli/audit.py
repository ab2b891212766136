"""`zkrisk audit verify [DB]`: check the risk service's hash-chained audit log, read-only.

The check is a pure function of the rows (`verify_rows`), so it does not depend on how
`engine/audit.py` writes them: it re-derives every link from the stored fields with the chain
the journal shares (`zkrisk.engine.journal.chain`).
The database is opened read-only (`mode=ro`), so verifying can never alter the evidence.

Exit codes: 0 the chain is intact (prints the number of entries and the head hash), 1 it is
broken (names the first bad entry and what is wrong with it), 2 bad input (no such file, not an
audit database).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import typer

from ..journal.chain import ChainReport, ChainRow
from ..journal.chain import verify as verify_chain
from .common import fail, report_chain
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


def verify_rows(rows: Iterable[tuple[Any, ...]]) -> ChainReport:
    """Walk rows (in `COLUMNS` order, sorted by seq) from the genesis hash; stop at the first
    entry whose `prev` is not the previous entry's hash or whose own hash does not match its
    fields."""
    return verify_chain(_chain_row(*row) for row in rows)


def _chain_row(seq: Any, at_ns: Any, kind: Any, subject: Any, outcome: Any, request: Any,
               response: Any, prev: Any, stored: Any) -> ChainRow:  # fmt: skip
    """A stored audit row as the shared chain verifier sees it (the fields `row_hash` takes)."""
    fields = (int(seq), int(at_ns), str(kind), str(subject), str(outcome), str(request),
              str(response))  # fmt: skip
    return ChainRow(int(seq), fields, str(prev), str(stored))


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
    report_chain(db, report, log="audit", unit="entries", at="entry seq", bad_key="bad_seq",
                 as_json=as_json)  # fmt: skip
