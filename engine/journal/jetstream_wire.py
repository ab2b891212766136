"""How the JetStream journal lays records out on NATS: subjects, headers, payloads (pure).

One JetStream stream per journal (named by the prefix, default `zkrisk`), subjects:
- `<p>.e.<key token>.<topic>`: one event; the topic (the journal's stream, e.g. `md.feed`) is
  the subject's tail, so `<p>.e.*.md.feed` is one topic, `<p>.e.<key token>.>` one key;
- `<p>.t.<topic>`: the topic's sequence marker (its last message holds the topic's last
  sequence), one per topic per appended batch;
- `<p>.c.<name token>`: a consumer's cursor; `<p>.s.<name token>`: a snapshot's chunks;
- `<p>.w.<writer token>`: a pipelining writer's batch link (`append_many`), one per batch it
  pipelines: the next batch expects it, so that batch lands only after this one.

The key token is the first 32 hex digits (128 bits) of sha256(key): a subject token of fixed
length whatever the key holds; the record keeps the key itself, and a lookup checks it.

Every payload starts with one JSON line saying where the journal's head was: an event's line is
`[position, topic, sequence, key, type, event_time_ns, recv_time_ns, causation_id, hash]` and
its event body (JSON) follows the newline; a control message's (marker, cursor, snapshot) line
is an object with `head` (the position of the last event before it) and `hash`. So the value of
any message is monotone in the stream sequence, which is how a position is found by bisection.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any

from . import drafts
from .base import JournalError
from .chain import NONE_TEXT, TEXT_PREFIX, link
from .drafts import EVENT_CLASSES, MAX_KEY
from .events import EVENT_ADAPTER, Draft, Recorded

TOPIC = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_:-]*(\.[A-Za-z0-9][A-Za-z0-9_:-]*)*$")
"""A journal stream name that is also a run of NATS subject tokens (no empty token)."""
PREFIX = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def token(text: str) -> str:
    """A fixed-length subject token for any text (keys, consumer and snapshot names)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Subjects:
    """The subjects of one journal (prefix `p`)."""

    prefix: str

    @property
    def stream(self) -> str:
        return self.prefix

    @property
    def everything(self) -> str:
        return f"{self.prefix}.>"

    @property
    def events(self) -> str:
        return f"{self.prefix}.e.>"

    @property
    def markers(self) -> str:
        return f"{self.prefix}.t.>"

    def event(self, key_token: str, topic: str) -> str:
        return f"{self.prefix}.e.{key_token}.{topic}"

    def of_key(self, key_token: str) -> str:
        return f"{self.prefix}.e.{key_token}.>"

    def of_topic(self, topic: str) -> str:
        return f"{self.prefix}.e.*.{topic}"

    def marker(self, topic: str) -> str:
        return f"{self.prefix}.t.{topic}"

    def cursor(self, consumer: str) -> str:
        return f"{self.prefix}.c.{token(consumer)}"

    def snapshot(self, name: str) -> str:
        return f"{self.prefix}.s.{token(name)}"

    def writer(self, writer_token: str) -> str:
        return f"{self.prefix}.w.{writer_token}"


def draft_problem(index: int, draft: object) -> str | None:
    """What makes a draft one the journal could not store faithfully, and the fix: the SQLite
    journal's checks (the same words, so the contract tests match both), and a stream name
    must be a run of NATS subject tokens."""
    problem = drafts.draft_problem(index, draft)
    if problem is None and isinstance(draft, Draft) and not TOPIC.match(draft.stream):
        return (f"draft {index} (key {draft.key!r}): stream {draft.stream!r} is not a name like "
                f"'md.feed' (on JetStream a stream name is a run of subject tokens: no empty "
                f"part between dots)")  # fmt: skip
    return problem


_NS = 1 << 63
"""Times beyond int64 go to `draft_problem` (which says whether it takes them)."""


def first_problem(drafts: Sequence[object], topics: set[str]) -> str | None:
    """`draft_problem` of the first draft that has one; the common case checked inline (the
    SQLite journal's checks). `topics`: stream names already found valid (grows)."""
    for i, d in enumerate(drafts):
        if type(d) is not Draft:
            return draft_problem(i, d)
        key, cause, ens, rns = d.key, d.causation_id, d.event_time_ns, d.recv_time_ns
        if not (
            type(key) is str and 0 < len(key) <= MAX_KEY and d.stream in topics
            and type(d.event) in EVENT_CLASSES and type(ens) is int and 0 <= ens < _NS
            and type(rns) is int and 0 <= rns < _NS
            and (cause is None or (type(cause) is str and cause != ""))
        ):  # fmt: skip
            if (problem := draft_problem(i, d)) is not None:
                return problem
            topics.add(d.stream)
    return None


