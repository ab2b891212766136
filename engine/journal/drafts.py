"""What a draft must be for a journal to store it faithfully: one check for every backend, so
the contract tests see the same words from SQLite and JetStream."""

from __future__ import annotations

import re

from .events import EVENT_TYPES, Draft

STREAM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
MAX_KEY = 1024
MAX_NS = 2**63 - 1
"""Times are stored as int64 (unix ns: until the year 2262)."""
EVENT_CLASSES = frozenset(EVENT_TYPES.values())


def draft_problem(index: int, draft: object) -> str | None:
    """What is wrong with the `index`-th draft of an append, and the fix; None when it is fine."""
    where = f"draft {index}"
    if not isinstance(draft, Draft):
        return f"{where}: expected a Draft, got {type(draft).__name__}"
    where += f" (key {draft.key!r})"
    if not isinstance(draft.key, str) or not 0 < len(draft.key) <= MAX_KEY:
        return f"{where}: the key must be a non-empty string of at most {MAX_KEY} characters"
    if not isinstance(draft.stream, str) or not STREAM_NAME.match(draft.stream):
        return f"{where}: stream {draft.stream!r} is not a name like 'md.feed'"
    if EVENT_TYPES.get(getattr(draft.event, "type", "")) is not type(draft.event):
        return f"{where}: {type(draft.event).__name__} is not a journal event (events.Event)"
    for name in ("event_time_ns", "recv_time_ns"):
        value = getattr(draft, name)
        if type(value) is not int or not 0 <= value <= MAX_NS:
            return f"{where}: {name} must be unix nanoseconds (an int from 0 to 2^63 - 1), not {value!r}"
    if draft.causation_id is not None and (
        not isinstance(draft.causation_id, str) or not draft.causation_id
    ):
        return f"{where}: causation_id must be the causing event's key, or None"
    return None
