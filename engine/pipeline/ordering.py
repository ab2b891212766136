"""Release each stream's messages in sequence order, drop duplicates, and name the gaps.

A pure state machine per (source, stream): messages arrive in any order; `offer` returns what
can now be released in order. A message ahead of the next expected sequence waits in a small
buffer; when the buffer holds more than `window` messages or the oldest hole has been waited
for `timeout_ns`, the hole is declared a gap (a `Gap`, journaled as FeedGap) and the stream moves
on. A sequence at or below the head is a duplicate (dropped, counted), unless it falls in a
declared gap: then it is late (quarantined, since the stream has moved on without it).

A stream whose head is unknown (first start, or a standby source that joined live) starts at
sequence 1 when that arrives first, else at the lowest sequence seen within the window, with
no gap reported for what came before it joined.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

T = TypeVar("T")
MAX_GAP_RANGES = 64


class Outcome(StrEnum):
    BUFFERED = "buffered"
    RELEASED = "released"
    DUPLICATE = "duplicate"
    LATE = "late"


@dataclass(frozen=True, slots=True)
class Gap:
    stream: str
    expected: int
    received: int


@dataclass(slots=True)
class _Stream(Generic[T]):
    next_seq: int | None
    buffer: dict[int, T] = field(default_factory=dict)
    waiting_since_ns: int | None = None
    gaps: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=MAX_GAP_RANGES))

    def head(self) -> int | None:
        return None if self.next_seq is None else self.next_seq - 1


@dataclass(slots=True)
class Step(Generic[T]):
    outcome: Outcome
    released: list[T] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)


class Reorderer(Generic[T]):
    """Sequence order per stream, with a bounded reorder buffer (at most `window` per stream)."""

    def __init__(self, window: int, timeout_ns: int) -> None:
        if window < 1:
            raise ValueError(f"reorder window {window} must be ≥ 1")
        self.window = window
        self.timeout_ns = timeout_ns
        self._streams: dict[str, _Stream[T]] = {}

    def seed(self, stream: str, last_seq: int) -> None:
        """Start a stream after `last_seq` (its head in the journal, on restart)."""
        self._streams[stream] = _Stream(next_seq=last_seq + 1)

    def forget(self, stream: str) -> None:
        """Drop a stream's state (a standby source re-joined live: its old head means nothing)."""
        self._streams.pop(stream, None)

    def heads(self) -> dict[str, int]:
        """The last sequence released (or skipped) per stream: where a resume starts."""
        return {name: h for name, s in self._streams.items() if (h := s.head()) is not None}

    def buffered(self) -> int:
        return sum(len(s.buffer) for s in self._streams.values())

    def offer(self, stream: str, seq: int, item: T, now_ns: int) -> Step[T]:
        s = self._streams.get(stream)
        if s is None:
            s = self._streams[stream] = _Stream(next_seq=1 if seq == 1 else None)
        if s.next_seq is not None and seq < s.next_seq:
            late = any(lo <= seq < hi for lo, hi in s.gaps)
            return Step(Outcome.LATE if late else Outcome.DUPLICATE)
        if seq in s.buffer:
            return Step(Outcome.DUPLICATE)
        s.buffer[seq] = item
        if s.waiting_since_ns is None:
            s.waiting_since_ns = now_ns
        step: Step[T] = Step(Outcome.BUFFERED)
        self._drain(stream, s, now_ns, step)
        if seq not in s.buffer and step.released:
            step.outcome = Outcome.RELEASED
        return step

    def expire(self, now_ns: int) -> Step[T]:
        """Declare the holes waited on for `timeout_ns` gaps and release what follows them."""
        step: Step[T] = Step(Outcome.RELEASED)
        for name, s in self._streams.items():
            if s.buffer:
                self._drain(name, s, now_ns, step)
        return step

    def _drain(self, name: str, s: _Stream[T], now_ns: int, step: Step[T]) -> None:
        while s.buffer:
            if s.next_seq is not None and s.next_seq in s.buffer:
                step.released.append(s.buffer.pop(s.next_seq))
                s.next_seq += 1
                s.waiting_since_ns = now_ns  # progress: a hole after it is waited on afresh
                continue
            assert s.waiting_since_ns is not None
            overdue = now_ns - s.waiting_since_ns >= self.timeout_ns
            if not overdue and len(s.buffer) <= self.window:
                return
            lowest = min(s.buffer)
            if s.next_seq is not None:
                step.gaps.append(Gap(name, s.next_seq, lowest))
                s.gaps.append((s.next_seq, lowest))
            s.next_seq = lowest
            s.waiting_since_ns = now_ns
        s.waiting_since_ns = None


class Monotone:
    """Oracle rounds: ids only increase (not by one), so a repeat or an older id is a duplicate."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def seed(self, stream: str, last: int) -> None:
        self._last[stream] = last

    def heads(self) -> dict[str, int]:
        return dict(self._last)

    def offer(self, stream: str, seq: int) -> bool:
        """True when `seq` is new (and records it)."""
        if seq <= self._last.get(stream, -1):
            return False
        self._last[stream] = seq
        return True
