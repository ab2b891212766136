"""`zkrisk run --journal SPEC --stage ingest|monitor|pipeline`: the stages as processes of their
own over one journal (SQLite in WAL mode, or NATS JetStream), against the one-process run."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from zkrisk.engine.journal.base import Journal, JournalError
from zkrisk.engine.journal.events import (
    Heartbeat,
    PaperFill,
    TradingStateChanged,
    VerdictIssued,
)
from zkrisk.engine.journal.opening import open_journal
from zkrisk.engine.natsio.server import NatsNode
from zkrisk.engine.pipeline.run_config import load_run_config
from zkrisk.engine.pipeline.runner import Runner

from ..nats_fixtures import nats_node  # noqa: F401  (the fixture)
from .runner_support import EXAMPLES, ZKRISK, zkrisk

Outcome = tuple[dict[str, tuple[str, tuple[str, ...]]], dict[str, tuple[str, str]]]
"""Verdicts (kind, reasons) and paper fills (price, quantity) by client order id."""


def write_config(tmp: Path) -> Path:
    """examples/run-recorded.toml with a strategy whose every quote is an intent (its verdicts
    depend on the quotes and the policy, not on when a fill lands) and the journal in tmp."""
    text = (EXAMPLES / "run-recorded.toml").read_text()
    for name in ("run-policy.toml", "assets.toml", "scenarios.csv", "marketdata/quotes.jsonl"):
        text = text.replace(f'"{name}"', f'"{EXAMPLES / name}"')
    text = text.replace('"../build/run/recorded.db"', f'"{tmp / "journal.db"}"')
    head, _, rest = text.partition("[[signal.strategies]]")
    strategy = ('[[signal.strategies]]\nid = "buyer"\n'
                'strategy = "tests.pipeline.plugin_strategies:BuyEveryQuote"\n'
                'params = { quantity = "0.01" }\nmax_quote_age_ms = 100_000_000_000\n')  # fmt: skip
    path = tmp / "run.toml"
    path.write_text(head + strategy + "\n[monitor]" + rest.split("[monitor]", 1)[1])
    return path


def outcome(journal: Journal) -> Outcome:
    verdicts: dict[str, tuple[str, tuple[str, ...]]] = {}
    fills: dict[str, tuple[str, str]] = {}
    for rec in journal.iter_from(0):
        if isinstance(rec.event, VerdictIssued):
            v = rec.event.verdict
            assert v.client_order_id not in verdicts, f"{v.client_order_id} decided twice"
            verdicts[v.client_order_id] = (v.kind.value, tuple(r.code for r in v.reasons))
        elif isinstance(rec.event, PaperFill):
            assert rec.event.client_order_id not in fills, "a paper fill journaled twice"
            fills[rec.event.client_order_id] = (str(rec.event.price), str(rec.event.quantity))
    return verdicts, fills


def one_process(config: Path, journal_path: Path) -> Outcome:
    """The reference: every stage on one event loop, until the tape is folded."""
    loaded = load_run_config(config).with_journal(journal_path)

    async def run(journal: Journal) -> None:
        runner = Runner(journal, loaded)
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run_until(stop))
        while not runner.ingest_done:
            await asyncio.sleep(0.05)
        stop.set()
        await task

    with closing(open_journal(str(journal_path))) as journal:
        asyncio.run(run(journal))
        return outcome(journal)


_STARTED: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def _no_stage_outlives_its_test() -> Iterator[None]:
    """A failed assertion must not leave stage processes running (they poll forever)."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)


