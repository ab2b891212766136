"""Projections: a snapshot plus the tail equals a replay from genesis, whatever the events."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zkrisk.engine.journal.events import Draft, Heartbeat, OracleRound, Quote, Recorded, Trade
from zkrisk.engine.journal.projection import (
    Heads,
    StreamHeads,
    check_projection,
    load_projection,
    replay,
)
from zkrisk.engine.journal.sqlite import SQLiteJournal

from .journal_fixtures import T0, heartbeat, quote

SOURCES, SYMBOLS = ["feed", "backup"], ["ETH", "BTC"]


@st.composite
def drafts(draw: st.DrawFn) -> Draft:
    kind = draw(st.sampled_from(["quote", "trade", "round", "beat"]))
    source, symbol = draw(st.sampled_from(SOURCES)), draw(st.sampled_from(SYMBOLS))
    seq = draw(st.integers(0, 40))  # repeats and out-of-order sequences on purpose
    key = f"md:{source}:{symbol}:{kind}:{seq}"
    event: Quote | Trade | OracleRound | Heartbeat
    if kind == "quote":
        event = quote(seq, source=source, symbol=symbol).event
    elif kind == "trade":
        event = Trade(source=source, symbol=symbol, price=Decimal("5"), size=Decimal("1"),
                      source_seq=seq)  # fmt: skip
    elif kind == "round":
        event = OracleRound(source=source, symbol=symbol, price=Decimal("5"), round_id=seq,
                            updated_at=seq)  # fmt: skip
    else:
        return heartbeat(source, T0 + seq)
    return Draft(f"md.{source}", key, event, T0 + seq, T0 + seq)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=st.lists(st.lists(drafts(), max_size=12), max_size=8), every=st.integers(1, 9))
def test_snapshot_plus_tail_equals_a_replay_from_genesis(
    tmp_path: Path, batches: list[list[Draft]], every: int
) -> None:
    path = tmp_path / "p.db"
    path.unlink(missing_ok=True)
    with SQLiteJournal(path) as j:
        runner = load_projection(j, StreamHeads(), snapshot_every=every)
        for i, batch in enumerate(batches):
            for record in j.append(batch):
                runner.apply(record)  # repeats come back with old positions: skipped
            if i % 2:
                runner.catch_up()
        restarted = load_projection(j, StreamHeads())
        assert restarted.state == replay(j, StreamHeads()) == runner.state
        assert check_projection(j, StreamHeads()).equal
        assert restarted.replayed < every or j.head() < every  # start-up skips the snapshot


def test_stream_heads_keeps_the_highest_source_sequence_per_source_and_symbol() -> None:
    p, state = StreamHeads(), Heads()
    with_seqs = [(quote(5), 1), (quote(3), 2), (quote(9, symbol="BTC"), 3)]
    for draft, position in with_seqs:
        record = Recorded(position, draft.stream, position, draft.key, draft.event,
                          draft.event_time_ns, draft.recv_time_ns, None, "h")  # fmt: skip
        state = p.apply(state, record)
    assert state.source_seq("feed", "ETH") == 5 and state.source_seq("feed", "BTC") == 9
    assert (
        state.last_sequence("md.feed") == 3
        and state.last_key("md.feed") == quote(9, symbol="BTC").key
    )
    assert state.source_seq("other", "ETH") is None and state.last_key("none") is None
    assert p.from_bytes(p.to_bytes(state)) == state


def test_a_snapshot_that_differs_from_the_replay_is_reported(tmp_path: Path) -> None:
    with SQLiteJournal(tmp_path / "j.db") as j:
        j.append([quote(1), quote(2)])
        wrong = Heads({"md.ghost": (3, "md:ghost:ETH:3")}, {})
        j.save_snapshot("heads.v1", 2, StreamHeads().to_bytes(wrong))
        check = check_projection(j, StreamHeads())
        assert not check.equal and check.snapshot_position == 2 and check.tail == 0
