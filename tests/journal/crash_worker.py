"""The process the SIGKILL tests kill: `python -m tests.journal.crash_worker MODE JOURNAL ...`.

It prints `ack <n>` (flushed) after each step the journal acknowledged, so the test knows what
must have survived. `$ZKRISK_CRASH_AT` (see `zkrisk.engine.journal.crashpoints`) picks the kill.

modes:
  batches JOURNAL BATCHES SIZE     append BATCHES batches of SIZE quotes (batch b: quotes
                                   b*SIZE+1 ..), as a writer restarting from scratch would
  consume JOURNAL LIMIT atomic|separate
                                   the `derive` consumer: one Heartbeat per md quote, keyed by
                                   its cause, until it has read every input
  project JOURNAL BATCHES SIZE     append batches and keep StreamHeads current, snapshotting
                                   every SIZE records
"""

from __future__ import annotations

import sys

from zkrisk.engine.journal.consumer import consume_step
from zkrisk.engine.journal.events import Draft, Heartbeat, Recorded
from zkrisk.engine.journal.projection import ProjectionRunner, StreamHeads
from zkrisk.engine.journal.sqlite import SQLiteJournal

from .journal_fixtures import quote


def derive(record: Recorded) -> list[Draft]:
    return [Draft("derived", f"hb:derive:{record.key}", Heartbeat(component="derive"),
                  record.event_time_ns, record.recv_time_ns, record.key)]  # fmt: skip


def ack(n: int) -> None:
    print(f"ack {n}", flush=True)


def main(mode: str, path: str, *args: str) -> None:
    journal = SQLiteJournal(path)
    if mode == "batches":
        batches, size = int(args[0]), int(args[1])
        for b in range(batches):
            journal.append([quote(b * size + i + 1) for i in range(size)])
            ack(b)
    elif mode == "consume":
        limit, atomic = int(args[0]), args[1] == "atomic"
        step = 0
        while consume_step(journal, "derive", derive, streams={"md.feed"}, limit=limit,
                           atomic=atomic):  # fmt: skip
            ack(step)
            step += 1
    elif mode == "project":
        batches, every = int(args[0]), int(args[1])
        runner = ProjectionRunner(journal, StreamHeads(), snapshot_every=every)
        runner.load()
        start = journal.head()
        for b in range(batches):
            journal.append([quote(start + b * 10 + i + 1) for i in range(10)])
            runner.catch_up()
            ack(b)
    journal.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
