"""The pure ordering and health state machines: reorder buffer, gaps, duplicates, failover."""

from __future__ import annotations

from zkrisk.engine.journal.events import FeedStatus
from zkrisk.engine.pipeline.health import Failover, HealthRules
from zkrisk.engine.pipeline.ordering import Gap, Monotone, Outcome, Reorderer

MS = 1_000_000


def test_messages_out_of_order_are_released_in_sequence_order() -> None:
    r: Reorderer[int] = Reorderer(window=8, timeout_ns=100 * MS)
    assert r.offer("WETH", 1, 1, 0).released == [1]
    assert r.offer("WETH", 3, 3, 0).outcome is Outcome.BUFFERED
    assert r.offer("WETH", 4, 4, 0).released == []
    step = r.offer("WETH", 2, 2, 0)
    assert step.outcome is Outcome.RELEASED and step.released == [2, 3, 4]
    assert r.heads() == {"WETH": 4} and r.buffered() == 0


def test_a_repeated_sequence_is_a_duplicate_whether_released_or_buffered() -> None:
    r: Reorderer[int] = Reorderer(window=8, timeout_ns=100 * MS)
    r.offer("WETH", 1, 1, 0)
    assert r.offer("WETH", 1, 1, 0).outcome is Outcome.DUPLICATE
    r.offer("WETH", 3, 3, 0)
    assert r.offer("WETH", 3, 3, 0).outcome is Outcome.DUPLICATE


def test_a_hole_waited_on_past_the_timeout_becomes_a_gap_and_a_late_arrival_is_late() -> None:
    r: Reorderer[int] = Reorderer(window=8, timeout_ns=100 * MS)
    r.offer("WETH", 1, 1, 0)
    r.offer("WETH", 3, 3, 10 * MS)
    assert r.expire(50 * MS).released == []
    step = r.expire(110 * MS)
    assert step.gaps == [Gap("WETH", 2, 3)] and step.released == [3]
    assert r.offer("WETH", 2, 2, 120 * MS).outcome is Outcome.LATE


def test_a_full_reorder_buffer_declares_the_gap_at_once_so_memory_stays_bounded() -> None:
    r: Reorderer[int] = Reorderer(window=4, timeout_ns=10**12)
    r.offer("WETH", 1, 1, 0)
    for seq in range(3, 7):
        assert r.offer("WETH", seq, seq, 0).released == []
    step = r.offer("WETH", 7, 7, 0)
    assert step.gaps == [Gap("WETH", 2, 3)] and step.released == [3, 4, 5, 6, 7]
    assert r.buffered() == 0


def test_streams_are_ordered_independently() -> None:
    r: Reorderer[str] = Reorderer(window=8, timeout_ns=100 * MS)
    r.offer("WETH", 1, "e1", 0)
    r.offer("WETH", 3, "e3", 0)
    assert r.offer("WBTC", 1, "b1", 0).released == ["b1"]


def test_a_seeded_stream_resumes_after_its_head_and_drops_what_came_before() -> None:
    r: Reorderer[int] = Reorderer(window=8, timeout_ns=100 * MS)
    r.seed("WETH", 41)
    assert r.offer("WETH", 41, 41, 0).outcome is Outcome.DUPLICATE
    assert r.offer("WETH", 42, 42, 0).released == [42]


def test_a_stream_joined_mid_way_starts_at_its_lowest_sequence_without_a_gap() -> None:
    r: Reorderer[int] = Reorderer(window=8, timeout_ns=100 * MS)
    r.offer("WETH", 501, 501, 0)
    r.offer("WETH", 500, 500, 1 * MS)
    step = r.expire(100 * MS)
    assert step.released == [500, 501] and step.gaps == []


def test_oracle_rounds_only_move_forward() -> None:
    m = Monotone()
    assert m.offer("0xfeed", 5) and not m.offer("0xfeed", 5) and not m.offer("0xfeed", 4)
    assert m.offer("0xfeed", 9)


RULES = HealthRules(down_after_ns=100 * MS, max_silence_ns=200 * MS, gap_threshold=3,
                    gap_window_ns=1_000 * MS, failback_after_ns=300 * MS)  # fmt: skip


def _statuses(f: Failover, now: int) -> list[tuple[str, FeedStatus, str]]:
    return [(c.source, c.status, c.reason) for c in f.evaluate(now)]


def test_a_primary_down_past_the_reconnect_budget_fails_over_and_comes_back_after_the_delay() -> (
    None
):
    f = Failover(["feed", "backup"], RULES, now_ns=0)
    f.connected("feed", 0)
    f.connected("backup", 0)
    f.message("feed", 10 * MS)
    f.message("backup", 10 * MS)
    assert {s for s, st, _ in _statuses(f, 20 * MS) if st is FeedStatus.HEALTHY} == {
        "feed",
        "backup",
    }
    f.disconnected("feed", 30 * MS)
    f.message("backup", 100 * MS)
    assert _statuses(f, 100 * MS) == []  # within the reconnect budget
    changes = f.evaluate(140 * MS)
    first = changes[0]
    assert (first.source, first.status, first.reason) == ("feed", FeedStatus.DOWN, "DISCONNECTED")
    assert changes[-1].reason == "FAILOVER from feed" and f.active == "backup"
    f.connected("feed", 150 * MS)
    f.message("feed", 160 * MS)
    f.message("backup", 160 * MS)
    assert _statuses(f, 170 * MS) == [("feed", FeedStatus.HEALTHY, "RECEIVING")]
    for t in (250, 400):
        f.message("feed", t * MS)
        f.message("backup", t * MS)
    assert f.evaluate(400 * MS) == [] and f.active == "backup"  # healthy 230 ms < 300 ms
    f.message("feed", 480 * MS)
    changes = f.evaluate(480 * MS)
    assert changes[-1].reason == "FAILBACK from backup" and f.active == "feed"


def test_a_silent_source_is_down_even_while_connected() -> None:
    f = Failover(["feed", "backup"], RULES, now_ns=0)
    f.connected("feed", 0)
    f.connected("backup", 0)
    f.message("backup", 250 * MS)
    changes = f.evaluate(250 * MS)
    assert ("feed", FeedStatus.DOWN, "SILENT") in [(c.source, c.status, c.reason) for c in changes]
    assert f.active == "backup"


def test_gaps_past_the_threshold_degrade_a_source_until_they_age_out() -> None:
    f = Failover(["feed"], RULES, now_ns=0)
    f.connected("feed", 0)
    for t in (10, 20):
        f.gap("feed", t * MS)
        f.message("feed", t * MS)
    assert _statuses(f, 20 * MS) == [("feed", FeedStatus.HEALTHY, "RECEIVING")]
    f.gap("feed", 30 * MS)
    f.message("feed", 30 * MS)
    assert _statuses(f, 30 * MS) == [("feed", FeedStatus.DEGRADED, "GAPS")]
    f.message("feed", 1_025 * MS)
    assert _statuses(f, 1_025 * MS) == [("feed", FeedStatus.HEALTHY, "RECEIVING")]


def test_with_every_source_down_ingest_stays_on_the_active_one() -> None:
    f = Failover(["feed", "backup"], RULES, now_ns=0)
    f.evaluate(500 * MS)
    assert f.active == "feed"
    assert f.snapshot()["feed"]["status"] == "DOWN"