_P = TEXT_PREFIX
_sha256 = hashlib.sha256
_tuple_new = tuple.__new__
"""Builds a `Recorded` from one tuple: a NamedTuple's own `__new__` is Python code, about a
microsecond per event here."""


class EventEncoder:
    """Numbers, hashes and frames a batch's events as NATS protocol text, a run of drafts at
    a time: the payload of `event_record` (same head line, same chain link) inside an HPUB
    with the event's headers (the key's Msg-Id and expectation, the batch's id and sequence;
    the first message also `Nats-Expected-Last-Sequence`). The common case (ASCII key, body
    and causation, prev a 64-hex link) frames the link with one f-string as the SQLite
    journal does and writes the protocol bytes with one join per run; anything else goes
    through `chain.link` and `event_record`, byte for byte the same."""

    def __init__(self, prefix: str, batch_id: str, expected_last: int, position: int,
                 prev: str, sequences: dict[str, int]) -> None:  # fmt: skip
        self.prefix, self.batch_id, self.expected_last = prefix, batch_id, expected_last
        self.batch = f"Nats-Batch-Id: {batch_id}\r\nNats-Batch-Sequence: "
        self.position, self.prev = position, prev
        self.sequences = sequences
        """Each topic's last sequence (the caller's dict: updated as events are numbered)."""
        self.index = 0
        """Messages framed so far (the batch sequence of the last one)."""
        self._frames: dict[str, str] = {}

    def _frame(self, text: str) -> str:
        frame = self._frames.get(text)
        if frame is None:
            frame = self._frames[text] = f"{_P[len(text)]}{text}"
        return frame

    def encode(self, drafts: Sequence[Draft], out: list[Recorded]) -> bytes:
        """The HPUBs of `drafts` (valid, new keys, in order); their records go to `out`."""
        p, batch, sequences = self.prefix, self.batch, self.sequences
        frames, frame = self._frames, self._frame
        position, prev, index = self.position, self.prev, self.index
        parts: list[str] = []
        for d in drafts:
            key, stream, event, cause = d.key, d.stream, d.event, d.causation_id
            ens, rns = d.event_time_ns, d.recv_time_ns
            sequence = sequences[stream] + 1
            sequences[stream] = sequence
            position += 1
            index += 1
            type_ = event.type
            body = event.__pydantic_serializer__.to_json(event).decode()
            text = key.isascii() and body.isascii() and (cause is None or cause.isascii())
            digest = None
            pos, seq, et, rt = str(position), str(sequence), str(ens), str(rns)
            if text and len(prev) == 64 and prev.isascii():
                try:
                    fs, ft = frames.get(stream) or frame(stream), frames.get(type_) or frame(type_)
                    digest = _sha256(
                        f"{_P[64]}{prev}{_P[len(pos)]}{pos}{fs}{_P[len(seq)]}{seq}"
                        f"{_P[len(key)]}{key}{ft}{_P[len(et)]}{et}{_P[len(rt)]}{rt}"
                        f"{NONE_TEXT if cause is None else _P[len(cause)]}{cause or ''}"
                        f"{_P[len(body)]}{body}".encode("latin-1")
                    ).hexdigest()  # fmt: skip
                except IndexError:  # a field of SHORT bytes or more: framed as bytes
                    digest = None
            if digest is None:
                fields = (position, stream, sequence, key, type_, ens, rns, cause, body)
                digest = link(prev, fields)
            tok = _sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
            cause_json = "null" if cause is None else encode_basestring(cause)
            payload = (f'[{pos},"{stream}",{seq},{encode_basestring(key)},"{type_}",{et},{rt},'
                       f'{cause_json},"{digest}"]\n{body}')  # fmt: skip
            first = "" if index > 1 else f"Nats-Expected-Last-Sequence: {self.expected_last}\r\n"
            head = (f"NATS/1.0\r\nNats-Msg-Id: {tok}\r\n{first}"
                    f"Nats-Expected-Last-Subject-Sequence: 0\r\n"
                    f"Nats-Expected-Last-Subject-Sequence-Subject: {p}.e.{tok}.>\r\n"
                    f"{batch}{index}\r\n\r\n")  # fmt: skip
            size = len(payload) if text else len(payload.encode())
            parts.append(f"HPUB {p}.e.{tok}.{stream} {len(head)} {len(head) + size}\r\n"
                         f"{head}{payload}\r\n")  # fmt: skip
            prev = digest
            out.append(_tuple_new(Recorded, (position, stream, sequence, key, event, ens, rns,
                                             cause, digest)))  # fmt: skip
        self.position, self.prev, self.index = position, prev, index
        return "".join(parts).encode()

    def control(self, subject: str, headers: dict[str, str], payload: bytes) -> bytes:
        """The HPUB of a control message (marker, cursor, link) as the batch's next message."""
        self.index += 1
        if self.index == 1:
            headers = {**headers, "Nats-Expected-Last-Sequence": str(self.expected_last)}
        return hpub(subject, headers, f"{self.batch}{self.index}", payload)


