"""Heartbeats of every component: a missed one raises one alert, its return one recovery alert;
alerts are journal events and Prometheus metrics with stable names."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import example, given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest

from zkrisk.engine.journal.events import (
    Alert,
    Draft,
    FeedHealth,
    FeedStatus,
    Recorded,
    StrategyDisabled,
)
from zkrisk.engine.pipeline.monitor import (
    HeartbeatRule,
    Monitor,
    MonitorConfig,
    PipelineMetrics,
    heartbeat_draft,
)
from zkrisk.engine.pipeline.signal import SignalConfig, SignalStage, StrategyConfig

from .tape import NS, T0, Tape, events_of

D = Decimal
MS = 1_000_000
RULE = HeartbeatRule(interval_ms=1_000, tolerance=D(3))  # missed after 3 s


def monitor() -> Monitor:
    return Monitor(MonitorConfig(starting_equity_usd=D(1_000), heartbeats={"ingest": RULE}))


def alerts(out: list[object]) -> list[tuple[str, str]]:
    return [(a.name, a.component) for a in events_of(out, Alert)]  # type: ignore[arg-type]


def test_a_missed_heartbeat_raises_one_alert_and_its_return_one_recovery() -> None:
    m, tape = monitor(), Tape()
    tape.record(heartbeat_draft("ingest", T0))
    tape.record(heartbeat_draft("signal", T0))  # not listed: the default rule (also 3 s)
    tape.record(heartbeat_draft("signal", T0 + 2 * NS))
    assert alerts(tape.pump(m.on_event)) == []
    tape.record(heartbeat_draft("signal", T0 + 3 * NS))  # ingest is 3 s old: at the limit
    assert alerts(tape.pump(m.on_event)) == []
    tape.record(heartbeat_draft("signal", T0 + 3 * NS + 1))  # ingest 3 s + 1 ns: missed
    tape.record(heartbeat_draft("signal", T0 + 5 * NS))
    tape.record(heartbeat_draft("signal", T0 + 7 * NS))
    out = tape.pump(m.on_event)
    assert alerts(out) == [("HeartbeatMissed", "ingest")]  # once, however long it stays away
    [missed] = events_of(out, Alert)
    assert missed.severity == "CRITICAL" and "ingest sent no heartbeat for 3.000000001s" in (
        missed.message)  # fmt: skip
    assert m.status(T0 + 7 * NS).heartbeats["ingest"].missed
    tape.record(heartbeat_draft("ingest", T0 + 8 * NS))
    assert alerts(tape.pump(m.on_event)) == [("HeartbeatRecovered", "ingest")]
    assert not m.status().heartbeats["ingest"].missed


def test_a_listed_component_that_never_sends_a_heartbeat_is_missed_from_the_start() -> None:
    m, tape = monitor(), Tape()
    tape.record(heartbeat_draft("signal", T0))
    tape.record(heartbeat_draft("signal", T0 + 4 * NS))
    assert alerts(tape.pump(m.on_event)) == [("HeartbeatMissed", "ingest")]


def test_the_runners_timer_detects_a_miss_without_any_event() -> None:
    m, tape = monitor(), Tape()
    tape.record(heartbeat_draft("ingest", T0))
    tape.pump(m.on_event)
    assert m.check_heartbeats(T0 + 2 * NS) == []
    [draft] = m.check_heartbeats(T0 + 4 * NS)
    assert draft.key == f"alert:HeartbeatMissed:ingest:hb:ingest:{T0}"
    assert m.check_heartbeats(T0 + 5 * NS) == []


def test_a_replayed_missed_alert_is_not_raised_twice_by_a_fresh_monitor() -> None:
    live, tape = monitor(), Tape()
    tape.record(heartbeat_draft("ingest", T0))
    tape.pump(live.on_event)
    for draft in live.check_heartbeats(T0 + 4 * NS):  # raised by the timer, then journaled
        tape.record(draft)
    tape.record(heartbeat_draft("signal", T0 + 5 * NS))
    replay = monitor()
    out = [d for rec in list(tape.records) for d in replay.on_event(rec)]
    # The journaled alert restores the missed state before the replay's own check runs.
    assert out == [] and replay.status().heartbeats["ingest"].missed
    assert replay.check_heartbeats(T0 + 6 * NS) == []


def test_feed_health_and_disabled_strategies_raise_alerts() -> None:
    m, tape = monitor(), Tape()
    tape.add(FeedHealth(source="feed", status=FeedStatus.DOWN, reason="DISCONNECTED",
                        active_source="backup"), stream="ingest", key="h1", t=T0)  # fmt: skip
    tape.add(FeedHealth(source="feed", status=FeedStatus.HEALTHY, reason="OK",
                        active_source="feed"), stream="ingest", key="h2", t=T0)  # fmt: skip
    tape.add(StrategyDisabled(strategy_id="mom", reason="MAX_LOSS", detail="-50"),
             stream="signal", key="d1", t=T0)  # fmt: skip
    out = tape.pump(m.on_event)
    assert alerts(out) == [("FeedDown", "ingest"), ("StrategyDisabled", "signal")]


def test_metrics_have_stable_names_on_a_private_registry() -> None:
    metrics = PipelineMetrics()
    m = Monitor(MonitorConfig(starting_equity_usd=D(1_000), heartbeats={"ingest": RULE}),
                metrics=metrics)  # fmt: skip
    stage = SignalStage(SignalConfig(strategies=(StrategyConfig(id="mom", strategy="momentum",
        params={"fast": 2, "slow": 3, "quantity": "1"}),)))  # fmt: skip
    tape = Tape()
    tape.record(heartbeat_draft("ingest", T0))
    for i, mid in enumerate((103, 102, 101, 100, 104)):
        tape.quote(str(mid - 1), str(mid + 1), t=T0 + i * NS)
    tape.record(heartbeat_draft("signal", T0 + 5 * NS))
    tape.pump(m.on_event, stage.on_event)
    metrics.observe_strategies(stage.status())
    m.status(T0 + 5 * NS)  # refreshes the heartbeat ages
    text = generate_latest(metrics.registry).decode()
    for line in (
        'zkrisk_pipeline_trading_state{state="ACTIVE"} 1.0',
        'zkrisk_pipeline_trading_state{state="HALTED"} 0.0',
        "zkrisk_pipeline_equity_usd 1000.0",
        "zkrisk_pipeline_drawdown_ratio 0.0",
        "zkrisk_pipeline_daily_loss_usd 0.0",
        'zkrisk_pipeline_alerts_total{name="HeartbeatMissed",severity="CRITICAL"} 1.0',
        'zkrisk_pipeline_heartbeat_age_seconds{component="ingest"} 5.0',
        'zkrisk_pipeline_strategy_pnl_usd{strategy="mom"} 0.0',
        'zkrisk_pipeline_strategy_intents_total{strategy="mom"} 1.0',
    ):
        assert line in text, line
    # Observing again does not count the same intents twice.
    metrics.observe_strategies(stage.status())
    assert 'zkrisk_pipeline_strategy_intents_total{strategy="mom"} 1.0' in (
        generate_latest(metrics.registry).decode())  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["ingest", "signal", "pretrade", None]),
                          st.integers(0, 2_500)), min_size=1, max_size=40))  # fmt: skip
# every beat missed (no deadline left), then a component's first beat, then its silence
@example([("ingest", 0), (None, 2_500), (None, 2_500), ("signal", 0), (None, 2_500),
          (None, 2_500)])  # fmt: skip
def test_the_heartbeat_deadline_shortcut_raises_what_judging_every_beat_raises(
    steps: list[tuple[str | None, int]],
) -> None:
    """Any run of heartbeats (None: a quote) at steps of up to 2.5 s, with misses, recoveries
    and components that join late, each monitor's alerts journaled back to its tape: the
    monitor that skips judging until its earliest deadline raises the same alerts, at the
    same records, as one that judges every beat on every record."""
    fast, full = monitor(), monitor()

    def judging_every_beat(rec: Recorded) -> list[Draft]:
        full._due_ns = None
        return full.on_event(rec)

    tapes, now = (Tape(), Tape()), T0
    for component, step_ms in steps:
        now += step_ms * MS
        for tape in tapes:
            if component is None:
                tape.quote("2999", "3001", t=now)
            else:
                tape.record(heartbeat_draft(component, now))
        assert alerts(tapes[0].pump(fast.on_event)) == alerts(tapes[1].pump(judging_every_beat))
    late = now + 10 * NS  # the runner's timer, long after the last record
    full._due_ns = None
    assert alerts(fast.check_heartbeats(late)) == alerts(full.check_heartbeats(late))


def test_a_recovery_journaled_by_another_monitor_is_judged_again_here() -> None:
    """A HeartbeatRecovered alert with no heartbeat before it (another process's monitor
    raised it) clears the miss, and this monitor judges the beat again at its next record:
    still missed (its last beat is the same, so its alert is the same, journaled once)."""
    m, tape = monitor(), Tape()
    tape.record(heartbeat_draft("ingest", T0))
    tape.quote("2999", "3001", t=T0 + 4 * NS)
    assert alerts(tape.pump(m.on_event)) == [("HeartbeatMissed", "ingest")]
    tape.add(Alert(name="HeartbeatRecovered", severity="INFO", message="ingest is back",
                   component="ingest"), stream="monitor", key="recovered", t=T0 + 4 * NS)  # fmt: skip
    tape.quote("2999", "3001", t=T0 + 5 * NS)
    assert alerts(tape.pump(m.on_event)) == []  # the same alert: the tape holds it already
    assert m.status().heartbeats["ingest"].missed
