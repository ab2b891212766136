"""How the JetStream journal lays records out on NATS: subjects, headers, payloads (pure).

One JetStream stream per journal (named by the prefix, default `zkrisk`), subjects:
- `<p>.e.<key token>.<topic>`: one event; the topic (the journal's stream, e.g. `md.feed`) is
  the subject's tail, so `<p>.e.*.md.feed` is one topic, `<p>.e.<key token>.>` one key;
- `<p>.t.<topic>`: the topic's sequence marker (its last message holds the topic's last
  sequence), one per topic per appended batch;
- `<p>.c.<name token>`: a consumer's cursor; `<p>.s.<name token>`: a snapshot's chunks.

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
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any

from . import drafts
from .base import JournalError
from .chain import link
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


def hpub(subject: str, headers: dict[str, str], extra: str, payload: bytes) -> bytes:
    """One NATS protocol HPUB (a message with headers, no reply): `headers` then the already
    formatted header line(s) `extra`. Subjects and header values are the journal's own (tokens,
    numbers, subjects of checked topics): no space, CR or LF to escape."""
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head = f"NATS/1.0\r\n{lines}{extra}\r\n\r\n".encode()
    size = len(head) + len(payload)
    return b"HPUB %s %d %d\r\n%s%s\r\n" % (subject.encode(), len(head), size, head, payload)


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
