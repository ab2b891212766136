"""The warm worker: survives a crash mid-proof, restarts when it died idle, never outlives Python."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from zkrisk.prover import pyverify
from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.backends import WorkerBackend
from zkrisk.prover.errors import WorkerCrashed
from zkrisk.prover.proof import Proof
from zkrisk.prover.warm_worker import WarmWorker

from .cases import holding


def _gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # reap it if it is our child (a zombie still answers kill 0)
            if os.waitpid(pid, os.WNOHANG) != (0, 0):
                return True
        except ChildProcessError:
            pass
        time.sleep(0.05)
    return False


def test_worker_killed_mid_proof_returns_an_error_and_the_next_proof_verifies(
    health4: CircuitArtifacts,
) -> None:
    with WarmWorker() as worker:
        backend = WorkerBackend(worker)
        worker.ping()  # started, curve built: the proof below is all that is in flight
        first_pid = worker.pid
        assert first_pid is not None
        outcome: list[BaseException | Proof] = []

        def prove() -> None:
            try:
                outcome.append(backend.prove(health4, holding().signals()))
            except BaseException as exc:  # handed to the main thread to assert on
                outcome.append(exc)

        thread = threading.Thread(target=prove)
        thread.start()
        deadline = time.monotonic() + 10
        while not worker.in_flight and time.monotonic() < deadline:
            time.sleep(0.001)
        assert worker.in_flight, "the proof request was never sent"
        os.kill(first_pid, signal.SIGKILL)  # a Health(4) proof takes ≥ 100 ms: still running
        thread.join(timeout=30)

        assert len(outcome) == 1 and isinstance(outcome[0], WorkerCrashed)
        assert "died during a prove request" in str(outcome[0])
        proof = backend.prove(health4, holding().signals())
        assert worker.pid not in (None, first_pid)
    assert pyverify.verify(health4.vkey, proof)


def test_worker_that_died_while_idle_is_restarted_by_the_next_request(
    health4: CircuitArtifacts,
) -> None:
    with WarmWorker() as worker:
        worker.ping()
        pid = worker.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        assert _gone(pid, within=5)
        proof = WorkerBackend(worker).prove(health4, holding().signals())
    assert proof.public_signals == holding().public_signals()


def test_close_stops_the_node_process() -> None:
    worker = WarmWorker()
    worker.ping()
    pid = worker.pid
    assert pid is not None
    worker.close()
    assert worker.pid is None
    assert _gone(pid, within=5)


def test_worker_exits_when_its_python_process_is_killed() -> None:
    # A child Python starts a worker, prints its pid, then dies without any cleanup (SIGKILL):
    # the worker sees its stdin close and must exit by itself.
    script = (
        "import os, signal\n"
        "from zkrisk.prover.warm_worker import WarmWorker\n"
        "w = WarmWorker(); w.ping(); print(w.pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert _gone(int(done.stdout.strip()), within=10)


def test_worker_serves_several_threads_one_request_at_a_time(health4: CircuitArtifacts) -> None:
    results: list[Proof] = []
    with WorkerBackend() as backend:
        threads = [
            threading.Thread(
                target=lambda i=i: results.append(backend.prove(health4, holding(i).signals()))
            )
            for i in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert sorted(p.public_signals[4] for p in results) == [1_000_000, 1_000_001]
    assert all(pyverify.verify(health4.vkey, p) for p in results)


@pytest.mark.parametrize("threads", ["single", "multi"])
def test_worker_proves_with_either_curve_threading_mode(
    health4: CircuitArtifacts, threads: str
) -> None:
    with WarmWorker(threads=threads) as worker:  # type: ignore[arg-type]
        proof = WorkerBackend(worker).prove(health4, holding().signals())
        assert worker.ping()["threads"] == threads
    assert pyverify.verify(health4.vkey, proof)
