"""The embedded journal backend: one SQLite file in WAL mode, nothing to start.

Tables: `events` (the append-only log; triggers refuse UPDATE and DELETE, and every row carries
its hash-chain link of `chain` as 32 bytes, with no `prev` column: positions are gapless, so a
row's prev is the hash of the row before), `streams` (each stream's last sequence, so appends
and `last_sequence` never scan), `cursors` (durable consumer positions), `snapshots`
(projection states) and `meta` (format name and schema version, checked on open).

Appends are one `BEGIN IMMEDIATE` transaction per batch: the head position, its hash and the
streams' sequences are those inside it (read, or remembered from this writer's last commit and
checked by the PRIMARY KEY: see "Append cost"), so positions stay gapless even if a second
process writes (it waits for the lock). One writer process plus any number of reader processes (a
`zkrisk journal tail --follow` on the live file) is the intended use; WAL lets them read while
it writes. Threads: one `SQLiteJournal` may be shared, every call takes its lock (one
connection, serialised); open one per thread to read in parallel.

Durability. `durability="process"` (the default) is WAL with synchronous=NORMAL: a committed
batch is in the WAL file when `append` returns, so it survives the process being killed
(SIGKILL, OOM, a crash) but not necessarily a power cut or kernel panic, which can lose the
last commits since the WAL was last synced (never corrupting the file). `durability="power"` is
synchronous=FULL: every commit fsyncs the WAL, which costs one fsync per batch
(`benchmarks/bench_journal.py` measures both; with batches of 1,000 the difference is small,
with single-event batches it is the fsync latency of the disk).

Checkpoints. SQLite would checkpoint the WAL (copy it into the file, fsync) inside whichever
commit passes 1,000 pages, about half of what SQLite spends on an append;
`checkpointer.Checkpointer` runs them from a thread of its own instead, and the writer
checkpoints only once the WAL reaches `checkpointer.FALLBACK_PAGES`. `close` stops that
thread; SQLite then checkpoints the whole WAL as the last connection closes.

Append cost. Per event the journal validates the draft inline, serialises the body once
(pydantic's Rust `to_json`), frames the link with one f-string (the stream's and type's frames
cached) and hashes it once (the same bytes as `chain.framed`; `_row_digest` for text the
f-string cannot frame), and builds a `Recorded` tuple; SQLite inserts the rows of a batch with
one `executemany`, the values bound in types sqlite3 takes without adapting them (see
`INSERT`). The common path never looks keys up: a stored or repeated key makes the UNIQUE
index raise, and the batch is redone knowing the originals. Nor does it read the head or the
streams' sequences: the writer remembers what its last commit left (`_Tail`). Positions are
gapless, so a batch another writer committed since holds the next position, and the PRIMARY
KEY raises there too: the batch is redone reading the head and sequences inside its
transaction. A small append is thus BEGIN IMMEDIATE, two INSERTs, COMMIT.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import weakref
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from .base import JournalError
from .chain import GENESIS, NONE_TEXT, SHORT, TEXT_PREFIX, ChainReport, ChainRow, framed, verify
from .checkpointer import FALLBACK_PAGES, Checkpointer
from .crashpoints import crash_point
from .drafts import EVENT_CLASSES, MAX_KEY, draft_problem
from .events import EVENT_ADAPTER, Draft, Recorded

Durability = Literal["process", "power"]
FORMAT = "zkrisk-journal"
SCHEMA_VERSION = 2
"""2: the link is stored as 32 bytes, and no `prev` column (version 1 stored both in hex)."""
_SYNCHRONOUS: dict[str, str] = {"process": "NORMAL", "power": "FULL"}

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO meta VALUES ('format', '{FORMAT}'), ('schema_version', '{SCHEMA_VERSION}');
CREATE TABLE IF NOT EXISTS events (
    position      INTEGER PRIMARY KEY,
    stream        TEXT NOT NULL,
    sequence      INTEGER NOT NULL,
    key           TEXT NOT NULL UNIQUE,
    type          TEXT NOT NULL,
    event_time_ns INTEGER NOT NULL,
    recv_time_ns  INTEGER NOT NULL,
    causation_id  TEXT,
    body          TEXT NOT NULL,
    hash          BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS streams (
    stream TEXT PRIMARY KEY, sequence INTEGER NOT NULL, position INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cursors (
    consumer TEXT PRIMARY KEY, position INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshots (
    name TEXT PRIMARY KEY, position INTEGER NOT NULL, state BLOB NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
"""
# sqlite3 binds int, str and bytearray directly but looks any other value (None, bytes) up in its
# adapter registry first, about 1 µs each, a quarter of SQLite's own insert of the row: so the
# link is bound as a bytearray and a missing causation as '' (drafts refuse '' as a causation).
INSERT = "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, nullif(?, ''), ?, ?)"
"""The append statement (the benchmark's bare-executemany baseline binds rows the same way)."""
_RECORD_COLUMNS = (
    "position, stream, sequence, key, body, event_time_ns, recv_time_ns, causation_id, hash"
)
CHAIN_COLUMNS = (
    "position, stream, sequence, key, type, event_time_ns, recv_time_ns, causation_id, body, hash"
)
_IN_CHUNK = 500  # bound parameters per `key IN (...)` lookup
_new_record = tuple.__new__
_sha256 = hashlib.sha256
_P = TEXT_PREFIX  # short: the append loop frames nine fields with it


