"""Prover backends side by side: Health(16) witness + proof, warm, median and peak memory; proof
time against N (Health 8/16/32/64) with the best backend; RiskAttestation(16, 250) when present.

Each backend is measured in a fresh Python process (`python -m benchmarks.bench_prover measure
<variant> <circuit> <runs>`) so its peak memory is its own: the Node worker's for the worker,
the Python process's (groth16py's key included) for native, the largest snarkjs process for
the CLI.
"""

from __future__ import annotations

import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from zkrisk.engine.demo import ASSETS, demo_book, demo_snapshot
from zkrisk.engine.paths import registry_path, repo_root
from zkrisk.engine.statements.health import HealthMode, health_statement
from zkrisk.prover.artifacts import CircuitArtifacts, build
from zkrisk.prover.backends import (
    MulticoreBackend,
    NativeBackend,
    ProvingBackend,
    SnarkjsCliBackend,
    WorkerBackend,
    best_backend_name,
)
from zkrisk.prover.registry import load_registry
from zkrisk.prover.signals import SignalValue
from zkrisk.prover.warm_worker import WarmWorker, rss_bytes

from .common import Metric, metric

MB = 1 << 20
#: variant -> (what it is, how to make it, runs)
VARIANTS: dict[str, tuple[str, Callable[[], ProvingBackend], int]] = {
    "snarkjs_cli": (
        "snarkjs CLI, one node process per witness and per proof",
        SnarkjsCliBackend,
        5,
    ),
    "worker": (
        "warm snarkjs worker, ffjavascript thread pool (the default)",
        lambda: WorkerBackend(threads="multi"),
        10,
    ),
    "worker_single": (
        "warm snarkjs worker, single-thread curve",
        lambda: WorkerBackend(threads="single"),
        10,
    ),
    "multicore": (
        "zkrisk's multicore prover (Rust, every core) + C++ witness generator when built",
        lambda: MulticoreBackend(witness="auto"),
        15,
    ),
    "native": (
        "groth16py (arkworks) + C++ witness generator when built, else WASM in the worker",
        lambda: NativeBackend(witness="auto"),
        15,
    ),
    "native_wasm": (
        "groth16py (arkworks) + WASM witness in the warm worker",
        lambda: NativeBackend(witness="wasm"),
        15,
    ),
}
BEST = {
    "multicore": "multicore",
    "native": "native",
    "worker": "worker",
    "snarkjs-cli": "snarkjs_cli",
}
SCALING = (8, 16, 32, 64)
SCALING_RUNS = 5
ATTESTATION = "attest16x250"


NOW = 1_700_000_000


def health_signals(slots: int) -> dict[str, SignalValue]:
    """The demo book on `slots` asset slots, as the engine lays it out."""
    book, snapshot = demo_book("0x00000000000000000000000000000000DE5C0001"), demo_snapshot(NOW)
    statement = health_statement(
        book, snapshot, ASSETS, slots=slots, salt=0x5A17, threshold_bps=10_500,
        mode=HealthMode.AT_LEAST, binding=1,
    )  # fmt: skip
    return dict(statement.signals())


