"""The embedded journal backend: one SQLite file in WAL mode, nothing to start.

Tables: `events` (the append-only log, a batch of up to `sqlite_rows.ROW_EVENTS` consecutive
events per row, each row carrying its hash-chain link: see `sqlite_rows` for the row format),
`keys` (every idempotency key and its position: the UNIQUE check and `get`), `streams` (each
stream's last sequence, so appends and `last_sequence` never scan), `cursors` (durable consumer
positions), `snapshots` (projection states) and `meta` (format name and schema version, checked
on open). Triggers refuse UPDATE and DELETE on `events` and `keys`.

Appends are one `BEGIN IMMEDIATE` transaction per batch: the head position, its link and the
streams' sequences are those inside it (read, or remembered from this writer's last commit and
checked by the PRIMARY KEY: see "Append cost"), so positions stay gapless even if a second
process writes (it waits for the lock). One writer process plus any number of reader processes
(a `zkrisk journal tail --follow` on the live file) is the intended use; WAL lets them read
while it writes. Threads: one `SQLiteJournal` may be shared, every call takes its lock (one
connection, serialised); open one per thread to read in parallel.

Durability. `durability="process"` (the default) is WAL with synchronous=NORMAL: a committed
batch is in the WAL file when `append` returns, so it survives the process being killed
(SIGKILL, OOM, a crash) but not necessarily a power cut or kernel panic, which can lose the
last commits since the WAL was last synced (never corrupting the file). `durability="power"` is
synchronous=FULL: every commit fsyncs the WAL, which costs one fsync per batch
(`benchmarks/bench_journal.py` measures both; with batches of 1,000 the difference is small,
with single-event batches it is the fsync latency of the disk).

Checkpoints. SQLite would checkpoint the WAL (copy it into the file, fsync) inside whichever
commit passes 1,000 pages; `checkpointer.Checkpointer` runs them from a thread of its own
instead, and the writer checkpoints only once the WAL reaches `checkpointer.FALLBACK_PAGES`.
`close` stops that thread; SQLite then checkpoints the whole WAL as the last connection closes.

Append cost. The drafts are checked column by column (`operator.attrgetter` and set/min/max over
each column run in C; a batch that fails is walked draft by draft for the message), each row's
events are serialised in one pydantic call when they are of one type, the row is hashed once,
and SQLite inserts one row plus its keys (`sqlite_rows.INSERT_KEYS`: one statement reading the
row's own keys JSON). The common path never looks keys up: a stored or repeated key makes the
`keys` PRIMARY KEY raise, and the batch is redone knowing the originals. Nor does it read the
head or the streams' sequences: the writer remembers what its last commit left (`_Tail`).
Positions are gapless, so a batch another writer committed since starts at the next position,
and the `events` PRIMARY KEY (a row's first position) raises there too: the batch is redone
reading the head and sequences inside its transaction. Reads decode whole rows and keep the
last few decoded (`_ROW_CACHE`): rows never change once committed.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import weakref
from collections import OrderedDict
from collections.abc import Collection, Iterator, Sequence
from itertools import repeat
from operator import attrgetter
from pathlib import Path
from typing import Any, Literal, NamedTuple

from .base import JournalError
from .chain import GENESIS, ChainReport, ChainRow, verify
from .checkpointer import FALLBACK_PAGES, Checkpointer
from .crashpoints import crash_point
from .drafts import EVENT_CLASSES, MAX_KEY, MAX_NS, STREAM_NAME, draft_problem
from .events import Draft, Event, Recorded
from .sqlite_rows import (
    INSERT_KEYS,
    INSERT_ROW,
    ROW_COLUMNS,
    ROW_EVENTS,
    RowDamaged,
    bodies_json,
    causes_json,
    decode_row,
    int64s,
    row_fields,
    row_link,
    streams_json,
    texts_json,
)

Durability = Literal["process", "power"]
FORMAT = "zkrisk-journal"
SCHEMA_VERSION = 3
"""3: a batch of events per row and a `keys` table (version 2 stored an event per row)."""
_SYNCHRONOUS: dict[str, str] = {"process": "NORMAL", "power": "FULL"}

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO meta VALUES ('format', '{FORMAT}'), ('schema_version', '{SCHEMA_VERSION}');
CREATE TABLE IF NOT EXISTS events (
    first     INTEGER PRIMARY KEY,
    last      INTEGER NOT NULL,
    streams   TEXT NOT NULL,
    sequences BLOB NOT NULL,
    keys      TEXT NOT NULL,
    event_ns  BLOB NOT NULL,
    recv_ns   BLOB NOT NULL,
    causes    TEXT,
    bodies    BLOB NOT NULL,
    link      BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS keys (
    key TEXT PRIMARY KEY, position INTEGER NOT NULL
) WITHOUT ROWID;
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
CREATE TRIGGER IF NOT EXISTS keys_no_update BEFORE UPDATE ON keys
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
CREATE TRIGGER IF NOT EXISTS keys_no_delete BEFORE DELETE ON keys
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
"""
_HEAD = "SELECT last, link FROM events ORDER BY first DESC LIMIT 1"
_ROW_AT = f"SELECT {ROW_COLUMNS} FROM events WHERE first <= ? ORDER BY first DESC LIMIT 1"
# Rows from the one holding position ?1 on (`first` is the PRIMARY KEY: both are index walks).
_ROWS_FROM = (f"SELECT {ROW_COLUMNS} FROM events WHERE first >= "
              "coalesce((SELECT max(first) FROM events WHERE first <= ?1), 1) ORDER BY first")  # fmt: skip
