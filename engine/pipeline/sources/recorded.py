"""A recorded file of quotes and trades as a source: JSON Lines or CSV (by the file's suffix).

JSONL: one wire message per line (validate.py's format), passed through verbatim so a bad line
is quarantined exactly as it was recorded. CSV: a header naming wire fields (type, symbol, seq,
ts_ns, bid, ask, bid_size, ask_size, price, size, side); each row becomes the wire message of
its non-empty cells (seq and ts_ns as integers when they are digits), so CSV and JSONL rows run
through the same validation.

`clock="file"` replays as recorded: a message is taken to arrive at its own `ts_ns` (so the age
check judges the recording, not today's clock); `clock="wall"` stamps the time of reading.
`rate_hz` paces the replay (0: as fast as ingest takes it).
"""

from __future__ import annotations

import asyncio
import csv
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Literal

from .base import Item, Link, RawMessage

INTEGER_COLUMNS = frozenset({"seq", "ts_ns", "round_id", "decimals", "updated_at"})


def _csv_cell(column: str, cell: str) -> str | int:
    return int(cell) if column in INTEGER_COLUMNS and cell.isdigit() else cell


def read_lines(path: Path) -> Iterator[str]:
    """The file's messages as wire JSON text, in file order (blank lines skipped)."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                data = {k: _csv_cell(k, v) for k, v in row.items() if k and v not in (None, "")}
                yield json.dumps(data, separators=(",", ":"))
        return
    with path.open() as f:
        for line in f:
            if line.strip():
                yield line.rstrip("\n")


def _recorded_time(text: str, previous: int) -> int:
    try:
        ts = json.loads(text).get("ts_ns")
    except (ValueError, AttributeError):
        return previous
    return ts if isinstance(ts, int) and not isinstance(ts, bool) else previous


class RecordedSource:
    def __init__(
        self,
        name: str,
        path: Path,
        *,
        clock: Literal["file", "wall"] = "file",
        rate_hz: float = 0.0,
    ) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such recorded market-data file")
        if path.suffix.lower() not in {".jsonl", ".csv"}:
            raise ValueError(f"{path}: a recorded feed is .jsonl or .csv")
        self.name, self.path, self.clock, self.rate_hz = name, path, clock, rate_hz
        self._closed = False

    async def connect(self) -> None:
        self._closed = False

    async def stream(self) -> AsyncIterator[Item]:
        yield Link(self.name, True, f"reading {self.path}", time.time_ns())
        recv = 0
        for i, text in enumerate(read_lines(self.path)):
            if self._closed:
                return
            recv = time.time_ns() if self.clock == "wall" else _recorded_time(text, recv)
            yield RawMessage(self.name, text, recv)
            if self.rate_hz > 0:
                await asyncio.sleep(1 / self.rate_hz)
            elif i % 256 == 0:
                await asyncio.sleep(0)  # let the writer run
        yield Link(self.name, False, f"end of {self.path}", time.time_ns())

    async def close(self) -> None:
        self._closed = True