def start_stage(config: Path, spec: str, stage: str, **env: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([*ZKRISK, "run", "--config", str(config), "--journal", spec,
                             "--stage", stage, "--no-live"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, **env})  # fmt: skip
    _STARTED.append(proc)
    return proc


def start_supervisor(config: Path, spec: str, log: Path) -> subprocess.Popen[bytes]:
    """`zkrisk run --stage all` on `spec`, its output to `log`."""
    with log.open("wb") as out:
        return subprocess.Popen([*ZKRISK, "run", "--config", str(config), "--journal", spec,
                                 "--stage", "all"], stdout=out, stderr=subprocess.STDOUT)  # fmt: skip


def wait_until(check: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def has_records(spec: str) -> bool:
    """The stages have created the journal and appended to it (False while it is being made)."""
    if not Path(spec).is_file():
        return False
    try:
        with closing(open_journal(spec, readonly=True)) as journal:
            return journal.head() > 0
    except JournalError:
        return False


def beat_after(journal: Journal, component: str, position: int) -> bool:
    """A heartbeat of `component` after `position`: a (re)started stage is up and folding."""
    return any(isinstance(r.event, Heartbeat) and r.event.component == component
               for r in journal.iter_from(position))  # fmt: skip


def stop(*procs: subprocess.Popen[bytes]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()


def finish(proc: subprocess.Popen[bytes], timeout: float = 90) -> tuple[int, str]:
    """Wait for a stage process to end: its exit code and what it wrote to stderr."""
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err.decode()


def run_stages(config: Path, spec: str, expected: int, **crash: str) -> Outcome:
    """Ingest, monitor and pipeline as three processes until `expected` verdicts are journaled;
    `crash` = {stage: ZKRISK_CRASH_AT point}: that stage is SIGKILLed there and restarted."""
    procs = {}
    for stage in ("ingest", "monitor", "pipeline"):
        env = {"ZKRISK_CRASH_AT": crash[stage]} if stage in crash else {}
        procs[stage] = start_stage(config, spec, stage, **env)
    with closing(open_journal(spec)) as journal:
        for stage in crash:
            code, err = finish(procs[stage])
            assert code == -signal.SIGKILL, err
            killed_at = journal.head()
            assert len(outcome(journal)[0]) < expected or stage == "ingest"  # work left to redo
            procs[stage] = start_stage(config, spec, stage)
            if stage == "pipeline":
                up = functools.partial(beat_after, journal, "pipeline", killed_at)
                wait_until(up, "the restart")
        code, err = finish(procs["ingest"])
        assert code == 0, err
        wait_until(lambda: len(outcome(journal)[0]) >= expected, f"{expected} verdicts")
        stop(procs["pipeline"], procs["monitor"])
        return outcome(journal)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path)


def test_stages_as_processes_on_sqlite_decide_every_quote_as_one_process_does(
    config: Path, tmp_path: Path
) -> None:
    reference = one_process(config, tmp_path / "one.db")
    assert len(reference[0]) == len(reference[1]) == 32  # every quote of the tape: an approval
    assert run_stages(config, str(tmp_path / "stages.db"), 32) == reference


def test_stages_as_processes_on_nats_jetstream_decide_as_one_process_does(
    config: Path,
    tmp_path: Path,
    nats_node: NatsNode,  # noqa: F811
) -> None:
    reference = one_process(config, tmp_path / "one.db")
    assert run_stages(config, f"{nats_node.url}/stages", len(reference[0])) == reference


@pytest.mark.parametrize("stage, point", [("ingest", "journal.mid_batch@2"),
                                          ("pipeline", "pipeline.after_verdict@3")])  # fmt: skip
def test_a_stage_sigkilled_mid_append_restarts_from_its_cursor_with_nothing_lost_or_twice(
    config: Path, tmp_path: Path, stage: str, point: str
) -> None:
    reference = one_process(config, tmp_path / "one.db")
    spec = str(tmp_path / "stages.db")
    assert run_stages(config, spec, len(reference[0]), **{stage: point}) == reference
    with closing(open_journal(spec)) as journal:
        quotes = [r for r in journal.iter_from(0) if r.stream.startswith("md.")]
        assert len(quotes) == len({r.key for r in quotes}) == 40


def test_the_kill_switch_reaches_the_pipeline_process_and_the_monitor_process_journals_it(
    config: Path, tmp_path: Path
) -> None:
    spec = str(tmp_path / "journal.db")  # the config's own journal: `zkrisk killswitch` uses it
    monitor = start_stage(config, spec, "monitor")
    pipeline = start_stage(config, spec, "pipeline")
    wait_until(lambda: has_records(spec), "the pipeline's first heartbeat")
    engaged = zkrisk("killswitch", "engage", "--config", str(config), "--reason", "drill")
    assert engaged.returncode == 0, engaged.stderr
    code, err = finish(start_stage(config, spec, "ingest"))
    assert code == 0, err
    with closing(open_journal(spec)) as journal:
        wait_until(lambda: len(outcome(journal)[0]) == 32, "32 verdicts")
        wait_until(lambda: any(isinstance(r.event, TradingStateChanged)
                               for r in journal.iter_from(0)), "the monitor's state change")  # fmt: skip
        stop(pipeline, monitor)
        verdicts, fills = outcome(journal)
        changes = [r for r in journal.iter_from(0) if isinstance(r.event, TradingStateChanged)]
    assert {kind for kind, _ in verdicts.values()} == {"REJECT"} and not fills
    assert all("TRADING_HALTED" in reasons for _, reasons in verdicts.values())
    assert [(r.stream, r.event.current.value) for r in changes] == [("monitor", "HALTED")]  # type: ignore[union-attr]


def test_the_supervisor_restarts_a_sigkilled_stage_and_the_run_decides_as_one_process_does(
    config: Path, tmp_path: Path
) -> None:
    reference = one_process(config, tmp_path / "one.db")
    spec = str(tmp_path / "stages.db")
    log = tmp_path / "supervisor.log"
    supervisor = start_supervisor(config, spec, log)
    try:
        started = "supervisor: stage pipeline started (pid "
        wait_until(lambda: started in log.read_text(), "the pipeline stage")
        pid = int(log.read_text().split(started, 1)[1].split(")", 1)[0])
        wait_until(lambda: has_records(spec), "the first record")
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: "stage pipeline killed by signal 9: restarting" in log.read_text(),
                   "the restart")  # fmt: skip
        with closing(open_journal(spec, readonly=True)) as journal:
            killed_at = journal.head()
            wait_until(lambda: beat_after(journal, "pipeline", killed_at), "the new pipeline")
            wait_until(lambda: len(outcome(journal)[0]) >= len(reference[0]), "every verdict")
    finally:
        supervisor.send_signal(signal.SIGTERM)
        supervisor.wait(timeout=90)
    assert supervisor.returncode == 0, log.read_text()
    with closing(open_journal(spec, readonly=True)) as journal:
        assert outcome(journal) == reference


def test_a_sigkilled_supervisor_takes_its_stages_with_it(config: Path, tmp_path: Path) -> None:
    """SIGKILL gives the supervisor no chance to stop its children: without a parent-death
    signal they would run on, orphaned, holding their stage locks, and the next `--stage
    all` on the journal would be refused until someone found and killed them."""
    spec = str(tmp_path / "stages.db")
    log = tmp_path / "supervisor.log"
    supervisor = start_supervisor(config, spec, log)
    _STARTED.append(supervisor)
    pids: list[int] = []

    def every_stage_started() -> bool:
        text = log.read_text()
        pids[:] = [int(part.split(")", 1)[0]) for part in text.split(" started (pid ")[1:]]
        return len(pids) == 3

    wait_until(every_stage_started, "the three stages")
    supervisor.kill()
    supervisor.wait(timeout=30)

    def alive(pid: int) -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False
        return state != "Z"  # a zombie has exited (nobody reaped it yet)

    try:
        wait_until(lambda: not any(alive(p) for p in pids), "the stages to exit", timeout=30)
    finally:
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_journal_of_an_unknown_scheme_exits_2_naming_the_forms_and_leaves_no_lock_files(
    config: Path, tmp_path: Path
) -> None:
    done = subprocess.run([*ZKRISK, "run", "--config", str(config), "--journal", "ftp://host/j",
                           "--stage", "pipeline", "--no-live"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2
    assert "unknown scheme" in done.stderr and "nats://host:port" in done.stderr
    assert not (tmp_path / "ftp:").exists()
