"""The prover pool's throughput per worker against proving locally, Health(16), one core each.

    proofs_per_s_local_sequential   NativeBackend in one process pinned to core 0 (taskset,
                                    RAYON_NUM_THREADS=1), proving the jobs one after another
    proofs_per_s_per_worker         one `zkrisk prover worker` pinned the same way, the same
                                    jobs submitted at once through NATS JetStream (this process,
                                    pinned to core 1, submits and verifies every proof)
    pool_vs_local_ratio             their ratio: what the queue, the wire and the result store
                                    cost (1.0 = nothing)

Both run in the same `make bench` so they share the machine's load. Each job is a distinct
statement (its own binding), so the pool's deduplication never skips one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from zkrisk.engine.natsio.server import start_nats
from zkrisk.engine.paths import registry_path, repo_root
from zkrisk.prover.artifacts import CircuitArtifacts, build
from zkrisk.prover.backends import NativeBackend, PoolBackend
from zkrisk.prover.registry import load_registry
from zkrisk.prover.signals import SignalValue

from .bench_prover import health_signals
from .common import Metric, metric

CIRCUIT = "health16"
JOBS = 20
ROUNDS = 2
PINNED = ["taskset", "-c", "0"]
ONE_THREAD = {"RAYON_NUM_THREADS": "1"}


def _artifacts() -> CircuitArtifacts:
    spec = load_registry(registry_path())[CIRCUIT]
    return build(
        spec, repo_root(), cpp=True, log=lambda line: print(f"    {line}", file=sys.stderr)
    )


def _jobs(count: int, offset: int) -> list[dict[str, SignalValue]]:
    base = health_signals(16)
    return [{**base, "binding": offset + i} for i in range(count)]


def local(count: int) -> dict[str, Any]:
    """Sequential proofs with the native backend in this (pinned) process; one warm-up first."""
    artifacts = _artifacts()
    jobs = _jobs(count, 1_000)
    with NativeBackend() as backend:
        backend.prove(artifacts, _jobs(1, 0)[0])
        started = time.perf_counter()
        for signals in jobs:
            backend.prove(artifacts, signals)
        seconds = time.perf_counter() - started
    return {"proofs_per_s": count / seconds, "seconds": seconds}


def _local_pinned(count: int) -> dict[str, Any]:
    argv = [*PINNED, sys.executable, "-m", "benchmarks.bench_prover_pool", "local", str(count)]
    done = subprocess.run(argv, cwd=repo_root(), capture_output=True, text=True, check=False,
                          timeout=3600, env={**os.environ, **ONE_THREAD})  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"local baseline failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _pool(count: int) -> dict[str, Any]:
    artifacts = _artifacts()
    with tempfile.TemporaryDirectory(prefix="bench-pool-") as tmp:
        node = start_nats(Path(tmp) / "nats")
        log = (Path(tmp) / "worker.log").open("wb")
        argv = [*PINNED, sys.executable, "-m", "zkrisk.engine.cli", "prover", "worker",
                "--nats", node.url, "--circuits", CIRCUIT, "--backend", "native",
                "--worker-id", "bench-0"]  # fmt: skip
        worker = subprocess.Popen(argv, cwd=repo_root(), stderr=log, stdout=subprocess.DEVNULL,
                                  env={**os.environ, **ONE_THREAD})  # fmt: skip
        affinity = os.sched_getaffinity(0)
        try:
            if len(affinity) > 1:
                os.sched_setaffinity(0, {max(affinity)})  # the client off the worker's core
            with PoolBackend(node.url, timeout_s=600) as pool:
                pool.prove(artifacts, _jobs(1, 0)[0])  # warm-up: the worker's key load
                started = time.perf_counter()
                pool.prove_many([(artifacts, s) for s in _jobs(count, 1_000)])
                seconds = time.perf_counter() - started
                results = pool.last_results
        finally:
            os.sched_setaffinity(0, affinity)
            worker.terminate()
            worker.wait(timeout=60)
            log.close()
            node.stop()
    prove_ms = sorted(r.timings.prove_ms for r in results if r.timings)
    witness_ms = sorted(r.timings.witness_ms or 0 for r in results if r.timings)
    return {"proofs_per_s": count / seconds, "seconds": seconds,
            "prove_ms_median": prove_ms[len(prove_ms) // 2],
            "witness_ms_median": witness_ms[len(witness_ms) // 2],
            "workers": sorted({r.worker for r in results})}  # fmt: skip


def run() -> dict[str, Metric]:
    print(f"  building {CIRCUIT} (cached, with its C++ witness generator) …", flush=True)
    _artifacts()
    # Alternating rounds, best of each: the machine is shared, and a load spike during one
    # measurement would otherwise decide the ratio.
    baselines, pools = [], []
    for round_ in range(1, ROUNDS + 1):
        print(f"  round {round_}: local, {JOBS} sequential proofs on core 0 …", flush=True)
        baselines.append(_local_pinned(JOBS))
        print(f"  round {round_}: pool, {JOBS} jobs through NATS, one worker on core 0 …",
              flush=True)  # fmt: skip
        pools.append(_pool(JOBS))
    baseline = max(baselines, key=lambda m: m["proofs_per_s"])
    pooled = max(pools, key=lambda m: m["proofs_per_s"])
    ratio = pooled["proofs_per_s"] / baseline["proofs_per_s"]
    one_core = "one core (taskset -c 0, RAYON_NUM_THREADS=1), native backend, C++ witness"
    return {
        "proofs_per_s_per_worker": metric(
            pooled["proofs_per_s"], "proofs/s", JOBS * ROUNDS,
            f"Health(16), one `zkrisk prover worker` on {one_core}; {JOBS} distinct jobs "
            f"submitted at once through NATS JetStream, each verified by the client, best of "
            f"{ROUNDS} rounds; worker "
            f"medians: witness {pooled['witness_ms_median']:.0f} ms, prove "
            f"{pooled['prove_ms_median']:.0f} ms; baseline proofs_per_s_local_sequential",
        ),
        "proofs_per_s_local_sequential": metric(
            baseline["proofs_per_s"], "proofs/s", JOBS * ROUNDS,
            f"Health(16), the same backend in-process on {one_core}, {JOBS} proofs one after "
            f"another, best of {ROUNDS} rounds alternating with the pool's (its baseline)",
        ),
        "pool_vs_local_ratio": metric(
            ratio, "x", JOBS * ROUNDS,
            "proofs_per_s_per_worker / proofs_per_s_local_sequential: the pool's overhead per "
            "worker (queue, wire, result store, client-side verification off the worker's core)",
        ),
    }  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:2] == ["local"]:
        print(json.dumps(local(int(sys.argv[2]))))
    else:
        for key, value in run().items():
            print(key, value)