_KEYS_CHECK = ("SELECT count(*) FROM json_each(?1) AS j JOIN keys AS k "
               "ON k.key = j.value AND k.position = ?2 + j.key")  # fmt: skip
_IN_CHUNK = 500  # bound parameters per `key IN (...)` lookup
_ROW_CACHE = 8  # decoded rows kept (a read of one event decodes its whole row)
_SMALL = 16  # `_check` tests batches up to this size draft by draft
_FIELDS = attrgetter("key", "stream", "event", "causation_id", "event_time_ns", "recv_time_ns")
_new_record = tuple.__new__


class _Columns(NamedTuple):
    """A batch of checked drafts, column by column."""

    keys: tuple[str, ...]
    streams: tuple[str, ...]
    events: tuple[Event, ...]
    causes: tuple[str | None, ...]
    event_ns: tuple[int, ...]
    recv_ns: tuple[int, ...]

    def pick(self, indices: Sequence[int]) -> _Columns:
        picked: list[Any] = [tuple(column[i] for i in indices) for column in self]
        return _Columns(*picked)


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


def _hex(digest: object) -> str:
    """A stored link as the hex the chain compares (anything but 32 bytes cannot match one)."""
    return digest.hex() if isinstance(digest, bytes) else repr(digest)


def _span(row: Sequence[Any]) -> int:
    first, last = row[0], row[1]
    return last - first + 1 if type(first) is int and type(last) is int and last >= first else 1


def chain_rows(rows: Iterator[tuple[Any, ...]]) -> Iterator[ChainRow]:
    """Rows in `ROW_COLUMNS` order as the shared chain verifier sees them (verify them with
    `gapless=True`: a row's prev is the row before it, and it spans its events' positions)."""
    for row in rows:
        yield ChainRow(int(row[0]), row_fields(row), None, _hex(row[9]), _span(row))


def _refuse(drafts: Sequence[object]) -> None:
    """Raise what is wrong with the first bad draft (none: the batch may go on)."""
    for i, draft in enumerate(drafts):
        if (problem := draft_problem(i, draft)) is not None:
            raise JournalError(problem)


