"""An in-memory stand-in for the journal's ordering, for the pure signal/monitor tests.

`Tape.record(draft)` assigns positions and sequences the way a journal does (and drops a
repeated key, returning the original); `Tape.pump(stages)` feeds every unread record to each
stage in order and records what they return, like the runner. The SQLite journal itself is used
by the crash test; these tests are about the stages' decisions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from zkrisk.engine.journal.events import Draft, Event, PaperFill, Quote, Recorded
from zkrisk.engine.risk.models import Side

NS = 1_000_000_000
T0 = 1_700_000_000 * NS  # 2023-11-14 22:13:20 UTC
D = Decimal

Stage = Callable[[Recorded], list[Draft]]


class Tape:
    def __init__(self) -> None:
        self.records: list[Recorded] = []
        self.by_key: dict[str, Recorded] = {}
        self._sequences: dict[str, int] = {}
        self._read = 0

    def record(self, draft: Draft) -> Recorded:
        if draft.key in self.by_key:
            return self.by_key[draft.key]
        sequence = self._sequences.get(draft.stream, 0) + 1
        self._sequences[draft.stream] = sequence
        rec = Recorded(len(self.records) + 1, draft.stream, sequence, draft.key, draft.event,
                       draft.event_time_ns, draft.recv_time_ns, draft.causation_id, "h")  # fmt: skip
        self.records.append(rec)
        self.by_key[rec.key] = rec
        return rec

    def add(
        self,
        event: Event,
        *,
        stream: str,
        key: str,
        t: int,
        recv: int | None = None,
    ) -> Recorded:
        return self.record(Draft(stream, key, event, t, t if recv is None else recv))

    def quote(
        self,
        bid: str,
        ask: str,
        *,
        t: int,
        symbol: str = "WETH",
        source: str = "feed",
        recv: int | None = None,
        stream: str | None = None,
        size: str = "100",
    ) -> Recorded:
        seq = len(self.records) + 1
        event = Quote(source=source, symbol=symbol, bid=D(bid), ask=D(ask), bid_size=D(size),
                      ask_size=D(size), source_seq=seq)  # fmt: skip
        return self.add(event, stream=stream or f"md.{source}",
                        key=f"md:{source}:{symbol}:{seq}", t=t, recv=recv)  # fmt: skip

    def fill(
        self, strategy: str, side: str, quantity: str, price: str, *, t: int, symbol: str = "WETH"
    ) -> Recorded:
        coid = f"{strategy}-{len(self.records) + 1}"
        event = PaperFill(client_order_id=coid, strategy_id=strategy, symbol=symbol,
                          side=Side(side), quantity=D(quantity), price=D(price))  # fmt: skip
        return self.add(event, stream="pretrade", key=f"paperfill:{coid}", t=t)

    def pump(self, *stages: Stage) -> list[Recorded]:
        """Feed every unread record to each stage, record their outputs; returns the outputs."""
        out: list[Recorded] = []
        while self._read < len(self.records):
            rec = self.records[self._read]
            self._read += 1
            for stage in stages:
                for draft in stage(rec):
                    before = len(self.records)
                    recorded = self.record(draft)
                    if len(self.records) > before:
                        out.append(recorded)
        return out


def events_of(records: Sequence[Recorded], kind: type[Any]) -> list[Any]:
    return [r.event for r in records if isinstance(r.event, kind)]
