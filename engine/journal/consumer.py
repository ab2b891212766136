"""One step of a durable consumer: read after the cursor, append the outputs, move the cursor.

Two ways to move the cursor, both exactly-once in effect:
- `atomic=True` (the default): `append(outputs, cursor=...)` commits both in one transaction,
  so a crash leaves either both or neither;
- `atomic=False`: append, then `commit_cursor`. A crash in between (crash point
  `journal.after_append_before_cursor`) re-reads the same inputs on restart and appends the same
  outputs again; their idempotency keys (derived from the inputs' keys) make that a no-op.
  This is the form for a consumer whose outputs go somewhere the cursor cannot follow.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from .base import Journal
from .crashpoints import crash_point
from .events import Draft, Recorded

Transform = Callable[[Recorded], Sequence[Draft]]


def consume_step(
    journal: Journal,
    consumer: str,
    transform: Transform,
    *,
    streams: Collection[str] | None = None,
    limit: int = 1000,
    atomic: bool = True,
) -> int:
    """Process up to `limit` inputs after `consumer`'s cursor; returns how many were read."""
    after = journal.cursor(consumer)
    inputs = journal.read(after, streams=streams, limit=limit)
    if not inputs:
        return 0
    outputs = [draft for record in inputs for draft in transform(record)]
    last = inputs[-1].position
    if atomic:
        journal.append(outputs, cursor=(consumer, last))
    else:
        journal.append(outputs)
        crash_point("journal.after_append_before_cursor")
        journal.commit_cursor(consumer, last)
    return len(inputs)