class SQLiteJournal:
    """The `Journal` contract over one SQLite file (see the module docstring)."""

    in_flight = 1
    """A commit here waits on nothing but this process: batches go one after the other."""

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
        self._tail = _Tail()  # see the module docstring's "Append cost"
        self._pending: tuple[int, str, dict[str, int], list[list[Recorded]]] | None = None
        """What an open append transaction leaves once it commits: the head, its link, the
        streams' sequences and the rows' records."""
        self._rows: OrderedDict[int, list[Recorded]] = OrderedDict()  # decoded, by first
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

    def append_many(self, batches: Sequence[Sequence[Draft]]) -> list[list[Recorded]]:
        """Append batches in order, one transaction each (as `append` one after the other)."""
        return [self.append(batch) for batch in batches]

    def append(
        self, drafts: Sequence[Draft], *, cursor: tuple[str, int] | None = None
    ) -> list[Recorded]:
        """Append a batch atomically; returns one record per draft (originals for repeats)."""
        with self._lock:
            db = self._writable()
            columns = self._check(drafts)
            db.execute("BEGIN IMMEDIATE")
            try:
                out = self._append(db, columns) if columns is not None else []
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

    def _check(self, drafts: Sequence[Draft]) -> _Columns | None:
        """The drafts as columns, each checked in C-speed passes (`_refuse` says what is wrong
        with a batch that fails them); None for an empty batch."""
        if not drafts:
            return None
        if len(drafts) <= _SMALL:
            return self._check_each(drafts)
        try:
            if set(map(type, drafts)) != {Draft}:
                _refuse(drafts)
            columns = _Columns(*zip(*map(_FIELDS, drafts), strict=True))
            keys, streams, events, causes, event_ns, recv_ns = columns
            streams_seen = set(streams)
            if not streams_seen <= self._checked_streams:
                new = streams_seen - self._checked_streams
                if all(isinstance(s, str) and STREAM_NAME.match(s) for s in new):
                    self._checked_streams |= new
            good = (
                all(map(isinstance, keys, repeat(str)))
                and min(map(len, keys)) > 0 and max(map(len, keys)) <= MAX_KEY
                and streams_seen <= self._checked_streams
                and set(map(type, events)) <= EVENT_CLASSES
                and set(map(type, event_ns)) == {int} == set(map(type, recv_ns))
                and min(event_ns) >= 0 and max(event_ns) <= MAX_NS
                and min(recv_ns) >= 0 and max(recv_ns) <= MAX_NS
                and all(c is None or (isinstance(c, str) and c != "") for c in set(causes))
            )  # fmt: skip
        except TypeError:  # a value a set or len() refuses (a list as a stream, an int key)
            good = False
        if not good:
            _refuse(drafts)
            # A batch `draft_problem` accepts (str subclasses): taken as it is.
            columns = _Columns(*zip(*map(_FIELDS, drafts), strict=True))
        return columns

    def _check_each(self, drafts: Sequence[Draft]) -> _Columns:
        """`_check` for a few drafts: one inline test each, cheaper than a pass per column."""
        known = self._checked_streams
        for i, d in enumerate(drafts):
            if not (
                type(d) is Draft and type(d.key) is str and 0 < len(d.key) <= MAX_KEY
                and d.stream in known and type(d.event) in EVENT_CLASSES
                and type(d.event_time_ns) is int and 0 <= d.event_time_ns <= MAX_NS
                and type(d.recv_time_ns) is int and 0 <= d.recv_time_ns <= MAX_NS
                and (d.causation_id is None or (type(d.causation_id) is str and d.causation_id))
            ):  # fmt: skip
                if (problem := draft_problem(i, d)) is not None:
                    raise JournalError(problem)
                known.add(d.stream)
        return _Columns(*zip(*map(_FIELDS, drafts), strict=True))

    def _pending_head(self, db: sqlite3.Connection) -> int:
        if self._pending is not None:
            return self._pending[0]
        return self._head(db)[0]

    @staticmethod
    def _head(db: sqlite3.Connection) -> tuple[int, str]:
        row = db.execute(_HEAD).fetchone()
        return (0, GENESIS) if row is None else (int(row[0]), _hex(row[1]))

    def _append(self, db: sqlite3.Connection, columns: _Columns) -> list[Recorded]:
        try:
            return self._insert(db, columns)
        except sqlite3.IntegrityError:
            # Some keys are already stored (a writer retrying after a crash) or repeated in
            # the batch, or another writer committed since our last batch (its row holds the
            # position we remembered as free): start the transaction over, look the keys up
            # and insert only the rest after the head as it is. Rare, so the common path
            # neither looks keys up nor remembers them.
            db.execute("ROLLBACK")
            self._tail.forget()
            db.execute("BEGIN IMMEDIATE")
            stored = self._stored(db, columns.keys)
            fresh: dict[str, int] = {}  # key -> index of its first draft not yet stored
            for i, key in enumerate(columns.keys):
                if key not in stored and key not in fresh:
                    fresh[key] = i
            records = self._insert(db, columns.pick(list(fresh.values()))) if fresh else []
            stored.update(zip(fresh, records, strict=True))
            return [stored[key] for key in columns.keys]

    def _insert(self, db: sqlite3.Connection, columns: _Columns) -> list[Recorded]:
        """Number, serialise and hash checked drafts with no repeated key, then insert them as
        rows of up to ROW_EVENTS (a stored or repeated key raises IntegrityError)."""
        tail = self._tail
        position, prev = tail.head if tail.head is not None else self._head(db)
        known = tail.sequences if tail.head is not None else {}
        keys, streams, events, causes, event_ns, recv_ns = columns
        count = len(keys)
        sequences: dict[str, int] = {}
        numbers: Sequence[int]
        if len(set(streams)) == 1:
            stream = streams[0]
            last = self._last_sequence(db, stream, known)
            numbers = range(last + 1, last + count + 1)
            sequences[stream] = last + count
        else:
            numbers = []
            for stream in streams:
                number = sequences.get(stream)
                if number is None:
                    number = self._last_sequence(db, stream, known)
                sequences[stream] = number = number + 1
                numbers.append(number)
        rows: list[list[Recorded]] = []
        out: list[Recorded] = []
        for start in range(0, count, ROW_EVENTS):
            stop = min(start + ROW_EVENTS, count)
            first, last_position = position + start + 1, position + stop
            key_text = texts_json(keys[start:stop])
            values = (first, last_position, streams_json(streams[start:stop]),
                      int64s(numbers[start:stop]), key_text, int64s(event_ns[start:stop]),
                      int64s(recv_ns[start:stop]), causes_json(causes[start:stop]),
                      bodies_json(events[start:stop]))  # fmt: skip
            link = row_link(prev, values)
            db.execute(INSERT_ROW, (*values, link))
            db.execute(INSERT_KEYS, (first, key_text))
            prev = link.hex()
            row = list(map(_new_record, repeat(Recorded), zip(
                range(first, last_position + 1), streams[start:stop], numbers[start:stop],
                keys[start:stop], events[start:stop], event_ns[start:stop],
                recv_ns[start:stop], causes[start:stop], repeat(prev), strict=False,
            )))  # fmt: skip
            rows.append(row)
            out += row
        position += count
        db.executemany(
            "INSERT INTO streams VALUES (?, ?, ?) ON CONFLICT (stream) DO UPDATE "
            "SET sequence = excluded.sequence, position = excluded.position",
            [(s, n, position) for s, n in sequences.items()],
        )
        self._pending = (position, prev, sequences, rows)
        return out

    @staticmethod
    def _last_sequence(db: sqlite3.Connection, stream: str, known: dict[str, int]) -> int:
        number = known.get(stream)
        if number is None:
            found = db.execute("SELECT sequence FROM streams WHERE stream = ?", (stream,))
            number = int((found.fetchone() or (0,))[0])
        return number

    def _stored(self, db: sqlite3.Connection, keys: Sequence[str]) -> dict[str, Recorded]:
        found: dict[str, Recorded] = {}
        unique = list(dict.fromkeys(keys))
        for i in range(0, len(unique), _IN_CHUNK):
            chunk = unique[i : i + _IN_CHUNK]
            marks = ", ".join("?" * len(chunk))
            sql = f"SELECT key, position FROM keys WHERE key IN ({marks})"
            for key, position in db.execute(sql, chunk).fetchall():
                record = self._record_at(db, int(position))
                if record is None or record.key != key:
                    raise JournalError(
                        f"{self.path}: the keys table puts {key!r} at position {position}, "
                        "where the events hold another; run `zkrisk journal verify`"
                    )
                found[key] = record
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
            head = self._head(db)[0]
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
                head = self._head(db)[0]
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
        """A write transaction committed: remember the tail an append left (and its rows,
        decoded already); the checkpointer folds the WAL back soon."""
        if self._pending is not None:
            position, prev, sequences, rows = self._pending
            self._pending = None
            self._tail.head = (position, prev)
            self._tail.sequences.update(sequences)
            for row in rows[-_ROW_CACHE:]:
                self._remember(row)
        if self._checkpointer is not None:
            self._checkpointer.committed()

    # --- reading ----------------------------------------------------------------------------

    def _remember(self, row: list[Recorded]) -> None:
        self._rows[row[0].position] = row
        while len(self._rows) > _ROW_CACHE:
            self._rows.popitem(last=False)

    def _decoded(self, row: Sequence[Any]) -> list[Recorded]:
        """A stored row's records (a cached decoding of the same committed row if there is one)."""
        cached = self._rows.get(row[0])
        if cached is not None and cached[0].hash == _hex(row[9]):
            return cached
        try:
            records = decode_row(row)
        except RowDamaged as exc:
            raise JournalError(
                f"{self.path}: the row of positions {row[0]}–{row[1]} is damaged: {exc}; "
                "`zkrisk journal verify` names the first damaged row"
            ) from None
        self._remember(records)
        return records

    def _record_at(self, db: sqlite3.Connection, position: int) -> Recorded | None:
        row = db.execute(_ROW_AT, (position,)).fetchone()
        if row is None or not row[0] <= position <= row[1]:
            return None
        record: Recorded = self._decoded(row)[position - row[0]]
        return record

    def read(
        self, after: int = 0, *, streams: Collection[str] | None = None, limit: int = 1000
    ) -> list[Recorded]:
        """Up to `limit` records with position > `after`, in order, optionally of some streams."""
        wanted = None if streams is None else set(streams)
        if wanted is not None and not wanted:
            return []
        out: list[Recorded] = []
        if limit <= 0:
            return out
        with self._lock:
            for row in self._live().execute(_ROWS_FROM, (after + 1,)):
                if row[1] <= after:
                    continue
                if wanted is not None:
                    named = json.loads(row[2])
                    if named not in wanted if isinstance(named, str) else wanted.isdisjoint(named):
                        continue
                records = self._decoded(row)
                skip = max(0, after + 1 - row[0])
                if wanted is None and skip == 0 and len(records) <= limit - len(out):
                    out += records
                else:
                    out += [r for r in records[skip:] if wanted is None or r.stream in wanted][
                        : limit - len(out)
                    ]
                if len(out) >= limit:
                    break
        return out

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
            db = self._live()
            row = db.execute("SELECT position FROM keys WHERE key = ?", (key,)).fetchone()
            return None if row is None else self._record_at(db, int(row[0]))

    def head(self) -> int:
        """The last position (0 when empty)."""
        with self._lock:
            return self._head(self._live())[0]

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
        """Walk the hash chain of every row (see `chain.verify`), then check that every row
        decodes and that the `keys` table holds each of its keys at its position (a deleted
        key would let a repeat of it in)."""
        with self._lock:
            db = self._live()
            rows = db.execute(f"SELECT {ROW_COLUMNS} FROM events ORDER BY first")
            report = verify(chain_rows(rows), gapless=True)
            if not report.intact:
                return report
            entries = 0
            for row in db.execute(f"SELECT {ROW_COLUMNS} FROM events ORDER BY first"):
                where = f"the row of positions {row[0]}–{row[1]}"
                try:
                    count = len(decode_row(row))
                except RowDamaged as exc:
                    return ChainReport(entries, report.head, row[0], f"{where}: {exc}")
                indexed = db.execute(_KEYS_CHECK, (row[4], row[0])).fetchone()[0]
                if indexed != count:
                    problem = (f"{where}: the keys table holds {indexed} of its {count} keys at "
                               "their positions (edited behind the journal's back)")  # fmt: skip
                    return ChainReport(entries, report.head, row[0], problem)
                entries += count
            total = db.execute("SELECT count(*) FROM keys").fetchone()[0]
            if total != entries:
                problem = f"the keys table holds {total} keys for {entries} events"
                return ChainReport(entries, report.head, entries + 1, problem)
            return report

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