def chain_fields(
    position: int, stream: str, sequence: int, key: str, type_: str,
    event_time_ns: int, recv_time_ns: int, causation_id: str | None, body: str,
) -> tuple[int, str, int, str, str, int, int, str | None, str]:  # fmt: skip
    """What a journal row's link covers, in order (after the previous row's hash)."""
    return (position, stream, sequence, key, type_, event_time_ns, recv_time_ns,
            causation_id, body)  # fmt: skip


def _hex(digest: object) -> str:
    """A stored link as the hex the chain compares (anything but 32 bytes cannot match one)."""
    return digest.hex() if isinstance(digest, bytes) else repr(digest)


def chain_rows(rows: Iterator[tuple[Any, ...]]) -> Iterator[ChainRow]:
    """Rows in `CHAIN_COLUMNS` order as the shared chain verifier sees them (verify them with
    `gapless=True`: each row's prev is the row before it)."""
    for *fields, digest in rows:
        yield ChainRow(int(fields[0]), chain_fields(*fields), None, _hex(digest))


def _row_digest(
    prev: str, position: int, stream: str, sequence: int, key: str, type_: str,
    event_time_ns: int, recv_time_ns: int, causation_id: str | None, body: str,
) -> bytes:  # fmt: skip
    """sha256(chain.framed(prev, chain_fields(...))): the append hot path frames the row with
    one f-string where `framed` loops over the fields. Text is framed as latin-1 with cached
    length prefixes, right only for ASCII (the common case; `isascii` costs nothing, CPython
    flags ASCII strings) shorter than `chain.SHORT` (else `TEXT_PREFIX` raises IndexError);
    anything else takes `framed`."""
    p, n, et, rt = str(position), str(sequence), str(event_time_ns), str(recv_time_ns)
    if (
        key.isascii() and stream.isascii() and type_.isascii() and body.isascii()
        and (causation_id is None or causation_id.isascii()) and len(prev) == 64
        and prev.isascii()
    ):  # fmt: skip
        try:
            text = (f"{TEXT_PREFIX[64]}{prev}{TEXT_PREFIX[len(p)]}{p}"
                    f"{TEXT_PREFIX[len(stream)]}{stream}{TEXT_PREFIX[len(n)]}{n}"
                    f"{TEXT_PREFIX[len(key)]}{key}{TEXT_PREFIX[len(type_)]}{type_}"
                    f"{TEXT_PREFIX[len(et)]}{et}{TEXT_PREFIX[len(rt)]}{rt}"
                    f"{NONE_TEXT if causation_id is None else TEXT_PREFIX[len(causation_id)]}"
                    f"{causation_id or ''}{TEXT_PREFIX[len(body)]}{body}")  # fmt: skip
            return hashlib.sha256(text.encode("latin-1")).digest()
        except IndexError:
            pass
    fields = chain_fields(position, stream, sequence, key, type_, event_time_ns, recv_time_ns,
                          causation_id, body)  # fmt: skip
    return hashlib.sha256(framed(prev, fields)).digest()


def _cache_frames(frames: dict[str, str], *texts: str) -> None:
    """Remember the chain frames (length prefix and text) of streams and event types, the
    fields every row of a stream repeats; only ASCII ones, which frame as latin-1 text."""
    for text in texts:
        if text.isascii() and len(text) < SHORT:
            frames[text] = TEXT_PREFIX[len(text)] + text


