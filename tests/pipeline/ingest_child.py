"""Run ingest in a child process for the SIGKILL tests: `python ingest_child.py JOURNAL URL N`.

Ingests from the feed at URL into JOURNAL until every symbol's head reaches N, then exits 0.
$ZKRISK_CRASH_AT (engine/journal/crashpoints.py) may kill it first.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from zkrisk.engine.journal.sqlite import SQLiteJournal
from zkrisk.engine.pipeline.ingest import Ingest
from zkrisk.engine.pipeline.ingest_config import IngestConfig


async def main(path: Path, url: str, target: int) -> None:
    config = IngestConfig(symbols=("WETH", "WBTC"), gap_threshold=1_000,
                          sources=[{"name": "feed", "kind": "websocket", "url": url,
                                    "max_age_ms": 60_000, "max_silence_ms": 60_000,
                                    "backoff_ms": 20, "max_backoff_ms": 100}])  # fmt: skip
    with SQLiteJournal(path) as journal:
        ingest = Ingest(journal, config)
        stop = asyncio.Event()
        task = asyncio.create_task(ingest.run(stop))
        while True:
            heads = ingest.reorder["feed"].heads()
            if all(heads.get(s, 0) >= target for s in ("WETH", "WBTC")) and not ingest.pending:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await task


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
