"""Snapshots of the signal stage and the monitor: a stage restored from a snapshot taken at any
position and fed the rest of the journal decides exactly what a stage fed everything decides,
in memory and through the real SQLite journal; a damaged or foreign snapshot is refused."""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zkrisk.engine.journal.events import (
    Alert,
    Draft,
    Event,
    FeedHealth,
    FeedStatus,
    Heartbeat,
    IntentEmitted,
    OperatorCommand,
    Quote,
    Recorded,
    StrategyDisabled,
    Trade,
    TradingStateChanged,
)
from zkrisk.engine.journal.sqlite import SQLiteJournal
from zkrisk.engine.pipeline import monitor as monitor_module
from zkrisk.engine.pipeline import signal as signal_module
from zkrisk.engine.pipeline.breakers import BreakerPolicy
from zkrisk.engine.pipeline.monitor import HeartbeatRule, Monitor, MonitorConfig
from zkrisk.engine.pipeline.signal import (
    DisableCriteria,
    SignalConfig,
    SignalStage,
    StrategyConfig,
)
from zkrisk.engine.pipeline.stage_snapshot import (
    SnapshotError,
    canonical,
    encode,
    load_stage,
    save_stage,
)
from zkrisk.engine.pipeline.strategies.base import Decision, StrategyContext
from zkrisk.engine.pipeline.strategies.mean_reversion import MeanReversionStrategy
from zkrisk.engine.pipeline.strategies.momentum import MomentumStrategy
from zkrisk.engine.risk.models import Side, TradingState

from .tape import T0, Tape

D = Decimal
MS = 1_000_000

SIGNAL = SignalConfig(
    strategies=(
        StrategyConfig(id="mom", strategy="momentum",
                       params={"fast": 2, "slow": 4, "quantity": "1"}, max_quote_age_ms=500,
                       criteria=DisableCriteria(max_loss_usd=D(30), max_intents_per_minute=8)),
        StrategyConfig(id="mr", strategy="mean_reversion", symbols=("WETH",),
                       params={"window": 3, "entry_z": "1", "exit_z": "0.5", "quantity": "2"},
                       criteria=DisableCriteria(min_hit_rate_bps=5_000, min_closing_fills=2)),
    ),
    when_degraded="throttle",
    degraded_interval_ms=1_500,
)  # fmt: skip
MONITOR = MonitorConfig(
    starting_equity_usd=D(1_000),
    breakers=BreakerPolicy(reducing_drawdown_bps=50, halt_drawdown_bps=150,
                           reducing_daily_loss_usd=D(20)),
    heartbeats={"ingest": HeartbeatRule(interval_ms=1_000, tolerance=D(2))},
)  # fmt: skip


def signal_stage() -> SignalStage:
    return SignalStage(SIGNAL)


def monitor() -> Monitor:
    return Monitor(MONITOR)


def restore_signal(data: bytes) -> SignalStage:
    return SignalStage.from_bytes(SIGNAL, data)


def restore_monitor(data: bytes) -> Monitor:
    return Monitor.from_bytes(MONITOR, data)


STAGES: list[tuple[str, Callable[[], Any], Callable[[bytes], Any]]] = [
    ("signal", signal_stage, restore_signal),
    ("monitor", monitor, restore_monitor),
]

# --- event sequences -------------------------------------------------------------------------

Step = tuple[Any, ...]

steps = st.one_of(
    st.tuples(st.just("quote"), st.sampled_from(["WETH", "WBTC"]), st.sampled_from(["feed", "alt"]),
              st.integers(-6, 6), st.integers(0, 900), st.integers(100, 2_500)),
    st.tuples(st.just("trade"), st.sampled_from(["WETH", "WBTC"]), st.integers(-3, 3)),
    st.tuples(st.just("fill"), st.sampled_from(["mom", "mr"]), st.sampled_from(["BUY", "SELL"]),
              st.integers(1, 3), st.integers(-4, 4)),
    st.tuples(st.just("command"), st.sampled_from(["KILL_SWITCH", "RESUME"]),
              st.sampled_from([TradingState.ACTIVE, TradingState.REDUCING])),
    st.tuples(st.just("beat"), st.sampled_from(["ingest", "signal"]), st.integers(0, 5_000)),
    st.tuples(st.just("health"), st.sampled_from(["feed", "alt"]), st.sampled_from(list(FeedStatus))),
)  # fmt: skip


