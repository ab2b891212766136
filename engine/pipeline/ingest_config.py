"""Ingest's configuration (the `[ingest]` table a run config embeds): sources and limits.

Sources are listed in priority order: the first is the primary, the next ones are failovers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from ..risk.models import Symbol

SourceName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
Millis = Annotated[int, Field(ge=1, le=86_400_000)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class SourceConfig(_Frozen):
    name: SourceName
    """Names the journal stream `md.<name>` and the metrics label, e.g. 'feed' or 'backup'."""
    kind: Literal["websocket", "file", "chain"]
    url: str | None = None
    """websocket: ws://host:port of the feed; chain: the node's JSON-RPC URL."""
    path: Path | None = None
    """file: a recorded .jsonl or .csv of wire messages."""
    feeds: dict[Symbol, str] = {}
    """chain: symbol → AggregatorV3 feed address."""
    max_age_ms: Millis = 2_000
    """A message older than this on arrival is quarantined STALE."""
    max_skew_ms: Millis = 1_000
    """A message dated further than this in the future is quarantined FUTURE_DATED."""
    max_silence_ms: Millis = 2_000
    """Connected but silent this long: the source is DOWN (stale) and ingest fails over."""
    down_after_ms: Millis = 1_000
    """Disconnected this long (the reconnect budget): the source is DOWN."""
    backoff_ms: Millis = 50
    max_backoff_ms: Millis = 2_000
    clock: Literal["file", "wall"] = "file"
    """file: a recorded message arrives at its own ts_ns (replay); wall: when it is read."""
    rate_hz: float = Field(default=0.0, ge=0)
    """file: replay pace (0: as fast as ingest takes it)."""
    poll_ms: Millis = 1_000
    """chain: how often to read the feeds."""

    @model_validator(mode="after")
    def _needs(self) -> Self:
        need = {"websocket": ("url",), "chain": ("url", "feeds"), "file": ("path",)}[self.kind]
        missing = [n for n in need if not getattr(self, n)]
        if missing:
            raise ValueError(f"source {self.name!r} of kind {self.kind} needs {', '.join(missing)}")
        return self


class IngestConfig(_Frozen):
    symbols: tuple[Symbol, ...] = Field(min_length=1)
    """The run's instruments: a message for any other symbol is quarantined UNKNOWN_SYMBOL."""
    sources: tuple[SourceConfig, ...] = Field(min_length=1)
    """In priority order: the primary first, then its failovers."""
    reorder_window: int = Field(default=64, ge=1, le=100_000)
    """Messages held per stream while a sequence is missing; more than this declares a gap."""
    reorder_timeout_ms: Millis = 200
    """How long a missing sequence is waited for before it is declared a gap."""
    gap_threshold: int = Field(default=5, ge=1)
    """This many gaps within `gap_window_ms` make a source DEGRADED."""
    gap_window_ms: Millis = 10_000
    failback_after_ms: Millis = 2_000
    """A higher-priority source must be HEALTHY this long before ingest fails back to it."""
    queue_size: int = Field(default=10_000, ge=1)
    """Messages buffered between the sources and the writer (a full queue pauses the reading)."""
    batch_size: int = Field(default=500, ge=1)
    batch_ms: float = Field(default=5.0, gt=0)
    """A batch is appended as soon as nothing more is queued (group commit), or when it holds
    `batch_size` events, or when its oldest is this old (a steady trickle). On JetStream, ingest
    alone in its process sends a batch while it validates the next, and hands what gathered
    meanwhile over as up to 4 batches at once (`append_many`)."""
    snapshot_every: int = Field(default=10_000, ge=1)
    """Save the sequence-heads projection every this many journaled events."""

    @model_validator(mode="after")
    def _unique(self) -> Self:
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique: {', '.join(dupes)} repeated")
        return self