def attestation_signals(slots: int, scenarios: int) -> dict[str, Any]:
    """A RiskAttestation statement that holds, built by the engine (its API is young: any
    mismatch makes the caller skip the benchmark with a note)."""
    from zkrisk.engine.statements.attestation import AttestationStatement
    from zkrisk.engine.statements.book_slots import BookSlots
    from zkrisk.engine.statements.limits import LimitParams, LimitsStatement

    coin, pad = 10**8, (0,) * (slots - 4)
    book = BookSlots(
        account=0xDE5C0001, salt=0x5A17,
        long=(1_000 * coin, 2 * coin, 0, 0, *pad), short=(0, 0, coin // 10, 0, *pad),
    )  # fmt: skip
    wide = 10**9 * coin * coin
    limits = LimitsStatement(
        book=book, margin=500 * coin, price=(coin, 3_000 * coin, 60_000 * coin, coin, *pad),
        params=LimitParams((wide,) * slots, concentration_bps=10_000, leverage_bps=100_000),
    )  # fmt: skip
    rng = random.Random(1)
    returns = tuple(
        (0, *(rng.randint(-100_000, 100_000) for _ in range(slots - 1))) for _ in range(scenarios)
    )
    probe = AttestationStatement(limits, 9_900, 0, 0, returns)
    m = probe.tail_count()
    tail = sorted(probe.losses(), reverse=True)[: m + 1]
    statement = AttestationStatement(
        limits, 9_900, max(0, probe.var()), max(0, -(-sum(tail) // (m + 1))), returns
    )
    if not statement.holds():
        raise ValueError(f"the benchmark's attestation does not hold: {statement.breaches()}")
    return dict(statement.signals())


def _artifacts(circuit: str, *, cpp: bool = False) -> CircuitArtifacts:
    spec = load_registry(registry_path())[circuit]
    # stderr: a measuring subprocess keeps stdout for its one JSON line
    return build(spec, repo_root(), cpp=cpp, log=lambda line: print(f"    {line}", file=sys.stderr))


def _signals(circuit: str) -> dict[str, Any]:
    if circuit.startswith("health"):
        return health_signals(int(circuit.removeprefix("health")))
    slots, scenarios = (int(x) for x in circuit.removeprefix("attest").split("x"))
    return attestation_signals(slots, scenarios)


def measure(variant: str, circuit: str, runs: int) -> dict[str, Any]:
    """Warm median of witness + proof and the prover's peak RSS (run in a fresh process)."""
    artifacts = _artifacts(circuit)
    signals = _signals(circuit)
    _, make, _ = VARIANTS[variant]
    python_base = rss_bytes(os.getpid())[0]
    with make() as backend:
        backend.prove(artifacts, signals)  # warm-up: worker start, zkey / key load
        samples = []
        for _ in range(runs):
            t0 = time.perf_counter()
            backend.prove(artifacts, signals)
            samples.append((time.perf_counter() - t0) * 1000)
        workers: list[WarmWorker] = [
            w
            for w in (getattr(backend, "worker", None), getattr(backend, "_worker", None))
            if isinstance(w, WarmWorker)
        ]
        node_peak = max((rss_bytes(w.pid)[1] for w in workers if w.pid), default=0)
    python_peak = rss_bytes(os.getpid())[1]
    # after the with: the multicore prover's server has exited and been waited for
    children_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    peak = {
        "snarkjs_cli": children_peak,
        "worker": node_peak,
        "worker_single": node_peak,
        "multicore": python_peak + children_peak,
        "native": python_peak,
        "native_wasm": python_peak + node_peak,
    }[variant]
    cpp = variant in ("native", "multicore") and artifacts.compiled.witness_binary is not None
    return {
        "median_ms": statistics.median(samples),
        "peak_rss": peak,
        "python_base_rss": python_base,
        "witness": "C++" if cpp else "WASM",
        "runs": runs,
    }


def _measure_in_subprocess(variant: str, circuit: str, runs: int) -> dict[str, Any]:
    argv = [sys.executable, "-m", "benchmarks.bench_prover", "measure", variant, circuit, str(runs)]
    done = subprocess.run(
        argv, cwd=repo_root(), capture_output=True, text=True, check=False, timeout=3600
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[2:])} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run() -> dict[str, Metric]:
    print("  building Health(8/16/32/64) (cached; Health(16) with its C++ witness generator) …")
    constraints = {n: _artifacts(f"health{n}", cpp=n == 16).meta["constraints"] for n in SCALING}
    out: dict[str, Metric] = {}
    measured: dict[str, dict[str, Any]] = {}
    for variant, (label, _, runs) in VARIANTS.items():
        print(f"  health16 × {variant} …", flush=True)
        measured[variant] = m = _measure_in_subprocess(variant, "health16", runs)
        rss_mb = m["peak_rss"] / MB
        what = f"Health(16) witness + prove, warm, median; {label}; {m['witness']} witness"
        out[f"health16_prove_ms_{variant}"] = metric(
            m["median_ms"], "ms", runs, f"{what}; peak RSS {rss_mb:,.0f} MB"
        )
        whose = {
            "snarkjs_cli": "largest snarkjs process",
            "worker": "Node worker",
            "worker_single": "Node worker",
            "multicore": "Python process + the prover server",
            "native": f"Python process, {m['python_base_rss'] / MB:,.0f} MB of it before proving",
            "native_wasm": "Python process + Node worker",
        }[variant]
        out[f"health16_peak_rss_mb_{variant}"] = metric(
            rss_mb, "MB", runs, f"peak resident memory ({whose}); {label}"
        )
    best = BEST[best_backend_name()]
    cli_ms, best_ms = measured["snarkjs_cli"]["median_ms"], measured[best]["median_ms"]
    out["health16_prove_ms_best"] = metric(
        best_ms, "ms", VARIANTS[best][2],
        f"Health(16) ({constraints[16]:,} constraints) witness + prove, warm, median; best "
        f"backend = {best}, {measured[best]['witness']} witness",
    )  # fmt: skip
    out["health16_prove_ms_snarkjs_cli"] = metric(
        cli_ms, "ms", VARIANTS["snarkjs_cli"][2],
        "Health(16) witness + prove through the snarkjs CLI (baseline), same run, median",
    )  # fmt: skip
    out["health16_speedup_vs_snarkjs_cli"] = metric(
        cli_ms / best_ms, "×", 1, "health16_prove_ms_snarkjs_cli / health16_prove_ms_best"
    )
    for n in SCALING:
        if n == 16:
            continue
        print(f"  health{n} × {best} …", flush=True)
        m = _measure_in_subprocess(best, f"health{n}", SCALING_RUNS)
        out[f"health{n}_prove_ms_best"] = metric(
            m["median_ms"], "ms", SCALING_RUNS,
            f"Health({n}) ({constraints[n]:,} constraints) witness + prove, warm, median; "
            f"{best}, {m['witness']} witness; peak RSS {m['peak_rss'] / MB:,.0f} MB",
        )  # fmt: skip
    out.update(_attestation(best))
    return out


def _attestation(best: str) -> dict[str, Metric]:
    if ATTESTATION not in load_registry(registry_path()):
        print(f"  note: {ATTESTATION} is not registered yet: skipping its benchmark")
        return {}
    try:
        _signals(ATTESTATION)
    except (ImportError, AttributeError, TypeError, ValueError) as exc:
        print(f"  note: no {ATTESTATION} signals from the engine yet ({exc}): skipping")
        return {}
    print(f"  {ATTESTATION} × {best} (first run builds and sets it up: minutes) …", flush=True)
    artifacts = _artifacts(ATTESTATION)
    m = _measure_in_subprocess(best, ATTESTATION, 3)
    note = (
        f"RiskAttestation(16, 250) ({artifacts.meta['constraints']:,} constraints) witness + "
        f"prove, warm, median; {best}, {m['witness']} witness; "
        f"peak RSS {m['peak_rss'] / MB:,.0f} MB"
    )
    return {"attest16x250_prove_ms_best": metric(m["median_ms"], "ms", 3, note)}


def main(argv: list[str]) -> int:
    if len(argv) == 4 and argv[0] == "measure":
        print(json.dumps(measure(argv[1], argv[2], int(argv[3]))))
        return 0
    print("usage: python -m benchmarks.bench_prover measure <variant> <circuit> <runs>")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
