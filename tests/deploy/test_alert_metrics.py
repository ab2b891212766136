"""The metrics deploy/alerts.yml reads exist under those names in the processes that serve them,
follow Prometheus' naming conventions, and move as the monitor decides."""

from __future__ import annotations

import re
from decimal import Decimal

from prometheus_client import CollectorRegistry

from zkrisk.engine.api.metrics import ApiMetrics
from zkrisk.engine.keeper.metrics import KeeperMetrics
from zkrisk.engine.pipeline.breakers import BreakerPolicy
from zkrisk.engine.pipeline.ingest import IngestMetrics
from zkrisk.engine.pipeline.monitor import (
    HeartbeatRule,
    Monitor,
    MonitorConfig,
    PipelineMetrics,
    heartbeat_draft,
)

from ..pipeline.tape import NS, T0, Tape
from .prometheus_tools import DEPLOY

D = Decimal
NON_BASE_UNITS = ("_ms", "_milliseconds", "_minutes", "_hours", "_bps", "_percent", "_pct")


def registries() -> dict[str, CollectorRegistry]:
    """Each process's registry, as its /metrics serves it (the runner's holds two sets)."""
    runner = CollectorRegistry()
    PipelineMetrics(runner)
    IngestMetrics(runner)
    return {"service": ApiMetrics().registry, "runner": runner, "keeper": KeeperMetrics().registry}


def exposed_names() -> set[str]:
    """Every metric name a scrape can show (a labelled family shows none until first used)."""
    names = set()
    for registry in registries().values():
        for family in registry.collect():
            names.add(family.name + ("_total" if family.type == "counter" else ""))
            names.update(sample.name for sample in family.samples)
    return names


def test_every_zkrisk_metric_the_alert_rules_name_is_exposed_by_a_zkrisk_process() -> None:
    named = set(re.findall(r"\bzkrisk_[a-z_]+[a-z]", (DEPLOY / "alerts.yml").read_text()))
    assert len(named) >= 10  # the regex finds the names (a guard against testing nothing)
    assert named - exposed_names() == set()


def test_metric_names_follow_prometheus_conventions() -> None:
    for process, registry in registries().items():
        for family in registry.collect():
            name = family.name
            assert name.startswith("zkrisk_"), (process, name)
            assert not name.endswith(NON_BASE_UNITS), f"{name}: use base units (_seconds, _ratio)"
            if family.type != "counter":
                assert not name.endswith("_total"), f"{name}: only counters end in _total"
            if family.type == "histogram":
                assert name.endswith("_seconds"), f"{name}: durations are in seconds"


def test_drawdown_is_published_as_a_ratio_beside_the_configured_drawdown_breakers() -> None:
    metrics = PipelineMetrics()
    policy = BreakerPolicy(reducing_drawdown_bps=100, halt_drawdown_bps=200)
    m, tape = (
        Monitor(MonitorConfig(starting_equity_usd=D(10_000), breakers=policy), metrics),
        Tape(),
    )
    tape.fill("mom", "BUY", "10", "101", t=T0)
    tape.quote("99", "101", t=T0)  # mark 100: equity 9,990, a 10 bps drawdown
    tape.pump(m.on_event)
    sample = metrics.registry.get_sample_value
    assert sample("zkrisk_pipeline_drawdown_ratio") == 0.001
    assert sample("zkrisk_pipeline_drawdown_limit_ratio", {"state": "REDUCING"}) == 0.01
    assert sample("zkrisk_pipeline_drawdown_limit_ratio", {"state": "HALTED"}) == 0.02


def test_a_breaker_that_is_off_publishes_no_limit_so_no_drawdown_alert_can_fire() -> None:
    metrics = PipelineMetrics()
    Monitor(MonitorConfig(starting_equity_usd=D(10_000),
                          breakers=BreakerPolicy(halt_drawdown_bps=300)), metrics)  # fmt: skip
    sample = metrics.registry.get_sample_value
    assert sample("zkrisk_pipeline_drawdown_limit_ratio", {"state": "HALTED"}) == 0.03
    assert sample("zkrisk_pipeline_drawdown_limit_ratio", {"state": "REDUCING"}) is None


def heartbeat_monitor(metrics: PipelineMetrics) -> Monitor:
    rule = HeartbeatRule(interval_ms=1_000, tolerance=D(3))  # missed after 3 s
    return Monitor(
        MonitorConfig(starting_equity_usd=D(1_000), heartbeats={"ingest": rule}), metrics
    )


def missed(metrics: PipelineMetrics, component: str = "ingest") -> float | None:
    name, labels = "zkrisk_pipeline_heartbeat_missed", {"component": component}
    value: float | None = metrics.registry.get_sample_value(name, labels)
    return value


def test_the_heartbeat_missed_gauge_follows_the_monitors_missed_and_recovered_alerts() -> None:
    metrics = PipelineMetrics()
    m, tape = heartbeat_monitor(metrics), Tape()
    tape.record(heartbeat_draft("ingest", T0))
    tape.record(heartbeat_draft("signal", T0 + 2 * NS))
    tape.pump(m.on_event)
    assert missed(metrics) is None  # never missed yet
    tape.record(heartbeat_draft("signal", T0 + 4 * NS))  # ingest 4 s old: missed
    tape.pump(m.on_event)
    assert missed(metrics) == 1
    tape.record(heartbeat_draft("ingest", T0 + 5 * NS))
    tape.pump(m.on_event)
    assert missed(metrics) == 0


def test_a_monitor_restored_from_a_snapshot_republishes_a_missed_heartbeat() -> None:
    live, tape = heartbeat_monitor(PipelineMetrics()), Tape()
    tape.record(heartbeat_draft("ingest", T0))
    tape.record(heartbeat_draft("signal", T0 + 4 * NS))
    tape.pump(live.on_event)
    metrics = PipelineMetrics()
    Monitor.from_bytes(live.config, live.to_bytes(), metrics=metrics)
    assert missed(metrics) == 1