def journal_of(sequence: Sequence[Step]) -> list[Recorded]:
    """The inputs in order, each followed by what the two stages derived from it (as the runner
    appends them): the journal a restored stage must re-derive the same way."""
    tape, sig, mon = Tape(), signal_stage(), monitor()
    t, mids = T0, {"WETH": D(100), "WBTC": D(300)}
    for n, step in enumerate(sequence):
        kind = step[0]
        if kind == "quote":
            _, symbol, source, move, late_ms, dt_ms = step
            t += dt_ms * MS
            mids[symbol] = max(mids[symbol] + move, D(10))
            m = mids[symbol]
            tape.quote(str(m - D("0.5")), str(m + D("0.5")), t=t, symbol=symbol, source=source,
                       recv=t + late_ms * MS)  # fmt: skip
        elif kind == "trade":
            _, symbol, move = step
            event: Event = Trade(source="feed", symbol=symbol, price=mids[symbol] + move,
                                 size=D(1), source_seq=n)  # fmt: skip
            tape.add(event, stream="md.feed", key=f"md:feed:{symbol}:t{n}", t=t)
        elif kind == "fill":
            _, strategy, side, quantity, offset = step
            tape.fill(strategy, side, str(quantity), str(mids["WETH"] + offset), t=t)
        elif kind == "command":
            _, command, to = step
            event = OperatorCommand(command=command, actor="ops", reason="test", resume_to=to)
            tape.add(event, stream="control", key=f"cmd:{n}", t=t)
        elif kind == "beat":
            _, component, dt_ms = step
            t += dt_ms * MS
            tape.add(Heartbeat(component=component), stream="monitor", key=f"hb:{n}", t=t)
        else:
            _, source, status = step
            event = FeedHealth(source=source, status=status, reason="test", active_source=source)
            tape.add(event, stream="ingest", key=f"health:{n}", t=t)
        tape.pump(sig.on_event, mon.on_event)
    return tape.records


S = TypeVar("S", SignalStage, Monitor)


def decisions(stage: S, records: Sequence[Recorded]) -> list[list[Draft]]:
    return [stage.on_event(r) for r in records]


def assert_restored_equals_scratch(records: Sequence[Recorded], k: int) -> None:
    for _, fresh, restore in STAGES:
        scratch = fresh()
        expected = decisions(scratch, records)
        head = fresh()
        decisions(head, records[:k])
        restored = restore(head.to_bytes())
        assert restored.to_bytes() == head.to_bytes()
        assert decisions(restored, records[k:]) == expected[k:]
        assert restored.to_bytes() == scratch.to_bytes()
        assert restored.status() == scratch.status()


@settings(max_examples=60, deadline=None)
@given(sequence=st.lists(steps, max_size=60), data=st.data())
def test_a_stage_restored_at_any_position_and_fed_the_tail_decides_as_one_fed_everything(
    sequence: list[Step], data: st.DataObject
) -> None:
    records = journal_of(sequence)
    k = data.draw(st.integers(0, len(records)), label="snapshot position")
    assert_restored_equals_scratch(records, k)


