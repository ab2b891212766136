"""Run every benchmark; write benchmarks/results.json and the table in README.md.

python -m benchmarks.run            # all
python -m benchmarks.run skeleton   # only modules whose name contains 'skeleton'
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

from .common import Metric

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results.json"
README = ROOT / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
MODULES = (
    "bench_circuits",
    "bench_engine",
    "bench_skeleton",
    "bench_api",
    "bench_prover",
    "bench_prover_pool",
    "bench_gas",
    "bench_keeper",
    "bench_storm",
    "bench_journal",
    "bench_jetstream",
    "bench_pipeline",
    "bench_uniswap",
    "bench_audit",
    "bench_fills",
    "bench_simex",
    "bench_signer",
    "bench_portfolio_margin",
    "bench_greeks",
)


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def render_table(results: dict[str, Metric], stamp: str) -> str:
    lines = [f"Measured {stamp} on {machine()} (`make bench`).", "",
             "| metric | value | unit | runs | note |", "|---|---:|---|---:|---|"]  # fmt: skip
    for name, m in sorted(results.items()):
        lines.append(f"| `{name}` | {m['value']:,} | {m['unit']} | {m['runs']} | {m['note']} |")
    return "\n".join(lines)


def update_readme(table: str) -> None:
    text = README.read_text()
    if START in text and END in text:
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        README.write_text(f"{head}{START}\n{table}\n{END}{tail}")


def main(argv: list[str]) -> int:
    wanted = [m for m in MODULES if not argv or any(a in m for a in argv)]
    results: dict[str, Metric] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for name in wanted:
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ModuleNotFoundError as exc:
            print(f"skipping {name}: {exc}")
            continue
        print(f"running {name} …", flush=True)
        new = module.run()
        for key, m in new.items():
            print(f"  {key:34} {m['value']:>14,} {m['unit']:8} ({m['note']})")
        results.update(new)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    update_readme(render_table(results, stamp))
    print(f"wrote {RESULTS.relative_to(ROOT)} and the README table")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
