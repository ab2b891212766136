"""PortfolioMargin(16, 32): constraints against the budget, and witness + proof with the best
backend (target ≤ 500 ms), for a 16-instrument book on SPAN arrays of 32 scenarios (steps = 7:
15 price moves × vol up/down plus the two extreme moves).

The proof is measured in a fresh Python process, as bench_prover does, so a warm backend's
memory and threads are its own (`python -m benchmarks.bench_portfolio_margin measure <runs>`).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from typing import Any

from zkrisk.engine.paths import registry_path, repo_root
from zkrisk.engine.risk.margin.scenarios import (
    linear_value,
    option_value,
    risk_array,
    span_scenarios,
)
from zkrisk.engine.statements.book_slots import BookSlots
from zkrisk.engine.statements.portfolio_margin import PortfolioMarginStatement
from zkrisk.prover.artifacts import CircuitArtifacts, build
from zkrisk.prover.backends import best_backend_name
from zkrisk.prover.registry import load_registry

from .bench_prover import BEST, VARIANTS
from .common import Metric, metric

CIRCUIT = "margin16x32"
RUNS = 10
COIN = USD = 10**8
TARGET_MS = 500


def bench_statement() -> PortfolioMarginStatement:
    """Four underlyings × (perp, 10%-OTM call, 10%-OTM put, ATM call), long perps against short
    calls and long puts: a statement that holds, built by the engine."""
    grid = span_scenarios(steps=7)
    assert len(grid) == 32
    arrays, minimums, longs, shorts = [], [], [], []
    for spot, vol in ((90_000.0, 0.55), (3_000.0, 0.65), (150.0, 0.8), (15.0, 0.9)):
        scan = spot / 10
        for value, som, qty in (
            (linear_value, 0, 2),
            (option_value(spot * 1.1, 30 / 365, 0.04, "call"), spot / 100, -2),
            (option_value(spot * 0.9, 30 / 365, 0.04, "put"), spot / 100, 1),
            (option_value(spot, 60 / 365, 0.04, "call"), spot / 100, -1),
        ):
            arrays.append(risk_array(value, spot, vol, scan, 0.05, grid))
            minimums.append(round(som * USD))
            longs.append(max(qty, 0) * COIN)
            shorts.append(max(-qty, 0) * COIN)
    book = BookSlots(account=0xDE5C0001, salt=0x5A17, long=tuple(longs), short=tuple(shorts))
    probe = PortfolioMarginStatement(book, tuple(arrays), tuple(minimums), 0, 1)
    statement = PortfolioMarginStatement(
        book, tuple(arrays), tuple(minimums), probe.requirement() + 1, 1
    )
    if not statement.holds() or probe.requirement() == 0:
        raise ValueError("the benchmark's portfolio-margin statement must hold with a requirement")
    return statement


def _artifacts() -> CircuitArtifacts:
    spec = load_registry(registry_path())[CIRCUIT]
    return build(
        spec, repo_root(), cpp=True, log=lambda line: print(f"    {line}", file=sys.stderr)
    )


def measure(runs: int) -> dict[str, Any]:
    """Warm median of witness + proof with the best backend (run in a fresh process)."""
    artifacts = _artifacts()
    signals = dict(bench_statement().signals())
    best = BEST[best_backend_name()]
    _, make, _ = VARIANTS[best]
    with make() as backend:
        backend.prove(artifacts, signals)  # warm-up: worker start, zkey / key load
        samples = []
        for _ in range(runs):
            t0 = time.perf_counter()
            backend.prove(artifacts, signals)
            samples.append((time.perf_counter() - t0) * 1000)
    cpp = best == "native" and artifacts.compiled.witness_binary is not None
    return {"median_ms": statistics.median(samples), "backend": best,
            "witness": "C++" if cpp else "WASM", "constraints": artifacts.meta["constraints"]}  # fmt: skip


def run() -> dict[str, Metric]:
    spec = load_registry(registry_path())[CIRCUIT]
    print(f"  building {CIRCUIT} (cached; first run: compile, setup, C++ witness) …", flush=True)
    _artifacts()
    argv = [sys.executable, "-m", "benchmarks.bench_portfolio_margin", "measure", str(RUNS)]
    done = subprocess.run(argv, cwd=repo_root(), capture_output=True, text=True, check=False,
                          timeout=3600)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[2:])} failed:\n{done.stderr[-3000:]}")
    m = json.loads(done.stdout.strip().splitlines()[-1])
    n = m["constraints"]
    return {
        "portfolio_margin_16x32_prove_ms_best": metric(
            m["median_ms"], "ms", RUNS,
            f"PortfolioMargin(16, 32) ({n:,} constraints, risk arrays bound by Poseidon) witness "
            f"+ prove, warm, median; best backend = {m['backend']}, {m['witness']} witness; "
            f"target <= {TARGET_MS} ms",
        ),
        "portfolio_margin_16x32_constraints": metric(
            n, "constraints", 1,
            f"budget {spec.budget:,} (2^15 − 4 public signals − 1: a 2^15 ptau); "
            f"{spec.template}{list(spec.params)}, {len(spec.public)} public inputs",
        ),
    }  # fmt: skip


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "measure":
        print(json.dumps(measure(int(argv[1]))))
        return 0
    print("usage: python -m benchmarks.bench_portfolio_margin measure <runs>")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
