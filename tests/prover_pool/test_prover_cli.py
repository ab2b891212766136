"""`zkrisk prover worker` / `status` on the command line: bad input, and the pool's state."""

from __future__ import annotations

import subprocess
import sys

import pytest

from zkrisk.engine.natsio.server import NatsNode
from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.backends import PoolBackend
from zkrisk.prover.errors import WitnessError

from ..conftest import REPO
from ..prover.cases import holding, out_of_range
from .conftest import running_worker


def zkrisk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zkrisk.engine.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip


def test_a_worker_refuses_the_pool_as_its_own_backend() -> None:
    done = zkrisk("prover", "worker", "--nats", "nats://127.0.0.1:1", "--backend", "pool")
    assert done.returncode == 2
    assert "a worker proves locally; choose one of multicore, native, worker" in done.stderr


def test_a_worker_for_an_unknown_circuit_exits_2_naming_it() -> None:
    done = zkrisk("prover", "worker", "--nats", "nats://127.0.0.1:1", "--circuits", "health5")
    assert done.returncode == 2 and "health5" in done.stderr


def test_a_worker_that_cannot_reach_nats_exits_2_saying_so(health4: CircuitArtifacts) -> None:
    done = zkrisk("prover", "worker", "--nats", "nats://127.0.0.1:1", "--circuits", "health4")
    assert done.returncode == 2 and "cannot reach NATS at nats://127.0.0.1:1" in done.stderr


def test_status_shows_results_and_each_dead_letter_with_its_reason(
    nats_node: NatsNode, pool: PoolBackend, health4: CircuitArtifacts
) -> None:
    with running_worker(nats_node.url, {"health4": health4}):
        pool.prove(health4, holding(nonce=50).signals())
        with pytest.raises(WitnessError):
            pool.prove(health4, out_of_range())
    done = zkrisk("prover", "status", "--nats", nats_node.url)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "jobs queued 0, results stored 2, dead letters 1"
    assert any(line.startswith("  prove-normal-health4") and "waiting 0, in flight 0" in line
               for line in lines)  # fmt: skip
    assert any(line.startswith("  dead: WitnessError: ") and "Num2Bits" in line for line in lines)
