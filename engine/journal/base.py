"""The journal interface every backend implements (SQLite now, NATS JetStream later).

Contract (the same contract tests run against every backend):
- `append(drafts)` is atomic: all of a batch lands or none. A draft whose key is already in
  the journal is not stored again; the call returns the *original* record in its place, so a
  writer retrying after a crash gets the same answer it would have had.
- Positions are 1-based, gapless and strictly increasing in commit order; a stream's
  sequences likewise. `read(after=p)` returns records with position > p in order.
- `append_many(batches)` appends several batches in order, each atomically, as `append` one
  after the other would; a backend whose appends wait on a server keeps up to `in_flight` of
  them on the way at once (JetStream), the others append them one by one.
- `append(..., cursor=(consumer, position))` commits the consumer's cursor in the same
  transaction as its outputs, so a stage that turns inputs into outputs is exactly-once across
  a crash: either both the outputs and the cursor move, or neither.
- Snapshots store a projection's state as of a position, so start-up replays only the tail.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Protocol

from .events import Draft, Recorded


class JournalError(RuntimeError):
    """The journal cannot do what was asked (closed, corrupt, wrong schema); says how to fix."""


class Journal(Protocol):
    in_flight: int
    """How many batches `append_many` keeps on the way at once (1: one after the other): a
    writer with more than one batch to hand (ingest under a burst) gathers this many."""

    def append(
        self, drafts: Sequence[Draft], *, cursor: tuple[str, int] | None = None
    ) -> list[Recorded]:
        """Append a batch atomically; returns one record per draft (originals for repeats)."""
        ...

    def append_many(self, batches: Sequence[Sequence[Draft]]) -> list[list[Recorded]]:
        """Append batches in order, each atomically; one record list per batch."""
        ...

    def read(
        self, after: int = 0, *, streams: Collection[str] | None = None, limit: int = 1000
    ) -> list[Recorded]:
        """Up to `limit` records with position > `after`, in order, optionally of some streams."""
        ...

    def iter_from(
        self, after: int = 0, *, streams: Collection[str] | None = None
    ) -> Iterator[Recorded]:
        """Every record with position > `after`, in order (reads in pages)."""
        ...

    def get(self, key: str) -> Recorded | None:
        """The record with this idempotency key, if any."""
        ...

    def head(self) -> int:
        """The last position (0 when empty)."""
        ...

    def last_sequence(self, stream: str) -> int:
        """The last sequence of a stream (0 when it has none)."""
        ...

    def cursor(self, consumer: str) -> int:
        """A durable consumer's committed position (0 when it has never committed)."""
        ...

    def commit_cursor(self, consumer: str, position: int) -> None:
        """Move a consumer's cursor (forward only: a lower position is an error)."""
        ...

    def save_snapshot(self, name: str, position: int, state: bytes) -> None:
        """Store a projection's state as of `position` (replaces the older one)."""
        ...

    def load_snapshot(self, name: str) -> tuple[int, bytes] | None:
        """The latest snapshot of a projection: (position, state)."""
        ...

    def close(self) -> None: ...