def random_sequence(seed: int, length: int) -> list[Step]:
    """A long sequence from `steps`' alphabet, reproducible (for the coverage check below)."""
    rng = random.Random(seed)
    out: list[Step] = []
    for _ in range(length):
        roll = rng.random()
        if roll < 0.6:
            out.append(("quote", rng.choice(["WETH", "WBTC"]), "feed" if rng.random() < 0.85
                        else "alt", rng.randint(-6, 6), rng.choice([0, 0, 0, 700]),
                        rng.randint(100, 2_500)))  # fmt: skip
        elif roll < 0.75:
            out.append(("fill", rng.choice(["mom", "mr"]), rng.choice(["BUY", "SELL"]),
                        rng.randint(1, 3), rng.randint(-4, 4)))  # fmt: skip
        elif roll < 0.8:
            out.append(("trade", "WETH", rng.randint(-3, 3)))
        elif roll < 0.85:
            out.append(("command", rng.choice(["KILL_SWITCH", "RESUME"]), TradingState.ACTIVE))
        elif roll < 0.95:
            out.append(("beat", rng.choice(["ingest", "signal"]), rng.randint(0, 5_000)))
        else:
            out.append(("health", "feed", rng.choice(list(FeedStatus))))
    return out


def test_every_snapshot_position_of_a_long_run_with_intents_disables_breakers_and_alerts() -> None:
    records = journal_of(random_sequence(seed=3, length=300))
    kinds = {type(r.event) for r in records}
    # The run exercises what the snapshot must carry, or this test would prove little: by the
    # middle every counter of the signal stage has moved, one strategy is disabled and the
    # monitor has left ACTIVE.
    assert {IntentEmitted, StrategyDisabled, TradingStateChanged, Alert} <= kinds
    names = {r.event.name for r in records if isinstance(r.event, Alert)}
    assert {"HeartbeatMissed", "HeartbeatRecovered", "TradingStateChanged"} <= names
    middle, watch = signal_stage(), monitor()
    decisions(middle, records[: len(records) // 2])
    decisions(watch, records[: len(records) // 2])
    status = middle.status()
    assert all(any(getattr(s, counter) for s in status) for counter in
               ("skipped_stale", "skipped_degraded", "intents_total", "closing_fills"))  # fmt: skip
    assert {s.enabled for s in status} == {True, False}
    assert watch.state is not TradingState.ACTIVE and watch.day is not None
    for k in range(0, len(records) + 1, max(len(records) // 12, 1)):
        assert_restored_equals_scratch(records, k)


def test_a_record_at_or_before_the_stages_position_is_not_applied_again() -> None:
    records = journal_of(random_sequence(seed=3, length=80))
    for _, fresh, _ in STAGES:
        stage = fresh()
        decisions(stage, records)
        before = stage.to_bytes()
        assert all(d == [] for d in decisions(stage, records[-20:]))
        assert stage.to_bytes() == before


# --- through the real SQLite journal ---------------------------------------------------------


def fold(journal: SQLiteJournal, stages: Sequence[Any], after: int) -> Iterator[int]:
    """The runner's loop: each record through every stage, their drafts appended with the
    stages' cursor; yields each position once its drafts are in."""
    consumer = "+".join(f"{type(s).__name__}{id(s)}" for s in stages)
    position = after
    while page := journal.read(after=position, limit=100):
        for rec in page:
            drafts = [d for s in stages for d in s.on_event(rec)]
            journal.append(drafts, cursor=(consumer, rec.position))
            position = rec.position
            yield position


def fold_all(journal: SQLiteJournal, stages: Sequence[Any], after: int) -> int:
    """Fold to the head; returns the last position folded (`after` when nothing was new)."""
    position = after
    for position in fold(journal, stages, after):  # noqa: B007  # the last one is the answer
        pass
    return position


def inputs_of(records: Sequence[Recorded]) -> list[Draft]:
    """The inputs of a journal (what no stage derived), as drafts to append again."""
    derived = {"signal", "monitor"}
    return [Draft(r.stream, r.key, r.event, r.event_time_ns, r.recv_time_ns, r.causation_id)
            for r in records if r.stream not in derived or isinstance(r.event, Heartbeat)]  # fmt: skip


NAMES = {"signal": signal_module.SNAPSHOT, "monitor": monitor_module.SNAPSHOT}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequence=st.lists(steps, min_size=1, max_size=40), data=st.data())
def test_start_up_from_a_journal_snapshot_replays_the_tail_to_a_from_scratch_state(
    sequence: list[Step], data: st.DataObject
) -> None:
    inputs = inputs_of(journal_of(sequence))
    k = data.draw(st.integers(1, len(inputs)), label="inputs before the snapshot")
    with tempfile.TemporaryDirectory() as tmp, SQLiteJournal(Path(tmp) / "j.db") as journal:
        live: list[Any] = [signal_stage(), monitor()]
        journal.append(inputs[:k])
        position = fold_all(journal, live, 0)
        for (name, _, _), stage in zip(STAGES, live, strict=True):
            save_stage(journal, NAMES[name], stage)
        journal.append(inputs[k:])
        assert fold_all(journal, live, position) == journal.head()
        head = journal.head()
        for (name, fresh, restore), stage in zip(STAGES, live, strict=True):
            loaded = load_stage(journal, NAMES[name], fresh=fresh, restore=restore)
            assert loaded.from_snapshot, loaded.note
            assert 0 < loaded.position <= head
            fold_all(journal, [loaded.stage], loaded.position)
            assert journal.head() == head  # the tail's drafts were all in: nothing twice
            scratch = fresh()
            fold_all(journal, [scratch], 0)
            assert loaded.stage.to_bytes() == scratch.to_bytes() == stage.to_bytes()


def journal_with(records: Sequence[Recorded], path: Path) -> SQLiteJournal:
    journal = SQLiteJournal(path)
    journal.append(inputs_of(records))
    fold_all(journal, [signal_stage(), monitor()], 0)
    return journal


def test_a_journal_without_a_snapshot_starts_from_genesis_and_says_so(tmp_path: Path) -> None:
    with journal_with(journal_of(random_sequence(1, 10)), tmp_path / "j.db") as journal:
        loaded = load_stage(journal, "signal.stage", fresh=signal_stage, restore=restore_signal)
    assert (loaded.from_snapshot, loaded.position, loaded.stage.position) == (False, 0, 0)
    assert loaded.note == "no snapshot 'signal.stage': replaying from genesis"


def test_a_snapshot_from_another_journal_file_is_refused(tmp_path: Path) -> None:
    with (
        journal_with(journal_of(random_sequence(1, 40)), tmp_path / "a.db") as a,
        journal_with(journal_of(random_sequence(2, 40)), tmp_path / "b.db") as b,
    ):
        stage, stage_at = signal_stage(), min(a.head(), b.head()) - 5
        for position in fold(a, [stage], 0):
            if position == stage_at:  # b is long enough: only the hash tells them apart
                break
        b.save_snapshot("signal.stage", stage_at, stage.to_bytes())
        loaded = load_stage(b, "signal.stage", fresh=signal_stage, restore=restore_signal)
    assert (loaded.from_snapshot, loaded.stage.position) == (False, 0)
    assert "comes from another journal" in loaded.note
    assert loaded.note.endswith("replaying from genesis")


def test_a_snapshot_beyond_the_journals_head_is_refused(tmp_path: Path) -> None:
    long = journal_of(random_sequence(1, 60))
    with journal_with(long, tmp_path / "long.db") as a:
        stage = monitor()
        fold_all(a, [stage], 0)
    with journal_with(long[:10], tmp_path / "short.db") as b:
        head = b.head()
    # The journal files a snapshot only at or below its head; a file whose events and
    # snapshots disagree (say, a snapshot table copied in) is written here directly.
    with closing(sqlite3.connect(tmp_path / "short.db")) as db, db:
        db.execute("INSERT INTO snapshots VALUES (?, ?, ?)",
                   ("monitor.stage", stage.position, stage.to_bytes()))  # fmt: skip
    with SQLiteJournal(tmp_path / "short.db") as b:
        loaded = load_stage(b, "monitor.stage", fresh=monitor, restore=restore_monitor)
    assert not loaded.from_snapshot
    assert f"as of position {stage.position}, beyond the journal's head {head}" in loaded.note


def test_a_snapshot_filed_at_another_position_than_its_own_is_refused(tmp_path: Path) -> None:
    with journal_with(journal_of(random_sequence(5, 60)), tmp_path / "j.db") as journal:
        stage = monitor()
        for position in fold(journal, [stage], 0):
            if position == 20:
                break
        journal.save_snapshot("monitor.stage", 30, stage.to_bytes())
        loaded = load_stage(journal, "monitor.stage", fresh=monitor, restore=restore_monitor)
    assert not loaded.from_snapshot
    assert "filed it at position 30 but it holds the state as of position 20" in loaded.note


def test_a_snapshot_taken_under_another_config_makes_start_up_replay_and_say_why(
    tmp_path: Path,
) -> None:
    with journal_with(journal_of(random_sequence(5, 40)), tmp_path / "j.db") as journal:
        stage = signal_stage()
        fold_all(journal, [stage], 0)
        save_stage(journal, "signal.stage", stage)
        only_mom = SignalConfig(strategies=SIGNAL.strategies[:1], when_degraded="throttle",
                                degraded_interval_ms=1_500)  # fmt: skip
        loaded = load_stage(journal, "signal.stage", fresh=lambda: SignalStage(only_mom),
                            restore=lambda b: SignalStage.from_bytes(only_mom, b))  # fmt: skip
    assert not loaded.from_snapshot
    assert loaded.note == (
        "snapshot 'signal.stage' refused: signal snapshot was taken under another config "
        "(strategies mr no longer configured); it is not applied; replaying from genesis"
    )


# --- refusals --------------------------------------------------------------------------------


def snapshots() -> dict[str, bytes]:
    records = journal_of(random_sequence(seed=8, length=120))
    out = {}
    for name, fresh, _ in STAGES:
        stage = fresh()
        decisions(stage, records)
        out[name] = stage.to_bytes()
    return out


SNAPSHOTS = snapshots()


def forged(name: str, change: Callable[[dict[str, Any]], None]) -> bytes:
    """A snapshot with its state changed and the checksum recomputed (past the checksum)."""
    raw = json.loads(SNAPSHOTS[name])
    change(raw["state"])
    config = SIGNAL if name == "signal" else MONITOR
    return encode(name, config, raw["position"], raw["hash"], raw["state"])


def refusal(name: str, data: bytes) -> str:
    restore = restore_signal if name == "signal" else restore_monitor
    with pytest.raises(SnapshotError) as caught:
        restore(data)
    return str(caught.value)


@pytest.mark.parametrize("name", ["signal", "monitor"])
def test_a_snapshot_that_is_not_json_is_refused(name: str) -> None:
    assert "is not JSON" in refusal(name, SNAPSHOTS[name][:-3])


@pytest.mark.parametrize("name", ["signal", "monitor"])
def test_a_json_document_of_another_format_is_refused(name: str) -> None:
    assert "not a zkrisk.stage-snapshot document" in refusal(name, b'{"state": {}}')


@pytest.mark.parametrize("name", ["signal", "monitor"])
def test_a_snapshot_of_another_format_version_is_refused(name: str) -> None:
    raw = json.loads(SNAPSHOTS[name])
    raw["version"] = 2
    message = refusal(name, json.dumps(raw).encode())
    assert "has format version 2; this build reads version 1 only" in message


@pytest.mark.parametrize("name", ["signal", "monitor"])
def test_a_hand_edited_snapshot_fails_its_checksum(name: str) -> None:
    raw = json.loads(SNAPSHOTS[name])
    raw["state"]["clock_ns"] += 1
    assert "the checksum does not match its contents" in refusal(name, json.dumps(raw).encode())


def test_a_monitor_snapshot_is_not_taken_for_a_signal_snapshot() -> None:
    assert "this is a snapshot of the 'monitor' stage" in refusal("signal", SNAPSHOTS["monitor"])


def test_a_signal_snapshot_under_other_strategy_params_is_refused_naming_the_difference() -> None:
    mom = SIGNAL.strategies[0].model_copy(update={"params": {"fast": 3, "slow": 4,
                                                             "quantity": "1"}})  # fmt: skip
    other = SIGNAL.model_copy(update={"strategies": (mom, SIGNAL.strategies[1])})
    with pytest.raises(SnapshotError, match=r"differs at config\.strategies\[0\]\.params\.fast"):
        SignalStage.from_bytes(other, SNAPSHOTS["signal"])


def test_a_signal_snapshot_with_a_strategy_no_longer_configured_is_refused() -> None:
    only_mr = SIGNAL.model_copy(update={"strategies": SIGNAL.strategies[1:]})
    with pytest.raises(SnapshotError, match=r"\(strategies mom no longer configured\)"):
        SignalStage.from_bytes(only_mr, SNAPSHOTS["signal"])


def test_a_monitor_snapshot_under_other_breakers_is_refused() -> None:
    other = MONITOR.model_copy(update={"breakers": BreakerPolicy(halt_drawdown_bps=100)})
    with pytest.raises(SnapshotError, match=r"differs at config\.breakers\.halt_drawdown_bps"):
        Monitor.from_bytes(other, SNAPSHOTS["monitor"])


@pytest.mark.parametrize(
    ("name", "change", "where"),
    [
        ("signal", lambda s: s.update(clock_ns="5"), "clock_ns"),
        ("signal", lambda s: s["book"].update(cash=1.5), "cash"),
        ("signal", lambda s: s["book"].update(position=-1), "position"),
        ("signal", lambda s: s["runtimes"]["mom"].update(intents_total=-1), "intents_total"),
        ("signal", lambda s: s["health"].update(feed="SLEEPY"), "health.feed"),
        ("monitor", lambda s: s.update(peak="NaN"), "peak"),
        ("monitor", lambda s: s.update(state="PAUSED"), "state"),
        ("monitor", lambda s: s["beats"].update(ingest=[1, "k"]), "beats.ingest"),
        ("monitor", lambda s: s["book"]["marks"].append(["WETH", "1", "5", 1]), "valid integer"),
    ],
)
def test_a_snapshot_whose_state_does_not_fit_its_schema_is_refused(
    name: str, change: Callable[[dict[str, Any]], None], where: str
) -> None:
    message = refusal(name, forged(name, change))
    assert f"{name} snapshot: the state is malformed" in message
    assert where in message


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("position", -1, "position -1 / hash"),
        ("position", "7", "position '7' / hash"),
        ("hash", None, "/ hash None are malformed"),
        ("state", [], "the state is list, not an object"),
    ],
)
def test_an_envelope_with_a_malformed_position_hash_or_state_is_refused(
    field: str, value: Any, why: str
) -> None:
    raw = json.loads(SNAPSHOTS["monitor"])
    raw[field] = value
    del raw["checksum"]
    raw["checksum"] = hashlib.sha256(canonical(raw)).hexdigest()  # past the checksum
    assert why in refusal("monitor", canonical(raw))


def test_a_signal_snapshot_whose_strategies_differ_from_the_configs_is_refused() -> None:
    message = refusal("signal", forged("signal", lambda s: s["runtimes"].pop("mr")))
    assert "holds strategies ['mom'] but the config has ['mom', 'mr']" in message


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("mr", r"strategy 'mr' refuses its saved state: .*holds 4 mids of WETH but window is 3"),
        ("mom", r"strategy 'mom' refuses its saved state: .*holds 5 mids of WETH but slow is 4"),
    ],
)
def test_a_strategy_refusing_its_state_leaves_the_stage_as_it_was(bad: str, why: str) -> None:
    def overlong(state: dict[str, Any]) -> None:
        state["runtimes"][bad]["strategy"]["mids"]["WETH"] = ["1", "2", "3", "4", "5"][
            : 4 if bad == "mr" else 5
        ]

    stage = signal_stage()
    before = stage.to_bytes()
    with pytest.raises(SnapshotError, match=why):
        stage.restore(forged("signal", overlong))
    assert stage.to_bytes() == before  # the strategies restored before it are rolled back


@pytest.mark.parametrize("name", ["signal", "monitor"])
def test_a_snapshot_is_restored_only_into_a_stage_that_has_applied_nothing(name: str) -> None:
    fresh, _ = dict((n, (f, r)) for n, f, r in STAGES)[name]
    stage = fresh()
    stage.on_event(journal_of([("beat", "ingest", 10)])[0])
    with pytest.raises(SnapshotError, match="restore into a freshly built"):
        stage.restore(SNAPSHOTS[name])


def test_a_restored_monitor_publishes_the_metrics_a_replay_publishes() -> None:
    records = journal_of(random_sequence(seed=8, length=120))
    scratch = monitor()
    decisions(scratch, records)
    restored = Monitor.from_bytes(MONITOR, scratch.to_bytes())
    assert restored.state is scratch.state and scratch.alerts

    def samples(m: Monitor) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for metric in m.metrics.registry.collect() for s in metric.samples
                if not s.name.endswith("_created")}  # fmt: skip

    assert samples(restored) == samples(scratch)


