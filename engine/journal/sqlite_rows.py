"""The SQLite journal's row format: a batch of events per row (pure encoding, no I/O).

A row of the `events` table holds up to `ROW_EVENTS` consecutive events, positions `first` to
`last`, as columns of arrays:

- `streams`: a JSON string when every event of the row is of one stream (the common case: an
  ingest batch), else a JSON array with one name per event;
- `sequences`, `event_ns`, `recv_ns`: int64 arrays, little-endian (each stream's sequence, the
  event and receive times);
- `keys`: a JSON array of the idempotency keys (the `keys` table indexes them);
- `causes`: a JSON array of causation ids (null for none), or NULL when no event has one;
- `bodies`: a JSON array of the events, each its model's JSON (`Event` reads it back);
- `link`: the row's hash-chain link, `chain.link(prev, ROW_FIELDS)` over the previous row's link
  and every column above, 32 bytes. Every event of the row reports it as its `hash`.

Why a row per batch: an event per row cost SQLite as much as the journal's whole Python work
(two B-tree inserts and ~10 bound values each); a row per batch is one insert of a few arrays
and, per event, one short key in `keys`. The events are serialised together (one pydantic call
per batch when they are of one type) and hashed together (one link per row). What changes for
a reader: `verify` names the first row whose link fails (its first position), not the event.
"""

from __future__ import annotations

import hashlib
import json
import sys
from array import array
from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any

from pydantic import TypeAdapter, ValidationError

from .chain import NONE_TEXT, Field
from .events import EVENT_TYPES, Event, Recorded

ROW_EVENTS = 1024
"""Events per row at most: an append of more spans several rows (one transaction all the same);
a read of one event decodes its whole row."""
INT64_MAX = 2**63 - 1

ROW_COLUMNS = "first, last, streams, sequences, keys, event_ns, recv_ns, causes, bodies, link"
INSERT_ROW = "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
INSERT_KEYS = "INSERT INTO keys SELECT value, ?1 + key FROM json_each(?2)"
"""The row's keys, at positions first + index, from the row's own `keys` JSON in one statement."""

_BIG_ENDIAN = sys.byteorder == "big"
_BODIES: TypeAdapter[list[Event]] = TypeAdapter(list[Event])
# A tuple of one event class is serialised in one call (a union would be resolved per element).
_SAME_KIND: dict[type, TypeAdapter[Any]] = {
    cls: TypeAdapter(tuple[cls, ...])  # type: ignore[valid-type]
    for cls in EVENT_TYPES.values()
}
_new_record = tuple.__new__  # NamedTuple's own __new__ is a Python function, twice the cost
_quoted: Callable[[str], str] = json.encoder.encode_basestring_ascii
_NONE_FRAME = NONE_TEXT.encode("latin-1")


class RowDamaged(ValueError):
    """A stored row does not decode (edited behind the journal's back, or a foreign writer)."""


def int64s(values: Sequence[int]) -> bytes:
    """int64 little-endian (raises OverflowError past int64)."""
    packed = array("q", values)
    if _BIG_ENDIAN:
        packed.byteswap()
    return packed.tobytes()


def _from_int64s(data: object, count: int, name: str) -> list[int]:
    if not isinstance(data, bytes) or len(data) != 8 * count:
        raise RowDamaged(f"its {name} column does not hold {count} int64 values")
    packed = array("q", data)
    if _BIG_ENDIAN:
        packed.byteswap()
    return packed.tolist()


def bodies_json(events: Sequence[Event]) -> bytes:
    """The events as one JSON array, each element its model's JSON."""
    kinds = set(map(type, events))
    if len(kinds) == 1:
        return bytes(_SAME_KIND[kinds.pop()].dump_json(tuple(events)))
    return b"[" + b",".join(e.__pydantic_serializer__.to_json(e) for e in events) + b"]"


def row_link(prev: str, values: Sequence[Any]) -> bytes:
    """sha256(chain.framed(prev, row_fields(values))), framed in one join (an append's link)."""
    pieces: list[bytes] = []
    for part in (prev, *values[:9]):
        if part is None:
            pieces.append(_NONE_FRAME)
            continue
        data = part if type(part) is bytes else str(part).encode()
        pieces += (len(data).to_bytes(8, "big"), data)
    return hashlib.sha256(b"".join(pieces)).digest()


def row_fields(values: Sequence[Any]) -> tuple[Field, ...]:
    """What a row's link covers: every column but the link, as stored (a value of another type
    than the writer's, an edit, is framed as it reads)."""
    return tuple(values[:9])


def texts_json(texts: Sequence[str]) -> str:
    """A JSON array of strings (json.dumps's own C escaping, without its per-call set-up)."""
    return f"[{','.join(map(_quoted, texts))}]"


def streams_json(streams: Sequence[str]) -> str:
    """One name for a row of one stream, else one per event."""
    return _quoted(streams[0]) if len(set(streams)) == 1 else texts_json(streams)


def causes_json(causes: Sequence[str | None]) -> str | None:
    if set(causes) == {None}:
        return None
    return f"[{','.join('null' if c is None else _quoted(c) for c in causes)}]"


def decode_row(row: Sequence[Any]) -> list[Recorded]:
    """The records a stored row holds (`ROW_COLUMNS` order); RowDamaged when it does not decode."""
    first, last, streams, sequences, keys, event_ns, recv_ns, causes, bodies, link = row
    if type(first) is not int or type(last) is not int or last < first:
        raise RowDamaged(f"its positions {first!r}–{last!r} are not a range")
    count = last - first + 1
    try:
        named = json.loads(streams)
        stream_list = list(repeat(named, count)) if isinstance(named, str) else named
        key_list = json.loads(keys)
        cause_list = list(repeat(None, count)) if causes is None else json.loads(causes)
        events = _BODIES.validate_json(bodies)
    except (TypeError, ValueError, ValidationError) as exc:
        reason = str(exc).splitlines()[0]
        raise RowDamaged(f"a column does not decode ({type(exc).__name__}: {reason})") from None
    for name, values in (("streams", stream_list), ("keys", key_list), ("causes", cause_list),
                         ("bodies", events)):  # fmt: skip
        if not isinstance(values, list) or len(values) != count:
            raise RowDamaged(f"its {name} column does not hold {count} entries")
    if not isinstance(link, bytes) or len(link) != 32:
        raise RowDamaged("its link is not 32 bytes")
    sequence_list = _from_int64s(sequences, count, "sequences")
    event_list = _from_int64s(event_ns, count, "event_ns")
    recv_list = _from_int64s(recv_ns, count, "recv_ns")
    digest = link.hex()
    return list(map(_new_record, repeat(Recorded), zip(
        range(first, last + 1), stream_list, sequence_list, key_list, events, event_list,
        recv_list, cause_list, repeat(digest), strict=False,
    )))  # fmt: skip
