"""The scale-out journal backend: the `Journal` contract on NATS JetStream.

Layout. One JetStream stream per journal (`nats://host:port/<prefix>`, default prefix
`zkrisk`), every journal stream (topic) a subject of it (`jetstream_wire` has the subjects).
The issue asked for "a stream per topic"; a JetStream stream has its own sequence and atomic
batches cannot span streams, so a stream per topic could give neither journal-wide gapless
positions nor "outputs and cursor in one transaction". One stream with a subject per topic
gives both, and per-topic reading stays server-side: a subject filter (`<p>.e.*.<topic>`) is
what a per-topic consumer (`jetstream_consumer`) or `read(streams=...)` asks for.

How each clause of the contract (engine/journal/base.py) holds:
- Atomic batches: an append is one JetStream atomic batch (nats-server ≥ 2.12, stream
  `allow_atomic`; nats-py 2.16 has no helper, so the Nats-Batch-Id / -Sequence / -Commit
  headers are sent here): the events, a marker per topic, and the cursor, all or nothing. The
  server's batch holds at most 1,000 messages (its `jetstream.limits.batch.max_msgs`, default
  1,000): a bigger append is refused before anything is sent, not split. `append_many`
  pipelines batches (each still one atomic batch): batch k+1, sent before k's ack, also
  carries a link message (`<p>.w.<writer>`, the journal object's own subject: one entry per
  pipelining writer in the server's subject index) expecting k's, so it lands only after k
  did: a refused k takes the batches behind it with it, even when another writer's batch
  happens to end where k would have (the stream's last sequence alone would not tell them
  apart); k is redone alone, as `append` redoes a batch, and the pipeline resumes after it.
- Positions and sequences: the stream's sequences also count the control messages (markers,
  cursors, snapshots), so a position is not a stream sequence: the writer numbers events
  (position, per-topic sequence, hash-chain link) in the payload, and the batch's first
  message carries `Nats-Expected-Last-Sequence` = the last stream sequence it numbered after.
  A writer that lost the race (another process appended first) gets "wrong last sequence",
  reloads the tail and renumbers: positions stay 1-based, gapless and in commit order across
  processes, and the hash chain is the SQLite journal's (`verify` walks it).
- Idempotency: every event is published on its key's own subject (`<p>.e.<token>.<topic>`,
  the token a sha256 prefix of the key) with `Nats-Expected-Last-Subject-Sequence: 0` for
  `<p>.e.<token>.>`, so the server refuses a second message for a key for as long as the
  journal exists (not only within a duplicate window), and `get(key)` is one direct get of
  that subject's last message. A refused batch is redone knowing the originals (looked up by
  key), as SQLite does; an append whose ack was lost is redone the same way (its expected last
  sequence no longer holds). Every event also carries `Nats-Msg-Id` = its key's token, so a
  plain re-publish of it (a client that knows nothing of the subject rule, within the
  stream's duplicate window) is acknowledged as a duplicate and not stored: the server-side
  deduplication NATS users expect. It costs a map entry per message over the window and
  about 4-5 µs of server CPU per event measured here (a tenth of the server's work per
  event, with it 32 µs, without 28, the same batches); the subject rule is what makes the
  refusal permanent. The cost of the
  per-key subjects: the server's subject index holds one entry per key (memory grows with the
  keys, like SQLite's UNIQUE index), and the expectation costs a lookup in it per event.
- Cursors: `<p>.c.<token>`, published in the same atomic batch as the outputs, with
  `Nats-Expected-Last-Subject-Sequence` = the cursor message it moves from, so two writers of
  one consumer cannot both move it; forward-only and not past the head are checked before.
- Snapshots: `<p>.s.<token>`, the state in chunks of one atomic batch (a NATS message is at most
  1 MB); the latest batch is the snapshot.
- The journal is append-only as SQLite's triggers make it: the stream denies delete and purge.

Durability: an acknowledged append is in the server's store files (page cache): it survives
the client and the server process being killed. nats-server fsyncs every 2 minutes by default
(`jetstream.sync_interval`), so a power cut can lose up to 2 minutes of acked appends; a server
started with `start_nats(sync_interval="always")` fsyncs before it acks (measured here: a
one-event append about 5 ms slower, batches of 500 within the noise). A cluster (replicas = 3)
is JetStream's answer to a lost machine, out of scope here.

Throughput (benchmarks/bench_jetstream.py; 2 cores shared with other work, so every figure
moves with the load): an append is CPU on both sides and disk waits in the server. This
process: about 11-22 µs per event (validation, the event's JSON, the chain link, the protocol
bytes: `EventEncoder` frames a batch with one f-string per event and one join, and the batch
goes out in one write). The server: about 24-40 µs per event (staging, the per-key
expectation, the Msg-Id, about 4 µs of it, the store), plus a fixed cost per atomic batch:
nats-server stages each batch of an R1 file stream in a file store of its own (a directory,
meta files written with O_SYNC and fsynced, removed at the commit), 5-20 ms of disk waits
per batch here, in the stream's one goroutine. So append in big batches (a batch of 999 costs
the server about 21 µs per event) and, with several batches in hand, `append_many`: the
server commits one batch while this process frames the next. Batches of 500 quotes, six runs
at load 0.2-0.4: `append_many` 21.8-28.7k events/s (median 23.6k), `append` one batch at a
time 16.8-21.1k, the same batches framed beforehand and all sent at once (the server alone)
26.7-37.8k; at load 1.1-2.1 `append_many` about 20k (13-26k) and `append` 12-19k.

Sync interface, async client: the nats-py client runs on a private event loop in a daemon
thread and every call hops onto it (`run_coroutine_threadsafe`), about 30-60 µs per call; an
append (or `append_many`) is one hop whatever its size. Batch acks come back on one inbox
subscription per journal (`_new_ack`), not a request per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import threading
from collections import deque
from collections.abc import Collection, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .base import JournalError
from .chain import GENESIS, ChainReport, ChainRow, verify
from .events import Draft, Recorded
from .jetstream_wire import (
    PREFIX,
    EventEncoder,
    Subjects,
    chain_fields,
    control_payload,
    first_problem,
    head_of,
    hpub,
    parse_event,
    split,
    token,
)

T = TypeVar("T")
DEFAULT_PREFIX = "zkrisk"
MAX_BATCH = 1000
"""Messages per atomic batch (nats-server's limit)."""
CHUNK = 256 * 1024
"""Snapshot bytes per message (NATS's default max payload is 1 MB)."""
DUPLICATE_WINDOW_S = 120.0
"""JetStream's default window for Nats-Msg-Id deduplication."""
_WRONG_LAST_SEQUENCE = 10071
_DUPLICATE_IN_BATCH = 10201
_RETRIES = 100
_PIPELINE = 4
"""Batches `append_many` keeps in flight. The server acks a batch only once it has worked
through what it was sent, so with 2 in flight it sat idle while the next one was framed
(median 18k events/s against 21k with 4, batches of 500; the server takes at most 50 atomic
batches in flight per stream, whoever sends them)."""


def parse_nats_spec(spec: str) -> tuple[str, str]:
    """`nats://host:port[/prefix]` → (server URL, prefix)."""
    parts = urlsplit(spec)
    if parts.scheme != "nats" or not parts.hostname:
        raise JournalError(f"journal spec {spec!r}: expected nats://host:port[/prefix]")
    prefix = parts.path.strip("/") or DEFAULT_PREFIX
    if not PREFIX.match(prefix):
        raise JournalError(
            f"journal spec {spec!r}: prefix {prefix!r} must be 1-32 letters, digits, '_' or '-'"
        )
    try:
        port = parts.port or 4222
    except ValueError:
        raise JournalError(f"journal spec {spec!r}: the port is not a number") from None
    return f"nats://{parts.hostname}:{port}", prefix


class _Loop:
    """A private asyncio loop in a daemon thread; `run` executes a coroutine on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                       name="jetstream-journal")  # fmt: skip
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        """Cancel what is left on the loop (a reconnect, a subscription's reader), then stop."""

        async def cancel_the_rest() -> None:
            rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        with contextlib.suppress(Exception):  # a loop that cannot cancel is stopped anyway
            self.run(cancel_the_rest(), 5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            self.loop.close()


@dataclass
class _Tail:
    """What the writer knows of the stream's end: its last sequence, the head event's position
    and link, topics' last sequences, cursors (position, cursor message's stream sequence)."""

    last_seq: int
    head: int
    head_hash: str
    topics: dict[str, int] = field(default_factory=dict)
    cursors: dict[str, tuple[int, int]] = field(default_factory=dict)
    link_seq: int = 0
    """The stream sequence of this writer's last link message (`append_many`), 0 if none."""


class _Conflict(Exception):
    """The server refused a batch whose expectations no longer hold: reload and redo."""


class _BatchWriter:
    """One atomic batch of `count` messages after stream sequence `expected_last`: the events
    framed as protocol bytes (`EventEncoder`: one join per batch, not a `publish` call per
    message, which validates and encodes every header again), then the control messages,
    the last of them carrying the journal's reply inbox (`JetStreamJournal._new_ack`): its
    reply is the batch's ack. The batch goes out in one write: sent in runs of 64 as it was
    framed (the server staging one run while the next was framed), the server spent more CPU
    per event (34-43 µs against 27-28 in one comparison) and the append was no faster."""

    def __init__(self, journal: JetStreamJournal, count: int, expected_last: int,
                 position: int, prev: str, sequences: dict[str, int]) -> None:  # fmt: skip
        self.journal, self.count, self.expected_last = journal, count, expected_last
        self.batch_id = secrets.token_hex(8)
        self.encoder = EventEncoder(journal.subjects.prefix, self.batch_id, expected_last,
                                    position, prev, sequences)  # fmt: skip
        self.wire: list[bytes] = []
        self.last: tuple[str, dict[str, str], bytes] | None = None

    def events(self, drafts: list[Draft], out: list[Recorded]) -> None:
        """Frame the batch's events (valid, new keys); their records go to `out`."""
        self.wire.append(self.encoder.encode(drafts, out))

    def control(self, subject: str, headers: dict[str, str], payload: bytes) -> None:
        """Queue a control message (marker, link, cursor); the last one is the commit."""
        if self.encoder.index + 1 == self.count:
            self.last = (subject, dict(headers), payload)
        else:
            self.wire.append(self.encoder.control(subject, headers, payload))

    async def commit(self) -> asyncio.Future[bytes]:
        """Send the batch; the future of its ack (the reply's data)."""
        assert self.last is not None and self.encoder.index + 1 == self.count, self.count
        subject, headers, payload = self.last
        if self.count == 1:  # a lone message: a plain publish
            headers["Nats-Expected-Last-Sequence"] = str(self.expected_last)
            extra = ""
        else:
            extra = (f"Nats-Batch-Id: {self.batch_id}\r\nNats-Batch-Sequence: {self.count}\r\n"
                     f"Nats-Batch-Commit: 1")  # fmt: skip
        ack, reply = self.journal._new_ack()
        self.wire.append(hpub(subject, headers, extra, payload, reply=reply))
        nc = self.journal._nc
        await nc._send_command(b"".join(self.wire))  # nats-py's outgoing buffer, in order
        await nc._flush_pending()
        await asyncio.sleep(0)  # let the flusher write it now
        return ack


@dataclass
class _Sent:
    """A batch framed (`writer`), then sent (`ack`, awaited): what the tail becomes once it
    lands."""

    writer: _BatchWriter
    expected_last: int
    count: int
    records: list[Recorded]
    head: int
    head_hash: str
    sequences: dict[str, int]
    cursor: tuple[str, int] | None
    link: str | None
    """The writer's link subject when the batch carries one (`append_many`)."""
    ack: asyncio.Future[bytes] | None = None

    async def send(self) -> None:
        self.ack = await self.writer.commit()

    @property
    def last_seq(self) -> int:
        return self.expected_last + self.count

    def advance(self, tail: _Tail) -> None:
        """The tail after this batch (the stream's, once acked; a pipeline's prediction)."""
        tail.last_seq, tail.head, tail.head_hash = self.last_seq, self.head, self.head_hash
        tail.topics.update(self.sequences)
        if self.cursor is not None:
            tail.cursors[self.cursor[0]] = (self.cursor[1], self.last_seq)
        if self.link is not None:  # the link comes last but for the cursor
            tail.link_seq = self.last_seq - (self.cursor is not None)


class JetStreamJournal:
    """The `Journal` contract over one JetStream stream (see the module docstring)."""

    in_flight = _PIPELINE

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        timeout: float = 5.0,
        create: bool = True,
    ) -> None:
        """Connect to the journal `prefix` on the server at `url`; `create`: make its stream
        when there is none yet (False for readers, which must not write: then a missing stream
        is an error)."""
        if not PREFIX.match(prefix):
            raise JournalError(f"prefix {prefix!r} must be 1-32 letters, digits, '_' or '-'")
        self.url = url
        self.subjects = Subjects(prefix)
        self.timeout = timeout
        self._closed = False
        self._loop = _Loop()
        self._lock: asyncio.Lock | None = None
        self._tail: _Tail | None = None
        self._topics: set[str] = set()
        """Stream names found valid (`first_problem`)."""
        self._writer = secrets.token_hex(8)
        """This writer's link token (`append_many`'s `<p>.w.<writer>`)."""
        self._acks: dict[str, asyncio.Future[bytes]] = {}
        self._ack_count = 0
        self._hint: tuple[int, int] = (0, 0)
        """(position, stream sequence) of a record seen last: where a read after it starts."""
        try:
            self._run(self._connect(create))
        except BaseException:
            self._loop.stop()
            raise

    # --- plumbing ---------------------------------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        if self._closed:
            coro.close()
            raise JournalError(f"{self.url}: the journal is closed; open a new JetStreamJournal")
        try:
            return self._loop.run(coro, (timeout or self.timeout) * 4)
        except JournalError:
            raise
        except TimeoutError:
            raise JournalError(
                f"{self.url}: the NATS server did not answer in time (is it running? start "
                f"one with `nats-server --jetstream`)"
            ) from None
        except Exception as exc:  # nats-py's errors: no servers, connection closed, ...
            raise JournalError(f"{self.url}: NATS error {type(exc).__name__}: {exc}") from None

    async def _connect(self, create: bool) -> None:
        import nats

        self._lock = asyncio.Lock()

        async def quiet(exc: Exception) -> None:  # nats-py logs every failed attempt otherwise
            del exc

        try:
            # Reconnects forever once connected (a restarted server comes back), but the first
            # connection gets `timeout`: a wrong URL says so instead of waiting.
            self._nc = await asyncio.wait_for(nats.connect(
                self.url, connect_timeout=self.timeout, max_reconnect_attempts=-1,
                reconnect_time_wait=0.2, allow_reconnect=True, error_cb=quiet,
            ), self.timeout)  # fmt: skip
        except Exception as exc:
            raise JournalError(
                f"{self.url}: cannot connect to the NATS server ({type(exc).__name__}: {exc}); "
                f"start one (`nats-server --jetstream`) or fix the journal's nats:// URL"
            ) from None
        self._js = self._nc.jetstream(timeout=self.timeout)
        try:
            self._inbox = self._nc.new_inbox()  # the batches' acks (`_new_ack`)
            await self._nc.subscribe(f"{self._inbox}.*", cb=self._on_ack)
            await self._open_stream(create)
        except BaseException:
            await self._nc.close()  # a refused journal leaves no connection behind
            raise

    async def _open_stream(self, create: bool) -> None:
        from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
        from nats.js.errors import NotFoundError

        s = self.subjects
        try:
            info = await self._js.stream_info(s.stream)
        except NotFoundError:
            if not create:
                raise JournalError(
                    f"{self.url}: no journal {s.stream!r} on this server (nothing appended yet, "
                    f"or another prefix: nats://host:port/<prefix>)"
                ) from None
            config = StreamConfig(
                name=s.stream, subjects=[s.everything], storage=StorageType.FILE,
                retention=RetentionPolicy.LIMITS, discard=DiscardPolicy.NEW,
                duplicate_window=DUPLICATE_WINDOW_S, allow_direct=True, allow_atomic=True,
                deny_delete=True, deny_purge=True,
            )  # fmt: skip
            info = await self._js.add_stream(config)
        if not info.config.allow_atomic or not info.config.allow_direct:
            raise JournalError(
                f"{self.url}: stream {s.stream!r} exists but is not a zkrisk journal (no atomic "
                f"batches or direct gets); use another prefix (nats://host:port/<prefix>)"
            )

    async def _direct(self, request: dict[str, Any]) -> tuple[int, str, bytes] | None:
        """One direct get: (stream sequence, subject, payload), or None when nothing matches."""
        reply = await self._nc.request(
            f"$JS.API.DIRECT.GET.{self.subjects.stream}", json.dumps(request).encode(),
            timeout=self.timeout,
        )  # fmt: skip
        headers = reply.headers or {}
        status = headers.get("Status")
        if status == "404":
            return None
        if status is not None:
            raise JournalError(f"{self.url}: direct get {request} failed: {headers}")
        return int(headers["Nats-Sequence"]), headers["Nats-Subject"], reply.data

    async def _batch(self, start: int, subject: str, count: int) -> list[tuple[int, str, bytes]]:
        """Up to `count` messages on `subject` from stream sequence `start` (one batch get)."""
        inbox = self._nc.new_inbox()
        sub = await self._nc.subscribe(inbox)
        out: list[tuple[int, str, bytes]] = []
        try:
            request = {"seq": start, "next_by_subj": subject, "batch": count}
            await self._nc.publish(f"$JS.API.DIRECT.GET.{self.subjects.stream}",
                                   json.dumps(request).encode(), reply=inbox)  # fmt: skip
            while True:
                msg = await sub.next_msg(timeout=self.timeout)
                headers = msg.headers or {}
                status = headers.get("Status")
                if status in ("204", "404"):
                    return out
                if status is not None:
                    raise JournalError(f"{self.url}: batch get {request} failed: {headers}")
                out.append((int(headers["Nats-Sequence"]), headers["Nats-Subject"], msg.data))
                if len(out) >= count:
                    return out
        finally:
            await sub.unsubscribe()

    # --- the tail -----------------------------------------------------------------------------

    async def _load_tail(self) -> _Tail:
        last = await self._direct({"last_by_subj": self.subjects.everything})
        if last is None:
            return _Tail(0, 0, GENESIS)
        head, head_hash = head_of(last[2])
        return _Tail(last[0], head, head_hash)

    async def _topic_sequence(self, topic: str) -> int:
        found = await self._direct({"last_by_subj": self.subjects.marker(topic)})
        return 0 if found is None else int(split(found[2])[0]["sequence"])

    async def _cursor_state(self, consumer: str) -> tuple[int, int]:
        found = await self._direct({"last_by_subj": self.subjects.cursor(consumer)})
        return (0, 0) if found is None else (int(split(found[2])[0]["position"]), found[0])

    async def _lookup(self, keys: Collection[str]) -> dict[str, Recorded]:
        async def one(key: str) -> Recorded | None:
            found = await self._direct({"last_by_subj": self.subjects.of_key(token(key))})
            if found is None:
                return None
            record = parse_event(found[2])
            if record.key != key:
                raise JournalError(f"keys {key!r} and {record.key!r} share a token (sha256 "
                                   f"prefix collision): rename one")  # fmt: skip
            return record

        found = await asyncio.gather(*(one(k) for k in keys))
        return {r.key: r for r in found if r is not None}

    # --- writing ------------------------------------------------------------------------------

    def append(
        self, drafts: Sequence[Draft], *, cursor: tuple[str, int] | None = None
    ) -> list[Recorded]:
        """Append a batch atomically; returns one record per draft (originals for repeats)."""
        if (problem := first_problem(drafts, self._topics)) is not None:
            raise JournalError(problem)
        if cursor is not None:
            _check_cursor_args(*cursor)
        return self._run(self._append(list(drafts), cursor))

    def append_many(self, batches: Sequence[Sequence[Draft]]) -> list[list[Recorded]]:
        """Append several batches, each atomically and in order, as `append` would one after
        the other, but pipelined: batch k+1 is framed and sent before batch k's ack, so the
        server commits one while this process frames the next. Returns one record list per
        batch (originals for repeats, as `append`). Batch k+1 lands only if batch k did: it
        expects the stream's last sequence after k and k's link message (`<p>.w.<writer>`,
        one more message per batch: at most 998 events of one stream); when k is refused
        (another writer came first, a key was stored meanwhile), the batches sent after it are
        refused too, and k, then the rest, are redone as `append` redoes a batch. Batches are
        checked before anything is sent; on an error after that (the server gone, an ack
        lost), the batches acked before it are appended and those in flight may be: calling
        again with the same batches is safe (their keys are idempotent)."""
        lists = [list(b) for b in batches]
        for n, b in enumerate(lists):
            if (problem := first_problem(b, self._topics)) is not None:
                raise JournalError(f"batch {n}: {problem}")
            count = len({d.key for d in b}) + len({d.stream for d in b}) + 1
            if count > MAX_BATCH:
                raise JournalError(
                    f"batch {n}: {count} messages (events, one marker per stream, the link) "
                    f"exceed JetStream's atomic batch of {MAX_BATCH}: append in smaller batches"
                )
        return self._run(self._append_many(lists), timeout=self.timeout * (1 + len(lists)))

    async def _append(self, drafts: list[Draft], cursor: tuple[str, int] | None) -> list[Recorded]:
        assert self._lock is not None
        async with self._lock:
            return await self._append_locked(drafts, cursor)

    async def _append_locked(
        self, drafts: list[Draft], cursor: tuple[str, int] | None
    ) -> list[Recorded]:
        stored: dict[str, Recorded] | None = None
        for _ in range(_RETRIES):
            try:
                cached = self._tail is not None
                tail = self._tail or await self._load_tail()
                self._tail = tail
                sent = await self._frame_batch(drafts, cursor, stored, tail, cached)
                if isinstance(sent, list):
                    return sent
                await sent.send()
                await self._settle(sent)
                sent.advance(tail)
                return sent.records
            except _Conflict:
                self._tail = None
                stored = await self._lookup({d.key for d in drafts})
        raise JournalError(f"{self.url}: append lost the race {_RETRIES} times; retry it")

    async def _append_many(self, batches: list[list[Draft]]) -> list[list[Recorded]]:
        assert self._lock is not None
        out: list[list[Recorded]] = []
        async with self._lock:
            while len(out) < len(batches):
                await self._pipeline(batches, out)
                if len(out) < len(batches):  # batch len(out) was refused: redo it alone
                    out.append(await self._append_locked(batches[len(out)], None))
        return out

    async def _pipeline(self, batches: list[list[Draft]], out: list[list[Recorded]]) -> None:
        """Send batches from `len(out)` on, up to `_PIPELINE` in flight and the next one framed
        while their acks come, appending each one's records to `out` as its ack arrives;
        returns at the end or at the first batch refused by an expectation (after the acks of
        those sent behind it)."""
        tail = self._tail or await self._load_tail()
        self._tail = tail
        predicted = _Tail(tail.last_seq, tail.head, tail.head_hash, dict(tail.topics),
                          dict(tail.cursors), tail.link_seq)  # fmt: skip
        inflight: deque[_Sent | list[Recorded]] = deque()
        stored: dict[str, Recorded] = {}  # this run's records: a repeat in a later batch
        link = self.subjects.writer(self._writer)
        next_batch, linked = len(out), False  # linked: a batch of this run carries a link
        ready: _Sent | list[Recorded] | None = None  # the next batch, framed while acks come
        try:
            while next_batch < len(batches) or inflight or ready is not None:
                if ready is None and next_batch < len(batches):
                    batch = batches[next_batch]
                    known = {d.key: stored[d.key] for d in batch if d.key in stored}
                    ready = await self._frame_batch(batch, None, known, predicted, True,
                                                    link=(link, linked))  # fmt: skip
                    next_batch += 1
                    if isinstance(ready, _Sent):
                        linked = True
                        ready.advance(predicted)
                        stored.update((r.key, r) for r in ready.records)
                if ready is not None and len(inflight) < _PIPELINE:
                    if isinstance(ready, _Sent):
                        await ready.send()
                    inflight.append(ready)
                    ready = None
                    continue
                done = inflight.popleft()
                if isinstance(done, _Sent):
                    await self._settle(done)
                    done.advance(tail)
                    out.append(done.records)
                else:
                    out.append(done)
        except BaseException as exc:
            self._tail = None
            if not isinstance(exc, _Conflict):
                raise
            # The batches sent after the refused one expected it: the server refuses them.
            for rest in inflight:
                if isinstance(rest, _Sent) and await self._lands(rest):
                    raise JournalError(f"{self.url}: a pipelined batch landed after the one "
                                       f"it expected was refused") from None  # fmt: skip

    async def _lands(self, sent: _Sent) -> bool:
        """Whether a batch is acked (False: refused by an expectation)."""
        try:
            await self._settle(sent)
        except _Conflict:
            return False
        return True

    async def _frame_batch(
        self,
        drafts: list[Draft],
        cursor: tuple[str, int] | None,
        stored: dict[str, Recorded] | None,
        tail: _Tail,
        cached: bool,
        link: tuple[str, bool] | None = None,
    ) -> _Sent | list[Recorded]:
        """Number and frame one batch after `tail` (`_Sent.send` sends it); the records when
        nothing is to be stored. `stored`: records of keys already in the journal (their originals are
        returned); `link`: (the writer's link subject, whether the batch expects the previous
        batch's link) for `append_many`."""
        s = self.subjects
        batch: dict[str, Recorded] = dict(stored or {})
        new: list[Draft] = []  # the drafts to store: first occurrences of keys not stored
        seen = set(batch)
        for d in drafts:
            if d.key not in seen:
                seen.add(d.key)
                new.append(d)
        topics = {d.stream for d in new}
        missing = topics - tail.topics.keys()
        if missing:
            found = await asyncio.gather(*(self._topic_sequence(t) for t in missing))
            tail.topics.update(zip(missing, found, strict=True))
        # Everything that can refuse the append is checked before its first message leaves.
        head = tail.head + len(new)
        count = len(new) + len(topics) + (cursor is not None) + (link is not None and bool(new))
        if count > MAX_BATCH:
            raise JournalError(
                f"an append of {count} messages (events, one marker per stream, the cursor) "
                f"exceeds JetStream's atomic batch of {MAX_BATCH}: append in smaller batches"
            )
        cursor_message: tuple[str, dict[str, str]] | None = None
        if cursor is not None:
            consumer, target = cursor
            current, cursor_seq = tail.cursors.get(consumer) or await self._cursor_state(consumer)
            if target > head and cached:
                raise _Conflict()  # other processes appended since the tail was read: reload it
            _check_cursor_move(consumer, current, target, head)
            expect = {"Nats-Expected-Last-Subject-Sequence": str(cursor_seq)}
            cursor_message = (s.cursor(consumer), expect)
        if count == 0:
            return [batch[d.key] for d in drafts]
        sequences = {t: tail.topics[t] for t in topics}
        writer = _BatchWriter(self, count, tail.last_seq, tail.head, tail.head_hash, sequences)
        fresh: list[Recorded] = []
        writer.events(new, fresh)
        batch.update((r.key, r) for r in fresh)
        position, prev = writer.encoder.position, writer.encoder.prev
        for topic, sequence in sequences.items():
            payload = control_payload(position, prev, topic=topic, sequence=sequence)
            writer.control(s.marker(topic), {}, payload)
        if link is not None and new:
            subject, expects = link
            headers = {"Nats-Expected-Last-Subject-Sequence": str(tail.link_seq)} if expects else {}
            writer.control(subject, headers, control_payload(position, prev, link=True))
        if cursor is not None and cursor_message is not None:
            payload = control_payload(position, prev, consumer=cursor[0], position=cursor[1])
            writer.control(*cursor_message, payload)
        return _Sent(writer, tail.last_seq, count, [batch[d.key] for d in drafts], position,
                     prev, sequences, cursor, link[0] if link is not None and new else None)  # fmt: skip

    async def _settle(self, sent: _Sent) -> None:
        """Wait for a batch's ack; `_Conflict` when an expectation failed."""
        assert sent.ack is not None, "a batch is sent before its ack is awaited"
        try:
            reply = await asyncio.wait_for(sent.ack, self.timeout)
        except TimeoutError:
            raise TimeoutError(f"{self.url}: no ack for an append") from None
        ack = json.loads(reply)
        error = ack.get("error")
        if error is not None:
            if error.get("err_code") in (_WRONG_LAST_SEQUENCE, _DUPLICATE_IN_BATCH):
                raise _Conflict()
            raise JournalError(f"{self.url}: JetStream refused the append: "
                               f"{error.get('description')} ({error.get('err_code')})")  # fmt: skip
        if ack.get("duplicate") or int(ack["seq"]) != sent.last_seq:
            raise _Conflict()  # not where expected (another writer's batch came first)

    async def _publish(
        self, messages: list[tuple[str, dict[str, str], bytes]], expected_last: int
    ) -> int:
        """Publish control messages as one atomic batch after stream sequence `expected_last`;
        returns the stream's last sequence after it. Raises `_Conflict` when an expectation
        failed."""
        if len(messages) > MAX_BATCH:
            raise JournalError(
                f"{len(messages)} messages exceed JetStream's atomic batch of {MAX_BATCH}"
            )
        writer = _BatchWriter(self, len(messages), expected_last, 0, GENESIS, {})
        for message in messages:
            writer.control(*message)
        sent = _Sent(writer, expected_last, len(messages), [], 0, GENESIS, {}, None, None)
        await sent.send()
        await self._settle(sent)
        return sent.last_seq

    def _new_ack(self) -> tuple[asyncio.Future[bytes], str]:
        """A future for the reply to one message, and the reply subject to send it with."""
        self._ack_count += 1
        name = str(self._ack_count)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._acks[name] = future
        future.add_done_callback(lambda _: self._acks.pop(name, None))
        return future, f"{self._inbox}.{name}"

    async def _on_ack(self, msg: Any) -> None:
        future = self._acks.get(msg.subject.rsplit(".", 1)[1])
        if future is not None and not future.done():
            future.set_result(msg.data)

    def commit_cursor(self, consumer: str, position: int) -> None:
        """Move a consumer's cursor (forward only: a lower position is an error)."""
        _check_cursor_args(consumer, position)
        self._run(self._append([], (consumer, position)))

    def save_snapshot(self, name: str, position: int, state: bytes) -> None:
        """Store a projection's state as of `position` (replaces the older one)."""
        self._run(self._save_snapshot(name, position, bytes(state)))

    async def _save_snapshot(self, name: str, position: int, state: bytes) -> None:
        assert self._lock is not None
        async with self._lock:
            for _ in range(_RETRIES):
                tail = self._tail or await self._load_tail()
                self._tail = tail
                if type(position) is int and position > tail.head:
                    tail = self._tail = await self._load_tail()  # others may have appended since
                if type(position) is not int or not 0 <= position <= tail.head:
                    raise JournalError(f"snapshot {name!r}: position {position!r} is not "
                                       f"between 0 and the head {tail.head}")  # fmt: skip
                chunks = [state[i : i + CHUNK] for i in range(0, len(state), CHUNK)] or [b""]
                messages: list[tuple[str, dict[str, str], bytes]] = [
                    (self.subjects.snapshot(name), {},
                     control_payload(tail.head, tail.head_hash, name=name, position=position,
                                     chunk=i, chunks=len(chunks)) + b"\n" + chunk)
                    for i, chunk in enumerate(chunks)
                ]  # fmt: skip
                try:
                    tail.last_seq = await self._publish(messages, tail.last_seq)
                    return
                except _Conflict:
                    self._tail = None
            raise JournalError(f"{self.url}: snapshot lost the race {_RETRIES} times; retry it")

    # --- reading ------------------------------------------------------------------------------

    def read(
        self, after: int = 0, *, streams: Collection[str] | None = None, limit: int = 1000
    ) -> list[Recorded]:
        """Up to `limit` records with position > `after`, in order, optionally of some streams."""
        if streams is not None and not streams:
            return []
        return self._run(self._read(after, None if streams is None else set(streams), limit))

    async def _start_of(self, after: int) -> int:
        """The stream sequence of the first message whose head passes `after` (bisection on
        the monotone head of every message; see jetstream_wire)."""
        hint_position, hint_seq = self._hint
        if after <= 0:
            return 1
        if after == hint_position:
            return hint_seq + 1
        tail = await self._load_tail()
        lo, hi = after + 1, tail.last_seq + 1  # an event's sequence is ≥ its position
        while lo < hi:
            mid = (lo + hi) // 2
            found = await self._direct({"seq": mid, "next_by_subj": self.subjects.everything})
            if found is None or head_of(found[2])[0] > after:
                hi = mid
            else:
                lo = max(mid, found[0]) + 1
        return lo

    async def _read(self, after: int, streams: set[str] | None, limit: int) -> list[Recorded]:
        s = self.subjects
        subject = s.of_topic(next(iter(streams))) if streams and len(streams) == 1 else s.events
        start = await self._start_of(after)
        out: list[Recorded] = []
        while len(out) < limit:
            page = await self._batch(start, subject, min(limit - len(out), MAX_BATCH))
            for seq, _subject, data in page:
                record = parse_event(data)
                if record.position > after and (streams is None or record.stream in streams):
                    out.append(record)
                    self._hint = (record.position, seq)
            if not page or len(page) < min(limit, MAX_BATCH):
                break
            start = page[-1][0] + 1
        return out[:limit]

    def iter_from(
        self, after: int = 0, *, streams: Collection[str] | None = None
    ) -> Iterator[Recorded]:
        """Every record with position > `after`, in order (reads in pages)."""
        while page := self.read(after, streams=streams, limit=1000):
            yield from page
            after = page[-1].position

    def get(self, key: str) -> Recorded | None:
        """The record with this idempotency key, if any."""
        return self._run(self._lookup([key])).get(key)

    def head(self) -> int:
        """The last position (0 when empty)."""
        return self._run(self._load_tail()).head

    def last_sequence(self, stream: str) -> int:
        """The last sequence of a stream (0 when it has none)."""
        return self._run(self._topic_sequence(stream))

    def streams(self) -> dict[str, int]:
        """Every stream with its last sequence."""
        return self._run(self._streams())

    async def _streams(self) -> dict[str, int]:
        info = await self._js.stream_info(
            self.subjects.stream, subjects_filter=self.subjects.markers
        )
        names = sorted(n[len(self.subjects.marker("")) :] for n in (info.state.subjects or {}))
        found = await asyncio.gather(*(self._topic_sequence(t) for t in names))
        return dict(zip(names, found, strict=True))

    def cursor(self, consumer: str) -> int:
        """A durable consumer's committed position (0 when it has never committed)."""
        return self._run(self._cursor_state(consumer))[0]

    def load_snapshot(self, name: str) -> tuple[int, bytes] | None:
        """The latest snapshot of a projection: (position, state)."""
        return self._run(self._load_snapshot(name))

    async def _load_snapshot(self, name: str) -> tuple[int, bytes] | None:
        subject = self.subjects.snapshot(name)
        last = await self._direct({"last_by_subj": subject})
        if last is None:
            return None
        meta, _ = split(last[2])
        chunks = int(meta["chunks"])
        page = await self._batch(last[0] - chunks + 1, subject, chunks) if chunks > 1 else [last]
        parts = [split(data)[1] for _seq, _subject, data in page]
        if len(parts) != chunks:
            raise JournalError(f"snapshot {name!r}: {len(parts)} of {chunks} chunks found")
        return int(meta["position"]), b"".join(parts)

    def verify(self) -> ChainReport:
        """Walk the hash chain of every event (see `chain.verify`)."""
        return self._run(self._verify(), timeout=600)

    async def _verify(self) -> ChainReport:
        rows: list[ChainRow] = []
        start = 1
        while page := await self._batch(start, self.subjects.events, MAX_BATCH):
            for _seq, _subject, data in page:
                position, fields, digest = chain_fields(data)
                rows.append(ChainRow(position, fields, None, digest))
            start = page[-1][0] + 1
        return verify(rows, gapless=True)

    def stream_messages(self) -> int:
        """How many messages the server holds for this journal (events and control messages):
        the server's own count, for tests and operators."""
        info = self._run(self._js.stream_info(self.subjects.stream))
        return int(info.state.messages)

    def close(self) -> None:
        if self._closed:
            return
        try:
            self._run(self._nc.drain() if self._nc.is_connected else self._nc.close())
        except JournalError:
            pass
        finally:
            self._closed = True
            self._loop.stop()

    def __enter__(self) -> JetStreamJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_cursor_args(consumer: object, position: object) -> None:
    if not isinstance(consumer, str) or not consumer:
        raise JournalError("a cursor needs a consumer name (a non-empty string)")
    if type(position) is not int or position < 0:
        raise JournalError(f"cursor {consumer!r}: position {position!r} is not an int ≥ 0")


def _check_cursor_move(consumer: str, current: int, target: int, head: int) -> None:
    if target < current:
        raise JournalError(
            f"cursor {consumer!r} cannot move backwards: it is at {current}, asked for "
            f"{target} (a consumer that must re-read uses a new consumer name)"
        )
    if target > head:
        raise JournalError(f"cursor {consumer!r}: position {target} is past the head {head}")