# --- strategies ------------------------------------------------------------------------------


def quotes(mids: Sequence[str]) -> list[Quote]:
    return [Quote(source="feed", symbol="WETH", bid=D(m) - 1, ask=D(m) + 1, bid_size=D(9),
                  ask_size=D(9), source_seq=i) for i, m in enumerate(mids)]  # fmt: skip


CONTEXT = StrategyContext(position=D(0), event_time_ns=T0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: MomentumStrategy("mom", {"fast": 2, "slow": 4, "quantity": "1"}),
        lambda: MeanReversionStrategy("mr", {"window": 3, "entry_z": "1", "quantity": "1"}),
    ],
)
def test_a_shipped_strategy_restored_from_its_state_decides_as_the_original(
    make: Callable[[], MomentumStrategy | MeanReversionStrategy],
) -> None:
    path = ["100", "101", "103", "102.5", "99", "97", "98", "104", "104", "100.25", "96", "99"]
    original, shown = make(), quotes(path)
    for q in shown[:5]:
        original.on_quote(q, CONTEXT)
    state = original.state()
    assert json.loads(json.dumps(state)) == state  # plain JSON
    copy = make()
    copy.restore(state)
    assert [copy.on_quote(q, CONTEXT) for q in shown[5:]] == [
        original.on_quote(q, CONTEXT) for q in shown[5:]
    ]
    assert copy.state() == original.state()


