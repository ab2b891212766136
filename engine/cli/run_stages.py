"""`zkrisk run --stage all`: every stage of the run as a process of its own, supervised.

Each child is `zkrisk run ... --journal SPEC --stage <name>` (runner.STAGES): ingest appends
market data, the pipeline folds the journal from its own cursor. A child killed by a signal
(SIGKILL included) is started again and resumes from what the journal holds; a child that
exits with an error stops the run (a bad config would only fail again). Stopping (Ctrl-C,
SIGTERM, `--duration`) stops them in `STOP_ORDER`; a supervisor killed outright takes them with
it (each child gets SIGTERM when it dies).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from types import FrameType

from ..pipeline.runner import STAGES

RESTART_AFTER_S = 0.5
"""Pause before a killed stage is started again (a crash loop does not spin)."""
STOP_TIMEOUT_S = 30.0
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
STOP_ORDER = ("ingest", "pipeline", "monitor")
"""Ingest first, so the pipeline's last fold sees all it journaled; the monitor, which watches
the others, last."""


def stage_command(args: list[str], spec: str, stage: str) -> list[str]:
    """The child's command line: this run's own options plus its journal and its stage."""
    return [sys.executable, "-m", "zkrisk.engine.cli", "run", *args, "--journal", spec,
            "--stage", stage, "--no-live"]  # fmt: skip


def _stop_with(parent: int) -> Callable[[], None]:
    """For a child, before it runs: SIGTERM (its clean stop) when the supervisor dies. A
    SIGKILLed supervisor cannot stop its stages itself, and orphans would keep running and
    holding their stage locks, so the next run on the journal would be refused. Linux's
    PR_SET_PDEATHSIG; elsewhere a no-op. (`preexec_fn` is safe here: the supervisor runs no
    other thread.)"""

    def set_parent_death_signal() -> None:
        if not sys.platform.startswith("linux"):
            return
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the supervisor died before the prctl took
            os.kill(os.getpid(), signal.SIGTERM)

    return set_parent_death_signal


def supervise(args: list[str], spec: str, duration: float | None) -> int:
    """Run every stage until stopped; returns the exit code (the worst child's)."""
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)

    def start(stage: str) -> subprocess.Popen[bytes]:
        child = subprocess.Popen(stage_command(args, spec, stage),
                                 preexec_fn=_stop_with(os.getpid()))  # fmt: skip
        print(f"supervisor: stage {stage} started (pid {child.pid})", flush=True)
        return child

    children = {stage: start(stage) for stage in STAGES}
    finished: dict[str, int] = {}
    deadline = None if duration is None else time.monotonic() + duration
    failed = 0
    while not stopping and (deadline is None or time.monotonic() < deadline):
        for stage, child in list(children.items()):
            code = child.poll()
            if code is None or stage in finished:
                continue
            if code < 0:  # killed: the journal holds everything it had committed
                print(f"supervisor: stage {stage} killed by signal {-code}: restarting",
                      flush=True)  # fmt: skip
                time.sleep(RESTART_AFTER_S)
                children[stage] = start(stage)
            elif code == 0:
                finished[stage] = 0  # ingest over a recorded file ends by itself
            else:
                print(f"supervisor: stage {stage} failed (exit {code}): stopping the run",
                      flush=True)  # fmt: skip
                failed, stopping = code, True
        time.sleep(0.05)
    for stage in STOP_ORDER:
        child = children[stage]
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
        try:
            code = child.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            code = child.wait()
        if code not in (0, -signal.SIGTERM) and not failed:
            failed = code if code > 0 else 1
    return failed
