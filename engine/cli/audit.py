"""`zkrisk audit verify [DB]`: check the risk service's hash-chained audit log, read-only;
`zkrisk audit prove-inclusion SEQ`: prove one entry is in a checkpointed (or anchored) tree;
`zkrisk audit checkpoint [DB]`: write a checkpoint of the log as it stands.

The check is a pure function of the rows (`verify_rows`), so it does not depend on how
`engine/audit.py` writes them: it re-derives every link from the stored fields with the chain
the journal shares (`zkrisk.engine.journal.chain`).
The database is opened read-only (`mode=ro`), so verifying can never alter the evidence.
Where the log has checkpoints (RFC 6962 roots, `zkrisk.engine.audit_proofs`), `verify` also
recomputes each one's root from the rows and checks successive ones by a consistency proof, and
with --rpc/--anchor compares them with the checkpoints anchored on-chain.

Exit codes: 0 the chain is intact (prints the number of entries and the head hash), 1 it is
broken (names the first bad entry and what is wrong with it) or a checkpoint is not reproduced,
2 bad input (no such file, not an audit database).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import typer

from ..audit_proofs import (
    Anchored,
    AuditTree,
    Checkpoint,
    CheckpointReport,
    check_checkpoints,
    row_leaf,
)
from ..journal.chain import ChainReport, ChainRow
from ..journal.chain import verify as verify_chain
from .common import EXIT_FAILED, fail, report_chain
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


def _read(path: Path, sql: str, optional_table: str | None = None) -> list[tuple[Any, ...]]:
    """Rows of `sql` from the SQLite file at `path`, opened read-only; ValueError if not an
    audit database. `optional_table`: [] when the file predates that table."""
    if not path.is_file():
        raise ValueError(f"{path}: file not found (the service's audit_db setting names it)")
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            if (
                optional_table is not None
                and not db.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                    (optional_table,),
                ).fetchone()
            ):
                return []
            return db.execute(sql).fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"{path}: not a zkrisk audit database ({exc})") from None


def read_rows(path: Path) -> list[tuple[Any, ...]]:
    """The audit rows of the SQLite file at `path`, opened read-only; ValueError if not one."""
    return _read(path, f"SELECT {', '.join(COLUMNS)} FROM audit ORDER BY seq")


def read_checkpoints(path: Path) -> list[Checkpoint]:
    """The checkpoints of the audit file at `path`, by size ([] for a file without any)."""
    rows = _read(path, "SELECT size, last_seq, root, at_ns, frontier FROM audit_checkpoint "
                       "ORDER BY size", optional_table="audit_checkpoint")  # fmt: skip
    try:
        return [Checkpoint(int(s), int(q), bytes.fromhex(r), int(t), bytes(f))
                for s, q, r, t, f in rows]  # fmt: skip
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: a checkpoint row is malformed ({exc})") from None


def tree_of(rows: list[tuple[Any, ...]]) -> AuditTree:
    """The Merkle tree of rows (in `COLUMNS` order, sorted by seq): leaf i is row i."""
    chain_rows = [_chain_row(*row) for row in rows]
    return AuditTree([r.id for r in chain_rows],
                     [row_leaf(str(r.prev), r.fields) for r in chain_rows])  # fmt: skip


def _anchor_of(rpc: str | None, anchor: str | None) -> Any:
    """The AuditAnchor at `anchor` over `rpc`, read-only; None when neither is given."""
    if rpc is None and anchor is None:
        return None
    if rpc is None or anchor is None:
        raise ValueError("give both --rpc and --anchor (the node and the AuditAnchor address)")
    from ..chain.audit_anchor import AuditAnchor

    try:
        return AuditAnchor.reader(rpc, anchor)
    except ConnectionError as exc:
        raise ValueError(f"--rpc: {exc}") from None


Rpc = Annotated[
    str | None, typer.Option("--rpc", help="JSON-RPC endpoint of the chain holding the anchor.")
]
Anchor = Annotated[str | None, typer.Option("--anchor", help="The AuditAnchor contract address.")]


@audit_app.command(
    epilog="Exit codes: 0 intact, 1 broken (names the first bad entry), 2 bad input."
)
def verify(
    db: Annotated[
        Path, typer.Argument(help="The audit log (SQLite file).", dir_okay=False)
    ] = DEFAULT_DB,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    rpc: Rpc = None,
    anchor: Anchor = None,
) -> None:
    """Verify the hash chain of the audit log: every entry links to the one before it; and
    every checkpoint: its root recomputed from the log, each consistent with the one before
    (and, with --rpc/--anchor, every checkpoint anchored on-chain)."""
    try:
        rows = read_rows(db)
        checkpoints = read_checkpoints(db)
        contract = _anchor_of(rpc, anchor)
        anchored = [] if contract is None else [
            Anchored(a.size, a.root, a.timestamp, a.block) for a in contract.history()
        ]  # fmt: skip
    except ValueError as exc:
        fail([str(exc)])
    report = verify_rows(rows)
    if not checkpoints and not anchored:  # the output of a log without checkpoints is unchanged
        report_chain(db, report, log="audit", unit="entries", at="entry seq", bad_key="bad_seq",
                     as_json=as_json)  # fmt: skip
        return
    checked = check_checkpoints(tree_of(rows), checkpoints, anchored)
    extra = {"checkpoints": _checkpoints_json(checked, anchor)} if report.intact else None
    report_chain(db, report, log="audit", unit="entries", at="entry seq", bad_key="bad_seq",
                 as_json=as_json, extra=extra)  # fmt: skip
    if not checked.ok:
        fail([f"{db}: {problem}" for problem in checked.problems], EXIT_FAILED)
    if not as_json:
        typer.echo(f"OK: {db}: {_checkpoints_line(checked, anchor)}")


def _checkpoints_line(c: CheckpointReport, anchor: str | None) -> str:
    latest = c.latest
    n = c.checked
    line = f"{n} checkpoint{'' if n == 1 else 's'}"
    if latest is not None:
        line += (f" (latest: size {latest.size}, root {latest.root.hex()}), every root "
                 "reproduced by the log, each consistent with the one before")  # fmt: skip
    if anchor is not None:
        line += f"; {c.anchored} anchored at {anchor}, every one reproduced"
    return line


def _checkpoints_json(c: CheckpointReport, anchor: str | None) -> dict[str, Any]:
    latest = c.latest
    return {"count": c.checked, "ok": c.ok, "problems": c.problems,
            "latest_size": None if latest is None else latest.size,
            "latest_root": None if latest is None else latest.root.hex(),
            "anchor": anchor, "anchored": c.anchored}  # fmt: skip


@audit_app.command(
    "prove-inclusion",
    epilog="Exit codes: 0 the proof verifies, 1 it does not (the log no longer reproduces the "
    "root), 2 bad input (no such entry, not checkpointed yet).",
)
def prove_inclusion(
    seq: Annotated[int, typer.Argument(help="The entry's sequence number.")],
    log: Annotated[
        Path, typer.Option("--log", help="The audit log (SQLite file).", dir_okay=False)
    ] = DEFAULT_DB,
    rpc: Rpc = None,
    anchor: Anchor = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Prove that entry SEQ is in the log: its RFC 6962 leaf, the audit path, verified against
    the latest checkpoint's root (with --rpc/--anchor: the root anchored on-chain)."""
    try:
        rows = read_rows(log)
        contract = _anchor_of(rpc, anchor)
        if contract is None:
            latest = read_checkpoints(log)
            if not latest:
                raise ValueError(f"{log}: no checkpoint yet (`zkrisk audit checkpoint` writes one)")
            size, root, source = latest[-1].size, latest[-1].root, "the latest checkpoint"
        else:
            on_chain = contract.latest()
            if on_chain.size == 0:
                raise ValueError(f"the AuditAnchor at {anchor} holds no checkpoint yet")
            size, root, source = on_chain.size, on_chain.root, f"the root anchored at {anchor}"
        tree = tree_of(rows)
        index = tree.index_of(seq)
        if index is None:
            raise ValueError(f"{log}: no entry with seq {seq}")
        if index >= size:
            raise ValueError(f"entry seq {seq} is leaf {index}, after {source} (size {size}): "
                             "it is covered from the next checkpoint on")  # fmt: skip
        if size > tree.size:
            raise ValueError(f"{source} covers {size} entries but {log} holds {tree.size}: "
                             "entries were dropped from its end (truncated)")  # fmt: skip
    except ValueError as exc:
        fail([str(exc)])
    from ..audit_merkle import verify_inclusion

    leaf = tree.tree.leaves[index]
    path = tree.tree.inclusion_proof(index, size)
    ok = verify_inclusion(index, size, leaf, path, root)
    if as_json:
        typer.echo(json.dumps({"seq": seq, "index": index, "size": size, "leaf": leaf.hex(),
                               "proof": [p.hex() for p in path], "root": root.hex(),
                               "anchor": anchor, "verified": ok}))  # fmt: skip
    else:
        typer.echo(f"entry seq {seq}: leaf {index} of {size}")
        typer.echo(f"leaf hash  {leaf.hex()}")
        for i, p in enumerate(path):
            typer.echo(f"{'audit path' if i == 0 else '':10} {p.hex()}")
        typer.echo(f"root       {root.hex()} ({source}, size {size})")
    if not ok:
        mine = tree.root(size).hex()
        fail([f"entry seq {seq} is NOT included under {source} (size {size}): the log's first "
              f"{size} entries hash to {mine[:16]}…, not {root.hex()[:16]}… (a rewritten "
              "history)"], EXIT_FAILED)  # fmt: skip
    if not as_json:
        typer.echo(f"OK: entry seq {seq} is included under {source} (size {size})")


@audit_app.command(
    epilog="Exit codes: 0 checkpointed (prints the checkpoint), 2 bad input (no such file)."
)
def checkpoint(
    db: Annotated[
        Path, typer.Argument(help="The audit log (SQLite file).", dir_okay=False)
    ] = DEFAULT_DB,
) -> None:
    """Write a checkpoint (tree size, RFC 6962 root) of the audit log as it stands, beside a
    running service (which also writes one every N entries or T seconds)."""
    from ..audit import AuditLog

    try:
        read_rows(db)  # a missing file or another database is bad input, not a new log
        audit = AuditLog(db, checkpoint_seconds=None)
    except ValueError as exc:
        fail([str(exc)])
    try:
        latest = audit.checkpoint()
    finally:
        audit.close()
    if latest is None:
        fail([f"{db}: the log is empty: nothing to checkpoint"])
    typer.echo(
        f"checkpoint: {db}: size {latest.size}, up to seq {latest.last_seq}, "
        f"root {latest.root.hex()}"
    )