def event_record(draft: Draft, position: int, sequence: int, prev: str) -> tuple[Recorded, bytes]:
    """The record a draft becomes at (position, sequence) after the link `prev`, and its
    payload. The head line is formatted by hand (json.dumps costs more than the hash): the
    topic (`TOPIC`), the type (an event class name) and the link (hex) need no escaping."""
    event = draft.event
    body = event.__pydantic_serializer__.to_json(event).decode()
    stream, key, cause, type_ = draft.stream, draft.key, draft.causation_id, event.type
    event_ns, recv_ns = draft.event_time_ns, draft.recv_time_ns
    digest = link(prev, (position, stream, sequence, key, type_, event_ns, recv_ns, cause, body))
    cause_json = "null" if cause is None else encode_basestring(cause)
    head = (f'[{position},"{stream}",{sequence},{encode_basestring(key)},"{type_}",'
            f'{event_ns},{recv_ns},{cause_json},"{digest}"]')  # fmt: skip
    record = Recorded(position, stream, sequence, key, event, event_ns, recv_ns, cause, digest)
    return record, f"{head}\n{body}".encode()


def hpub(subject: str, headers: dict[str, str], extra: str, payload: bytes,
         reply: str | None = None) -> bytes:  # fmt: skip
    """One NATS protocol HPUB (a message with headers, and a reply subject if given):
    `headers` then the already formatted header line(s) `extra`. Subjects and header values
    are the journal's own (tokens, numbers, subjects of checked topics): no space, CR or LF to
    escape."""
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    if extra:
        lines += extra + "\r\n"
    head = f"NATS/1.0\r\n{lines}\r\n".encode()
    size = len(head) + len(payload)
    to = b"" if reply is None else b" " + reply.encode()
    return b"HPUB %s%s %d %d\r\n%s%s\r\n" % (subject.encode(), to, len(head), size, head, payload)


def control_payload(head: int, head_hash: str, **fields: Any) -> bytes:
    return json.dumps({"head": head, "hash": head_hash, **fields}, separators=(",", ":")).encode()


def split(data: bytes) -> tuple[Any, bytes]:
    """A payload's JSON line and the rest."""
    line, _, rest = data.partition(b"\n")
    try:
        return json.loads(line), rest
    except ValueError:
        raise JournalError(f"a message in the journal's stream is not a journal record: "
                           f"{data[:80]!r}") from None  # fmt: skip


def head_of(data: bytes) -> tuple[int, str]:
    """(position, link) of the journal's head as of a message: the event's own or, for a
    control message, the last event's before it."""
    line, _ = split(data)
    if isinstance(line, list):
        return int(line[0]), str(line[8])
    return int(line["head"]), str(line["hash"])


def parse_event(data: bytes) -> Recorded:
    line, body = split(data)
    if not isinstance(line, list) or len(line) != 9:
        raise JournalError(f"not a journal event: {data[:80]!r}")
    position, topic, sequence, key, _type, event_ns, recv_ns, cause, digest = line
    event = EVENT_ADAPTER.validate_json(body)
    return Recorded(position, topic, sequence, key, event, event_ns, recv_ns, cause, digest)


def chain_fields(data: bytes) -> tuple[int, tuple[Any, ...], str]:
    """(position, the fields its link covers, its stored link) of an event payload."""
    line, body = split(data)
    position, topic, sequence, key, type_, event_ns, recv_ns, cause, digest = line
    fields = (position, topic, sequence, key, type_, event_ns, recv_ns, cause, body.decode())
    return int(position), fields, str(digest)
