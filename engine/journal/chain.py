"""The hash chain shared by the audit log and the journal: one link function, one verifier.

A row's link is sha256 over the previous row's hash and the row's fields, each framed by its
length in bytes (8 bytes, big-endian), so no two different field lists hash alike ("ab","c" vs
"a","bc"). `None` is framed as the length 2^64 - 1 with no bytes, distinct from "". An edit
made behind the append-only triggers' back changes a link, and `verify` names the first row
whose stored link does not match. A deleted row shows as the next row's `prev` mismatch where
rows store their `prev` (the audit log), and as a gap in the ids where they are gapless (the
journal's positions: it stores no `prev`, the previous row's hash *is* the previous row's).

What a chain cannot show is the loss of its newest rows (truncation): compare the head hash
with one kept elsewhere (the attester's signed books, a printed `verify` line) for that.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

GENESIS = "0" * 64
"""The `prev` of the first row."""

Field = str | int | bytes | None
"""Text and numbers are framed as their UTF-8 text, bytes as themselves."""

_NONE_FRAME = b"\xff" * 8
# Length prefixes of short ASCII fields as latin-1 text, so a row of ASCII fields is framed
# with one str.join and one encode (the journal hashes every event on append).
SHORT = 1 << 12
"""ASCII fields shorter than this are framed with a cached `TEXT_PREFIX`."""
TEXT_PREFIX = tuple(n.to_bytes(8, "big").decode("latin-1") for n in range(SHORT))
"""`TEXT_PREFIX[n]`: the length frame of an n-byte field, as latin-1 text."""
NONE_TEXT = _NONE_FRAME.decode("latin-1")
"""The frame of a `None` field, as latin-1 text."""


def _framed_bytes(prev: str, fields: Sequence[Field]) -> bytes:
    out = bytearray()
    for part in (prev, *fields):
        if part is None:
            out += _NONE_FRAME
            continue
        data = part if isinstance(part, bytes) else str(part).encode()
        out += len(data).to_bytes(8, "big")
        out += data
    return bytes(out)


def framed(prev: str, fields: Sequence[Field]) -> bytes:
    """The bytes a link hashes: every part length-prefixed (see the module docstring)."""
    pieces = [TEXT_PREFIX[64], prev] if len(prev) == 64 and prev.isascii() else None
    if pieces is None:
        return _framed_bytes(prev, fields)
    for part in fields:
        if part is None:
            pieces.append(NONE_TEXT)
            continue
        if isinstance(part, bytes):
            return _framed_bytes(prev, fields)
        if not isinstance(part, str):
            part = str(part)
        if not part.isascii() or len(part) >= SHORT:
            # byte lengths differ from str lengths (or no cached prefix): frame bytes instead
            return _framed_bytes(prev, fields)
        pieces.append(TEXT_PREFIX[len(part)])
        pieces.append(part)
    return "".join(pieces).encode("latin-1")


def link(prev: str, fields: Sequence[Field]) -> str:
    """The chain link of a row: sha256(framed(prev, fields)), hex."""
    return hashlib.sha256(framed(prev, fields)).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainRow:
    """A stored row as the verifier sees it: its id, the fields its link covers, prev, hash.

    `prev` is None where a row does not store it (the journal): it links to the row before.
    `span`: the entries the row holds (the SQLite journal stores a batch of events per row,
    ids `id` to `id + span - 1`)."""

    id: int
    fields: Sequence[Field]
    prev: str | None
    hash: str
    span: int = 1


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of walking a chain: rows checked, the last good hash, the first bad row."""

    entries: int
    head: str
    bad: int | None = None
    problem: str = ""

    @property
    def intact(self) -> bool:
        return self.bad is None


def verify(rows: Iterable[ChainRow], *, gapless: bool = False) -> ChainReport:
    """Walk rows in order from GENESIS; stop at the first whose `prev` is not the hash of the
    row before or whose fields do not hash to its stored hash. `gapless`: ids must run 1, 2,
    3, ... (the journal's positions; a row of `span` entries takes `span` ids), so a missing id
    is a deleted row. `entries` counts entries, not rows."""
    prev, count = GENESIS, 0
    for row in rows:
        if gapless and row.id != count + 1:
            problem = (f"position {row.id} follows {count}: the entries between were deleted "
                       f"(positions are gapless)")  # fmt: skip
            return ChainReport(count, prev, row.id, problem)
        what = f"the row of positions {row.id}–{row.id + row.span - 1}: " if row.span > 1 else ""
        if row.prev is not None and row.prev != prev:
            problem = f"{what}its prev {str(row.prev)[:16]}… is not the hash of the entry before"
            return ChainReport(count, prev, row.id, problem)
        if row.hash != link(prev, row.fields):
            problem = (
                f"{what}its fields do not hash to its stored hash (edited after it was written)"
            )
            return ChainReport(count, prev, row.id, problem)
        prev, count = row.hash, count + row.span
    return ChainReport(count, prev)


def first_bad(rows: Iterable[ChainRow]) -> int | None:
    """The id of the first row that breaks the chain, or None when it is intact."""
    return verify(rows).bad