class _Tail:
    """What this writer's last commit left: the head's position and link, and the last
    sequence of each stream it wrote (None: not known, read them inside the transaction)."""

    __slots__ = ("head", "sequences")

    def __init__(self) -> None:
        self.head: tuple[int, str] | None = None
        self.sequences: dict[str, int] = {}

    def forget(self) -> None:
        self.head = None
        self.sequences.clear()


def _record(row: tuple[Any, ...]) -> Recorded:
    position, stream, sequence, key, body, event_ns, recv_ns, causation, digest = row
    event = EVENT_ADAPTER.validate_json(body)
    return Recorded(position, stream, sequence, key, event, event_ns, recv_ns, causation,
                    _hex(digest))  # fmt: skip


def _draft_problem(index: int, draft: object, known_streams: set[str]) -> str | None:
    """What makes a draft one the journal could not replay faithfully, and the fix; a stream
    name that passed joins `known_streams` (the inline fast path's cache)."""
    problem = draft_problem(index, draft)
    if problem is None and isinstance(draft, Draft):
        known_streams.add(draft.stream)
    return problem


class SQLiteJournal:
    """The `Journal` contract over one SQLite file (see the module docstring)."""

    def __init__(
        self, path: str | Path, *, durability: Durability = "process", readonly: bool = False
    ) -> None:
        self.path = Path(path)
        self.readonly = readonly
        if durability not in _SYNCHRONOUS:
            raise JournalError(f"durability {durability!r}: use 'process' or 'power'")
        self.durability = durability
        self._lock = threading.Lock()
        self._checked_streams: set[str] = set()
        self._frames: dict[str, str] = {}  # see `_cache_frames`
        self._tail = _Tail()  # see the module docstring's "Append cost"
        self._pending: tuple[int, str, dict[str, int]] | None = None
        """The tail an open append transaction leaves once it commits."""
        self._db = self._connect()
        self._closed = False
        self._checkpointer: Checkpointer | None = None
        if not readonly:
            try:
                self._checkpointer = Checkpointer(self.path, _SYNCHRONOUS[durability])
            except sqlite3.Error as exc:
                self._db.close()
                raise JournalError(f"{self.path}: cannot open it to checkpoint ({exc})") from None
            # A journal dropped without close() stops its thread all the same.
            weakref.finalize(self, self._checkpointer.stop)

    # --- opening ----------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self.readonly and not self.path.is_file():
            raise JournalError(f"{self.path}: file not found (the run config's journal names it)")
        try:
            if self.readonly:
                uri = f"{self.path.resolve().as_uri()}?mode=ro"
                db = sqlite3.connect(uri, uri=True, isolation_level=None,
                                     check_same_thread=False, timeout=10.0)  # fmt: skip
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, isolation_level=None,
                                     check_same_thread=False, timeout=10.0)  # fmt: skip
            try:
                self._prepare(db)
            except BaseException:
                db.close()
                raise
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path}: not a zkrisk journal ({exc})") from None
        return db

    def _prepare(self, db: sqlite3.Connection) -> None:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not self.readonly:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={_SYNCHRONOUS[self.durability]}")
            db.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_PAGES}")  # see checkpointer.py
            if not tables:
                db.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} COMMIT;")
                tables = {"meta"}
        if "meta" not in tables:
            what = "an empty file" if not tables else f"tables {', '.join(sorted(tables))}"
            raise JournalError(f"{self.path}: not a zkrisk journal ({what}, no meta table)")
        meta = dict(db.execute("SELECT name, value FROM meta").fetchall())
        if meta.get("format") != FORMAT:
            raise JournalError(f"{self.path}: not a zkrisk journal (format {meta.get('format')!r})")
        version = meta.get("schema_version")
        if version != str(SCHEMA_VERSION):
            raise JournalError(
                f"{self.path}: journal schema version {version}, this zkrisk reads version "
                f"{SCHEMA_VERSION}; replay it with the zkrisk that wrote it, or start a new file"
            )

    def _live(self) -> sqlite3.Connection:
        if self._closed:
            raise JournalError(f"{self.path}: the journal is closed; open a new SQLiteJournal")
        return self._db

    def _writable(self) -> sqlite3.Connection:
        db = self._live()
        if self.readonly:
            raise JournalError(f"{self.path}: opened read-only; open it without readonly=True")
        return db

    # --- writing ----------------------------------------------------------------------------

    def append(
        self, drafts: Sequence[Draft], *, cursor: tuple[str, int] | None = None
    ) -> list[Recorded]:
        """Append a batch atomically; returns one record per draft (originals for repeats)."""
        with self._lock:
            db = self._writable()
            db.execute("BEGIN IMMEDIATE")
            try:
                out = self._append(db, drafts)
                crash_point("journal.mid_batch")
                if cursor is not None:
                    crash_point("journal.after_append_before_cursor")
                    self._move_cursor(db, *cursor, head=self._pending_head(db))
                db.execute("COMMIT")
            except BaseException:
                self._pending = None
                self._tail.forget()  # whatever failed, the next append reads the head
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            self._committed()
            return out

    def _pending_head(self, db: sqlite3.Connection) -> int:
        if self._pending is not None:
            return self._pending[0]
        return int(db.execute("SELECT max(position) FROM events").fetchone()[0] or 0)

    def _append(self, db: sqlite3.Connection, drafts: Sequence[Draft]) -> list[Recorded]:
        try:
            return self._insert(db, drafts, None)
        except sqlite3.IntegrityError:
            # Some keys are already stored (a writer retrying after a crash) or repeated in
            # the batch, or another writer committed since our last batch (its rows hold the
            # positions we remembered as free): start the transaction over, look the keys up
            # and insert only the rest after the head as it is. Rare, so the common path
            # neither looks keys up nor remembers them.
            db.execute("ROLLBACK")
            self._tail.forget()
            db.execute("BEGIN IMMEDIATE")
            return self._insert(db, drafts, self._stored(db, [d.key for d in drafts]))

    def _insert(
        self, db: sqlite3.Connection, drafts: Sequence[Draft], stored: dict[str, Recorded] | None
    ) -> list[Recorded]:
        """Validate, number, serialise and hash the drafts, then insert them. `stored`: the
        records of keys already in the journal (a repeat gets its original and a key repeated
        later in the batch its first record); None when no key should repeat (the UNIQUE key
        raises IntegrityError if one does)."""
        tail = self._tail
        if tail.head is not None:
            position, prev = tail.head
        else:
            last = db.execute("SELECT position, hash FROM events ORDER BY position DESC LIMIT 1")
            head = last.fetchone()
            position, prev = (0, GENESIS) if head is None else (int(head[0]), _hex(head[1]))
        known_sequences = tail.sequences if tail.head is not None else {}
        known, frames = self._checked_streams, self._frames
        ascii_prev = len(prev) == 64 and prev.isascii()  # else a damaged head: `_row_digest`
        sequences: dict[str, int] = {}
        rows: list[tuple[Any, ...]] = []
        out: list[Recorded] = []
        for i, d in enumerate(drafts):
            if type(d) is not Draft and (problem := _draft_problem(i, d, known)):
                raise JournalError(problem)
            key, stream, event, cause = d.key, d.stream, d.event, d.causation_id
            event_ns, recv_ns = d.event_time_ns, d.recv_time_ns
            # The common case checked inline; `_draft_problem` says what is wrong otherwise.
            if not (
                type(key) is str and 0 < len(key) <= MAX_KEY and stream in known
                and type(event) in EVENT_CLASSES and type(event_ns) is int and event_ns >= 0
                and type(recv_ns) is int and recv_ns >= 0
                and (cause is None or (type(cause) is str and cause != ""))
            ) and (problem := _draft_problem(i, d, known)):  # fmt: skip
                raise JournalError(problem)
            if stored is not None and (original := stored.get(key)) is not None:
                out.append(original)
                continue
            sequence = sequences.get(stream)
            if sequence is None:
                sequence = known_sequences.get(stream)
            if sequence is None:
                found = db.execute("SELECT sequence FROM streams WHERE stream = ?", (stream,))
                sequence = (found.fetchone() or (0,))[0]
            sequence += 1
            sequences[stream] = sequence
            position += 1
            type_ = event.type
            body = event.__pydantic_serializer__.to_json(event).decode()  # model_dump_json
            # `_row_digest` inlined for the common case: ASCII text (CPython flags it, so
            # `isascii` costs nothing) framed as latin-1, the stream's and type's frames cached.
            digest = None
            if (
                ascii_prev
                and key.isascii()
                and body.isascii()
                and (cause is None or cause.isascii())
            ):
                p, n, et, rt = str(position), str(sequence), str(event_ns), str(recv_ns)
                try:
                    digest = _sha256(
                        f"{_P[64]}{prev}{_P[len(p)]}{p}{frames[stream]}{_P[len(n)]}{n}"
                        f"{_P[len(key)]}{key}{frames[type_]}{_P[len(et)]}{et}{_P[len(rt)]}{rt}"
                        f"{NONE_TEXT if cause is None else _P[len(cause)]}{cause or ''}"
                        f"{_P[len(body)]}{body}".encode("latin-1")
                    ).digest()
                except (KeyError, IndexError):  # a stream or type not framed yet, a long text
                    digest = None
            if digest is None:
                digest = _row_digest(prev, position, stream, sequence, key, type_, event_ns,
                                     recv_ns, cause, body)  # fmt: skip
                _cache_frames(frames, stream, type_)
            prev = digest.hex()
            # bound as INSERT says: no causation as '', the link as a bytearray
            rows.append((position, stream, sequence, key, type_, event_ns, recv_ns, cause or "",
                         body, bytearray(digest)))  # fmt: skip
            # tuple.__new__: the NamedTuple's own __new__ is a Python function, twice the cost
            record = _new_record(Recorded, (position, stream, sequence, key, event, event_ns,
                                            recv_ns, cause, prev))  # fmt: skip
            if stored is not None:
                stored[key] = record  # a key repeated later in the batch gets this record
            out.append(record)
        db.executemany(INSERT, rows)
        db.executemany(
            "INSERT INTO streams VALUES (?, ?, ?) ON CONFLICT (stream) DO UPDATE "
            "SET sequence = excluded.sequence, position = excluded.position",
            [(s, n, position) for s, n in sequences.items()],
        )
        # Nothing inserted proves nothing about the head (no PRIMARY KEY was checked).
        self._pending = (position, prev, sequences) if rows else None
        return out

    def _stored(self, db: sqlite3.Connection, keys: list[str]) -> dict[str, Recorded]:
        found: dict[str, Recorded] = {}
        unique = list(dict.fromkeys(keys))
        for i in range(0, len(unique), _IN_CHUNK):
            chunk = unique[i : i + _IN_CHUNK]
            marks = ", ".join("?" * len(chunk))
            sql = f"SELECT {_RECORD_COLUMNS} FROM events WHERE key IN ({marks})"
            for row in db.execute(sql, chunk):
                found[row[3]] = _record(row)
        return found

    def _move_cursor(
        self, db: sqlite3.Connection, consumer: str, position: int, *, head: int | None = None
    ) -> None:
        """Within a write transaction; `head`: the head position if known (else read)."""
        if not isinstance(consumer, str) or not consumer:
            raise JournalError("a cursor needs a consumer name (a non-empty string)")
        if type(position) is not int or position < 0:
            raise JournalError(f"cursor {consumer!r}: position {position!r} is not an int ≥ 0")
        row = db.execute("SELECT position FROM cursors WHERE consumer = ?", (consumer,)).fetchone()
        current = 0 if row is None else int(row[0])
        if position < current:
            raise JournalError(
                f"cursor {consumer!r} cannot move backwards: it is at {current}, asked for "
                f"{position} (a consumer that must re-read uses a new consumer name)"
            )
        if head is None:
            head = int(db.execute("SELECT max(position) FROM events").fetchone()[0] or 0)
        if position > head:
            raise JournalError(f"cursor {consumer!r}: position {position} is past the head {head}")
        db.execute(
            "INSERT INTO cursors VALUES (?, ?) ON CONFLICT (consumer) DO UPDATE "
            "SET position = excluded.position",
            (consumer, position),
        )

    def commit_cursor(self, consumer: str, position: int) -> None:
        """Move a consumer's cursor (forward only: a lower position is an error)."""
        with self._lock:
            db = self._writable()
            db.execute("BEGIN IMMEDIATE")
            try:
                self._move_cursor(db, consumer, position)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            self._committed()

    def save_snapshot(self, name: str, position: int, state: bytes) -> None:
        """Store a projection's state as of `position` (replaces the older one)."""
        with self._lock:
            db = self._writable()
            db.execute("BEGIN IMMEDIATE")
            try:
                head = db.execute("SELECT max(position) FROM events").fetchone()[0] or 0
                if type(position) is not int or not 0 <= position <= head:
                    raise JournalError(
                        f"snapshot {name!r}: position {position!r} is not between 0 and the "
                        f"head {head}"
                    )
                db.execute(
                    "INSERT INTO snapshots VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE "
                    "SET position = excluded.position, state = excluded.state",
                    (name, position, bytes(state)),
                )
                crash_point("journal.mid_snapshot")
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            self._committed()

    def _committed(self) -> None:
        """A write transaction committed: remember the tail an append left; the checkpointer
        folds the WAL back soon."""
        if self._pending is not None:
            position, prev, sequences = self._pending
            self._pending = None
            self._tail.head = (position, prev)
            self._tail.sequences.update(sequences)
        if self._checkpointer is not None:
            self._checkpointer.committed()

    # --- reading ----------------------------------------------------------------------------

    def read(
        self, after: int = 0, *, streams: Collection[str] | None = None, limit: int = 1000
    ) -> list[Recorded]:
        """Up to `limit` records with position > `after`, in order, optionally of some streams."""
        sql = f"SELECT {_RECORD_COLUMNS} FROM events WHERE position > ?"
        args: list[Any] = [after]
        if streams is not None:
            wanted = sorted(set(streams))
            if not wanted:
                return []
            sql += f" AND stream IN ({', '.join('?' * len(wanted))})"
            args += wanted
        with self._lock:
            rows = self._live().execute(f"{sql} ORDER BY position LIMIT ?", [*args, limit])
            fetched = rows.fetchall()
        return [_record(row) for row in fetched]

    def iter_from(
        self, after: int = 0, *, streams: Collection[str] | None = None
    ) -> Iterator[Recorded]:
        """Every record with position > `after`, in order (reads in pages)."""
        while page := self.read(after, streams=streams, limit=1000):
            yield from page
            after = page[-1].position

    def get(self, key: str) -> Recorded | None:
        """The record with this idempotency key, if any."""
        with self._lock:
            row = (
                self._live()
                .execute(f"SELECT {_RECORD_COLUMNS} FROM events WHERE key = ?", (key,))
                .fetchone()
            )
        return None if row is None else _record(row)

    def head(self) -> int:
        """The last position (0 when empty)."""
        with self._lock:
            return int(self._live().execute("SELECT max(position) FROM events").fetchone()[0] or 0)

    def last_sequence(self, stream: str) -> int:
        """The last sequence of a stream (0 when it has none)."""
        with self._lock:
            row = (
                self._live()
                .execute("SELECT sequence FROM streams WHERE stream = ?", (stream,))
                .fetchone()
            )
        return 0 if row is None else int(row[0])

    def streams(self) -> dict[str, int]:
        """Every stream with its last sequence."""
        with self._lock:
            rows = self._live().execute("SELECT stream, sequence FROM streams ORDER BY stream")
            return {str(s): int(n) for s, n in rows}

    def cursor(self, consumer: str) -> int:
        """A durable consumer's committed position (0 when it has never committed)."""
        with self._lock:
            row = (
                self._live()
                .execute("SELECT position FROM cursors WHERE consumer = ?", (consumer,))
                .fetchone()
            )
        return 0 if row is None else int(row[0])

    def load_snapshot(self, name: str) -> tuple[int, bytes] | None:
        """The latest snapshot of a projection: (position, state)."""
        with self._lock:
            row = (
                self._live()
                .execute("SELECT position, state FROM snapshots WHERE name = ?", (name,))
                .fetchone()
            )
        return None if row is None else (int(row[0]), bytes(row[1]))

    def verify(self) -> ChainReport:
        """Walk the hash chain of every event (see `chain.verify`)."""
        with self._lock:
            rows = self._live().execute(f"SELECT {CHAIN_COLUMNS} FROM events ORDER BY position")
            return verify(chain_rows(rows), gapless=True)

    def close(self) -> None:
        """Stop the checkpointer, then close: SQLite checkpoints the whole WAL into the file
        (and removes it) when its last connection closes."""
        with self._lock:
            if not self._closed:
                self._closed = True
                if self._checkpointer is not None:
                    self._checkpointer.close()
                self._db.close()

    def __enter__(self) -> SQLiteJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
