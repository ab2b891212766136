"""The interface every market-data source implements: connect, an async stream, close.

A source yields the messages it receives (`RawMessage`: the text and when it arrived) and tells
ingest when its link goes up or down (`Link`), so health and failover are judged in one place
(health.py) for every kind of source. A source that reconnects by itself asks `resume_points`
(per stream, the last sequence ingest holds) on every connect, so the server resends from there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class RawMessage:
    source: str
    text: str
    recv_time_ns: int


@dataclass(frozen=True, slots=True)
class Link:
    """The source's connection went up (`up`) or down, with why."""

    source: str
    up: bool
    detail: str
    at_ns: int


Item = RawMessage | Link
ResumePoints = Callable[[], Mapping[str, int]]


class Source(Protocol):
    name: str

    async def connect(self) -> None:
        """Open what the source reads (file, socket, RPC); the stream also reconnects itself."""
        ...

    def stream(self) -> AsyncIterator[Item]:
        """The messages and link changes, until closed (a file source ends at its end)."""
        ...

    async def close(self) -> None: ...
