"""Each source's health and which source ingest reads from: a pure state machine over time.

Inputs are what the runner observes (connected, disconnected, a message, a gap) with the time;
`evaluate(now)` returns the changes as `HealthChange`s (journaled as FeedHealth events).

- DOWN: disconnected for longer than `down_after_ns` (the reconnect budget), or connected but
  silent for longer than `max_silence_ns` (stale).
- DEGRADED: `gap_threshold` gaps or more within the last `gap_window_ns`.
- HEALTHY otherwise. A source not judged yet (starting) counts as usable.

Sources are in priority order. When the active one is DOWN, ingest fails over to the first
usable one (HEALTHY before DEGRADED); when a source of higher priority than the active one has
been HEALTHY for `failback_after_ns`, it fails back to it (the delay stops a flapping primary
from flapping the whole pipeline).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from ..journal.events import FeedStatus


@dataclass(frozen=True, slots=True)
class HealthRules:
    down_after_ns: int
    max_silence_ns: int
    gap_threshold: int
    gap_window_ns: int
    failback_after_ns: int


@dataclass(frozen=True, slots=True)
class HealthChange:
    source: str
    status: FeedStatus
    reason: str
    active_source: str


@dataclass(slots=True)
class SourceHealth:
    name: str
    started_ns: int
    connected: bool = False
    since_ns: int = 0
    """When `connected` last changed."""
    last_message_ns: int | None = None
    status: FeedStatus | None = None
    reason: str = "STARTING"
    healthy_since_ns: int | None = None
    gap_times: deque[int] = field(default_factory=deque)

    def judge(self, now: int, rules: HealthRules) -> tuple[FeedStatus | None, str]:
        while self.gap_times and now - self.gap_times[0] > rules.gap_window_ns:
            self.gap_times.popleft()
        if not self.connected:
            if now - self.since_ns > rules.down_after_ns:
                return FeedStatus.DOWN, "DISCONNECTED"
            return self.status, self.reason  # reconnecting, within the budget
        heard = self.since_ns if self.last_message_ns is None else self.last_message_ns
        if now - max(heard, self.since_ns) > rules.max_silence_ns:
            return FeedStatus.DOWN, "SILENT"
        if len(self.gap_times) >= rules.gap_threshold:
            return FeedStatus.DEGRADED, "GAPS"
        return FeedStatus.HEALTHY, "RECEIVING"


class Failover:
    """The health of every source and the active one."""

    def __init__(self, sources: list[str], rules: HealthRules, now_ns: int) -> None:
        if not sources:
            raise ValueError("ingest needs at least one source")
        self.rules = rules
        self.order = list(sources)
        self.sources = {n: SourceHealth(n, started_ns=now_ns, since_ns=now_ns) for n in sources}
        self.active = sources[0]

    def connected(self, source: str, now_ns: int) -> None:
        h = self.sources[source]
        h.connected, h.since_ns = True, now_ns

    def disconnected(self, source: str, now_ns: int) -> None:
        h = self.sources[source]
        if h.connected:
            h.connected, h.since_ns = False, now_ns

    def message(self, source: str, now_ns: int) -> None:
        self.sources[source].last_message_ns = now_ns

    def gap(self, source: str, now_ns: int) -> None:
        self.sources[source].gap_times.append(now_ns)

    def evaluate(self, now_ns: int) -> list[HealthChange]:
        changes: list[tuple[str, FeedStatus, str]] = []
        for name in self.order:
            h = self.sources[name]
            status, reason = h.judge(now_ns, self.rules)
            if status is not None and status != h.status:
                changes.append((name, status, reason))
            h.status, h.reason = status, reason
            if status is FeedStatus.HEALTHY:
                h.healthy_since_ns = h.healthy_since_ns or now_ns
            else:
                h.healthy_since_ns = None
        out = [HealthChange(n, s, r, self.active) for n, s, r in changes]
        switched = self._select(now_ns)
        if switched is not None:
            out.append(switched)
        return out

    def _select(self, now_ns: int) -> HealthChange | None:
        current = self.sources[self.active]
        rank = self.order.index(self.active)
        for name in self.order[:rank]:
            h = self.sources[name]
            since = h.healthy_since_ns
            if since is not None and now_ns - since >= self.rules.failback_after_ns:
                return self._switch(name, "FAILBACK")
        if current.status is not FeedStatus.DOWN:
            return None
        usable = [n for n in self.order if self.sources[n].status is not FeedStatus.DOWN]
        healthy = [n for n in usable if self.sources[n].status is not FeedStatus.DEGRADED]
        chosen = healthy or usable
        return self._switch(chosen[0], "FAILOVER") if chosen else None

    def _switch(self, name: str, why: str) -> HealthChange:
        previous, self.active = self.active, name
        h = self.sources[name]
        status = h.status or FeedStatus.HEALTHY
        return HealthChange(name, status, f"{why} from {previous}", name)

    def snapshot(self) -> dict[str, dict[str, object]]:
        """Per-source health for `zkrisk status`."""
        return {
            n: {
                "status": None if h.status is None else h.status.value,
                "reason": h.reason,
                "connected": h.connected,
                "last_message_ns": h.last_message_ns,
                "gaps_in_window": len(h.gap_times),
                "active": n == self.active,
            }
            for n, h in self.sources.items()
        }
