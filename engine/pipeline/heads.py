"""Where each source's streams stand in the journal: the projection a restart resumes from.

`SequenceHeads` maps source → stream (a symbol, or a feed address for oracle rounds) → the last
sequence journaled, counting quarantined messages that carried one (they are consumed too).
Start-up loads the latest snapshot and replays the tail of the `md.*` and `ingest` streams, so
it does not read from genesis; `from_bytes(to_bytes(h))` equals `h`, and a snapshot plus the
tail equals a replay from scratch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..journal.base import Journal
from ..journal.events import OracleRound, Quarantined, Quote, Recorded, Trade

SNAPSHOT = "ingest.heads"


@dataclass
class SequenceHeads:
    position: int = 0
    heads: dict[str, dict[str, int]] = field(default_factory=dict)

    def _raise(self, source: str, stream: str, seq: int) -> None:
        streams = self.heads.setdefault(source, {})
        if seq > streams.get(stream, 0):
            streams[stream] = seq

    def apply(self, rec: Recorded) -> None:
        e = rec.event
        if isinstance(e, Quote | Trade) and e.source_seq is not None:
            self._raise(e.source, e.symbol, e.source_seq)
        elif isinstance(e, OracleRound):
            self._raise(e.source, rec.key.split(":")[2], e.round_id)  # md:<source>:<feed>:<id>
        elif isinstance(e, Quarantined) and e.symbol is not None and e.source_seq is not None:
            self._raise(e.source, e.symbol, e.source_seq)
        self.position = max(self.position, rec.position)  # a repeat returns an older record

    def to_bytes(self) -> bytes:
        return json.dumps({"position": self.position, "heads": self.heads},
                          sort_keys=True).encode()  # fmt: skip

    @classmethod
    def from_bytes(cls, data: bytes) -> SequenceHeads:
        raw = json.loads(data)
        return cls(int(raw["position"]), {s: dict(v) for s, v in raw["heads"].items()})

    @classmethod
    def load(cls, journal: Journal, sources: list[str]) -> SequenceHeads:
        snap = journal.load_snapshot(SNAPSHOT)
        heads = cls() if snap is None else cls.from_bytes(snap[1])
        streams = [f"md.{s}" for s in sources] + ["ingest"]
        for rec in journal.iter_from(heads.position, streams=streams):
            heads.apply(rec)
        return heads

    def save(self, journal: Journal) -> None:
        journal.save_snapshot(SNAPSHOT, self.position, self.to_bytes())