@pytest.mark.parametrize(
    ("strategy", "state", "why"),
    [
        (MomentumStrategy("m", {"fast": 2, "slow": 4, "quantity": "1"}),
         {"mids": {"WETH": ["1"] * 5}, "trend": {}}, "holds 5 mids of WETH but slow is 4"),
        (MomentumStrategy("m", {"fast": 2, "slow": 4, "quantity": "1"}),
         {"mids": {}, "trend": {"WETH": 2}}, "trend.WETH"),
        (MomentumStrategy("m", {"fast": 2, "slow": 4, "quantity": "1"}),
         {"mids": {"WETH": [1.5]}, "trend": {}}, "a Decimal in a snapshot is a string"),
        (MeanReversionStrategy("r", {"window": 3, "entry_z": "1", "quantity": "1"}),
         {"mids": {}, "target": {}, "extra": 1}, "extra"),
    ],
)  # fmt: skip
def test_a_shipped_strategy_refuses_a_state_that_does_not_fit_its_params(
    strategy: MomentumStrategy | MeanReversionStrategy, state: dict[str, Any], why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        strategy.restore(state)


class Stateless:
    """A plug-in strategy without state() / restore()."""

    def __init__(self, strategy_id: str, params: Mapping[str, Any]) -> None:
        self.id = strategy_id

    def on_quote(self, quote: Quote, context: StrategyContext) -> Sequence[Decision]:
        return [Decision(quote.symbol, Side.BUY, D(1), quote.ask)]

    def on_trade(self, trade: Trade, context: StrategyContext) -> Sequence[Decision]:
        return []


class FloatState(Stateless):
    """A plug-in whose state() is not plain JSON."""

    def state(self) -> dict[str, Any]:
        return {"last": D(1)}

    def restore(self, state: Mapping[str, Any]) -> None:
        pass


PLAIN = SignalConfig(strategies=(
    StrategyConfig(id="plain", strategy="tests.pipeline.test_stage_snapshots:Stateless"),
    StrategyConfig(id="mom", strategy="momentum", params={"quantity": "1"}),
))  # fmt: skip


def test_a_stage_with_a_strategy_lacking_state_and_restore_refuses_to_snapshot() -> None:
    stage = SignalStage(PLAIN)
    why = stage.snapshot_refusal()
    assert why is not None
    assert why.startswith("strategies without state() and restore() cannot be snapshotted: "
                          "plain (tests.pipeline.test_stage_snapshots:Stateless)")  # fmt: skip
    assert why.endswith("start-up replays the journal from genesis")
    with pytest.raises(SnapshotError, match="cannot be snapshotted: plain"):
        stage.to_bytes()
    assert SignalStage(SIGNAL).snapshot_refusal() is None


def test_a_snapshot_naming_a_strategy_that_cannot_restore_is_refused() -> None:
    good = SignalStage(SIGNAL).to_bytes()
    raw = json.loads(good)
    data = encode("signal", PLAIN, 0, "", raw["state"])
    with pytest.raises(SnapshotError, match="cannot be snapshotted: plain"):
        SignalStage.from_bytes(PLAIN, data)


def test_a_strategy_state_that_is_not_plain_json_refuses_to_snapshot() -> None:
    config = SignalConfig(strategies=(StrategyConfig(
        id="f", strategy="tests.pipeline.test_stage_snapshots:FloatState"),))  # fmt: skip
    with pytest.raises(SnapshotError, match="the state is not plain JSON"):
        SignalStage(config).to_bytes()


def test_the_snapshot_is_canonical_json_with_its_version_and_config() -> None:
    raw = json.loads(SNAPSHOTS["signal"])
    assert SNAPSHOTS["signal"] == json.dumps(raw, sort_keys=True, separators=(",", ":")).encode()
    assert (raw["format"], raw["stage"], raw["version"]) == ("zkrisk.stage-snapshot", "signal", 1)
    assert raw["config"] == json.loads(SIGNAL.model_dump_json())
    assert raw["position"] > 0 and len(raw["hash"]) > 0


def _intent_times(stage: SignalStage) -> dict[str, list[int]]:
    return {sid: list(r.intent_times) for sid, r in stage._runtimes.items()}


def test_intent_times_are_packed_in_a_snapshot_and_restored_exactly() -> None:
    """A minute of a strategy's intent times goes into the snapshot as one packed string (a
    JSON list of them, dumped twice and hashed, stalled the event loop), and comes back as
    the same times; a snapshot written before, with the JSON list, restores the same."""
    packed = json.loads(SNAPSHOTS["signal"])["state"]["runtimes"]
    times = _intent_times(restore_signal(SNAPSHOTS["signal"]))
    assert any(times.values()) and all(isinstance(r["intent_times"], str) for r in packed.values())
    assert times == {
        sid: signal_module._unpack_times(r["intent_times"]) for sid, r in packed.items()
    }

    def as_lists(state: dict[str, Any]) -> None:
        for runtime in state["runtimes"].values():
            runtime["intent_times"] = signal_module._unpack_times(runtime["intent_times"])

    assert _intent_times(restore_signal(forged("signal", as_lists))) == times


@pytest.mark.parametrize(("packed", "says"), [
    ("not base64!", "not base64"), ("AAAA", "not a multiple of 8"),
])  # fmt: skip
def test_packed_intent_times_that_do_not_decode_are_refused_saying_why(
    packed: str, says: str
) -> None:
    def spoil(state: dict[str, Any]) -> None:
        state["runtimes"]["mom"]["intent_times"] = packed

    assert says in refusal("signal", forged("signal", spoil))
