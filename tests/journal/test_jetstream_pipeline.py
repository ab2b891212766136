"""The JetStream journal's write path against a real nats-server: `EventEncoder` frames what
`event_record` would (byte for byte, whatever the text), and `append_many` pipelines batches
with the contract of `append` one batch after another: the same records, gapless positions,
originals for repeats, and no batch landing after a batch before it was refused (a key stored
meanwhile, another writer first, even one whose batch filled the refused batch's place)."""

from __future__ import annotations

import threading

import pytest

from zkrisk.engine.journal.base import JournalError
from zkrisk.engine.journal.chain import SHORT
from zkrisk.engine.journal.events import Draft, Heartbeat, Quarantined, Recorded
from zkrisk.engine.journal.jetstream import JetStreamJournal
from zkrisk.engine.journal.jetstream_wire import EventEncoder, event_record
from zkrisk.engine.natsio.server import NatsNode

from ..nats_fixtures import nats_node
from .journal_fixtures import T0, heartbeat, quote

__all__ = ["nats_node"]

_RAW = "prix: 3000,10 € — ✓" * 300  # beyond the cached length prefixes, and not ASCII
_ODD_EVENT = Quarantined(source="feed", reason="MALFORMED", detail="é", raw=_RAW)
ODD = [
    quote(1),
    Draft("ingest", "q:feed:ü", _ODD_EVENT, T0, T0, "md:feed:ETH:1"),
    Draft("monitor", "ключ", Heartbeat(component="ingest"), 2, 3),
    Draft("monitor", "k" * 1024, Heartbeat(component="c"), 4, 5, "é, ключ"),
    Draft("md.new", "k2", Heartbeat(component="c"), 6, 7, "c" * (SHORT + 10)),
    Draft("md.new", "k3", Heartbeat(component="c" * (SHORT + 10)), 8, 9, "plain"),
    heartbeat("ingest", 10),
]


def _hpubs(wire: bytes) -> list[tuple[bytes, bytes]]:
    """(headers, payload) of each HPUB, cut by the sizes its protocol line states."""
    out, rest = [], wire
    while rest:
        line, rest = rest.split(b"\r\n", 1)
        verb, _subject, head, total = line.split(b" ")
        assert verb == b"HPUB"
        message, rest = rest[: int(total)], rest[int(total) :]
        assert rest[:2] == b"\r\n"
        rest = rest[2:]
        out.append((message[: int(head)], message[int(head) :]))
    return out


def test_the_encoder_frames_what_event_record_would_for_any_text() -> None:
    sequences = {"md.feed": 4, "ingest": 0, "monitor": 9, "md.new": 0}
    encoder = EventEncoder("zkrisk", "b" * 16, 77, 10, "f" * 64, sequences)
    records: list[Recorded] = []
    messages = _hpubs(encoder.encode(ODD, records))
    prev, expected = "f" * 64, {"md.feed": 4, "ingest": 0, "monitor": 9, "md.new": 0}
    for i, (draft, record, message) in enumerate(zip(ODD, records, messages, strict=True)):
        headers, payload = message
        expected[draft.stream] += 1
        same, same_payload = event_record(draft, 11 + i, expected[draft.stream], prev)
        assert record == same and payload == same_payload  # the link and the payload bytes
        assert (b"Nats-Expected-Last-Sequence: 77\r\n" in headers) == (i == 0)
        assert f"Nats-Batch-Sequence: {i + 1}\r\n".encode() in headers
        prev = same.hash
    assert sequences == expected and (encoder.position, encoder.prev) == (17, prev)
    assert encoder.index == len(ODD)


def test_events_of_any_text_round_trip_through_the_server(nats_node: NatsNode) -> None:
    with JetStreamJournal(nats_node.url) as j:
        out = j.append(ODD)
        out += [
            r for batch in j.append_many([[heartbeat("ingest", 11)], [quote(2)]]) for r in batch
        ]
        assert j.verify().intact and j.verify().head == out[-1].hash
        assert j.read() == out and j.get("ключ") == out[2] and j.get("k" * 1024) == out[3]


def _batches(first: int, count: int, size: int) -> list[list[Draft]]:
    return [[quote(first + b * size + i) for i in range(size)] for b in range(count)]


def test_append_many_records_what_appending_one_batch_after_another_would(
    nats_node: NatsNode,
) -> None:
    batches = _batches(1, 4, 30)
    batches[1] += [heartbeat("ingest", T0), batches[0][3]]  # a second topic; a repeated key
    batches[2] = [batches[2][0], batches[2][0], *batches[2][1:]]  # a key twice in a batch
    batches.insert(3, [batches[1][5]])  # a batch of repeats only: nothing to store
    batches.insert(4, [])
    with JetStreamJournal(nats_node.url, prefix="many") as many, \
            JetStreamJournal(nats_node.url, prefix="one") as one:  # fmt: skip
        pipelined = many.append_many(batches)
        assert pipelined == [one.append(b) for b in batches]  # positions, sequences, links
        assert pipelined[1][-1] == pipelined[0][3] and pipelined[3] == [pipelined[1][5]]
        assert pipelined[2][0] == pipelined[2][1] and pipelined[4] == []
        assert many.read(limit=1000) == one.read(limit=1000) and many.verify().intact
        assert many.head() == 121 and many.last_sequence("md.feed") == 120
        assert many.append_many(batches) == pipelined  # a retry of the whole call: originals


def test_a_batch_refused_mid_pipeline_is_redone_with_the_one_behind_it(
    nats_node: NatsNode,
) -> None:
    with JetStreamJournal(nats_node.url) as other:
        (stored,) = other.append([quote(45)])  # a key of batch 2, stored by another writer
    batches = _batches(1, 4, 20)
    with JetStreamJournal(nats_node.url) as j:
        out = j.append_many(batches)
        assert out[2][4] == stored  # the original, not a second copy
        positions = [r.position for b in out for r in b if r != stored]
        assert positions == list(range(2, 81)) and j.head() == 80
        assert j.read(limit=100) == [stored, *(r for b in out for r in b if r != stored)]
        assert j.verify().intact and all(j.get(r.key) == r for b in out for r in b)


def test_a_pipelined_batch_never_lands_after_a_refused_one_even_in_its_place(
    nats_node: NatsNode,
) -> None:
    """Batch 2 is refused (its writer's tail is stale: another writer appended 7 messages),
    and batch 3, sent behind it, expects the stream's last sequence that batch 2 would have
    left: the other writer's batch happens to leave exactly that. Batch 3 must still be
    refused (it expects batch 2's link message), else its events would be numbered after
    events that were never stored."""
    with JetStreamJournal(nats_node.url) as j, JetStreamJournal(nats_node.url) as other:
        j.append([quote(1)])  # j's tail is cached: 1 event + 1 marker
        other.append([quote(n) for n in range(2, 8)])  # 6 events + 1 marker: 7 messages
        # batch 2: 5 events + 1 marker + 1 link = 7 messages, so batch 3's expected last
        # sequence (the stream's, had batch 2 landed) is what the other writer left
        out = j.append_many([[quote(n) for n in range(8, 13)], [quote(n) for n in range(13, 18)]])
        assert [r.position for b in out for r in b] == list(range(8, 18))
        assert j.head() == 17 and j.verify().intact
        assert [r.position for r in j.read()] == list(range(1, 18))


def test_writers_racing_a_pipeline_keep_positions_gapless(nats_node: NatsNode) -> None:
    with JetStreamJournal(nats_node.url) as j, JetStreamJournal(nats_node.url) as other:
        theirs: list[Recorded] = []
        racing = threading.Event()

        def race() -> None:  # another writer, one quote per append, started first
            for n in range(1, 61):
                theirs.extend(other.append([quote(n, source="backup")]))
                if n == 3:
                    racing.set()

        racer = threading.Thread(target=race)
        racer.start()
        assert racing.wait(10)
        ours = j.append_many(_batches(1, 30, 10))  # its batches are refused and redone
        racer.join()
        records = j.read(limit=1000)
        assert [r.position for r in records] == list(range(1, 361)) and j.verify().intact
        assert sorted(records) == sorted([*theirs, *(r for b in ours for r in b)])
        assert [r.sequence for r in records if r.stream == "md.feed"] == list(range(1, 301))
        assert [r.key for b in ours for r in b] == [d.key for b in _batches(1, 30, 10) for d in b]


def test_append_many_checks_every_batch_before_sending_any(nats_node: NatsNode) -> None:
    with JetStreamJournal(nats_node.url) as j:
        with pytest.raises(JournalError, match=r"batch 1: 1001 messages .* exceed JetStream's"):
            j.append_many([[quote(1)], [quote(n) for n in range(2, 1001)]])  # 999 + marker + link
        with pytest.raises(JournalError, match="batch 2: draft 0: expected a Draft"):
            j.append_many([[quote(1)], [quote(2)], ["not a draft"]])  # type: ignore[list-item]
        assert j.head() == 0 and j.stream_messages() == 0


def test_a_snapshot_of_several_chunks_is_one_batch_after_a_pipeline(nats_node: NatsNode) -> None:
    state = bytes(range(256)) * 2600  # 665,600 bytes: three chunks of one atomic batch
    with JetStreamJournal(nats_node.url) as j:
        j.append_many(_batches(1, 3, 10))
        j.save_snapshot("big.v1", 30, state)
        j.save_snapshot("small.v1", 30, b"")
        assert j.load_snapshot("big.v1") == (30, state)
        assert j.load_snapshot("small.v1") == (30, b"")
        assert j.append([quote(31)])[0].position == 31 and j.verify().intact
