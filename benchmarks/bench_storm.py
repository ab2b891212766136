"""Liquidation storm: 200 attested accounts, a price crash, every account liquidated.

Each storm (engine/storm) starts Anvil, deploys the dev vault, opens 200 accounts (not timed),
crashes the oracle and times the keeper from the crash's feed rounds mined to the last
liquidation mined: snapshot, 200 re-evaluations, 200 Groth16 proofs of HF < 0.95 and
liquidateMany transactions of 10. In the same run: the baseline, sequential local proving in
this process pinned to one core (W = 0), then the prover pool with 1 and 2 `zkrisk
prover-worker` processes, each pinned to its own core (taskset) with one prover thread, so the
figure shows how the pool scales with machines (2 cores here: W = 2 uses both).

The keeper hands each statement to the pool as soon as it is built (high priority, the pool's
rule for liquidations) and sends each liquidateMany as soon as its 10 proofs have arrived, so
the workers prove while it reads the next accounts; every process runs at the default nice
level. With W = 2 the keeper, Anvil and NATS share the two cores with the workers, so their CPU
per account (chain views, statements, gas, verifying each returned proof) is what keeps the
speed-up below 2.
"""

from __future__ import annotations

import os

from zkrisk.engine.storm.harness import StormConfig, StormResult, run_storm

from .common import Metric, metric

ACCOUNTS = 200
BATCH = 10
SPEEDUP_NOTE = "storm_200_accounts_s_w1 / storm_200_accounts_s_w2 in the same run; target ≥ 1.7"


def _storm(workers: int) -> StormResult:
    result = run_storm(StormConfig(accounts=ACCOUNTS, workers=workers, batch_size=BATCH),
                       log=lambda _line: None)  # fmt: skip
    if result.liquidated != ACCOUNTS or result.chain_liquidations != ACCOUNTS:
        raise RuntimeError(f"storm with {workers} workers: {result}")
    return result


def _note(r: StormResult, what: str) -> str:
    load = os.getloadavg()[0]
    return (f"{what}; {r.accounts} accounts, {r.proofs} proofs (health4), {r.transactions} "
            f"transactions (liquidateMany of {BATCH}), {r.proofs_per_s:.2f} proofs/s; crash's "
            f"feed rounds mined → last liquidation mined, Anvil automine; 1-min load {load:.1f} "
            f"on {os.cpu_count()} cores")  # fmt: skip


def run() -> dict[str, Metric]:
    local = _storm(0)
    w1 = _storm(1)
    w2 = _storm(2)
    return {
        "storm_200_accounts_s_local_sequential": metric(
            local.seconds, "s", 1, _note(local, "baseline: sequential local proving, one core")
        ),
        "storm_200_accounts_s_w1": metric(
            w1.seconds,
            "s",
            1,
            _note(w1, "prover pool, 1 worker pinned to one core; target ≤ 600 s"),
        ),
        "storm_200_accounts_s_w2": metric(
            w2.seconds, "s", 1, _note(w2, "prover pool, 2 workers, one core each")
        ),
        "storm_speedup_w2_vs_w1": metric(w1.seconds / w2.seconds, "x", 1, SPEEDUP_NOTE),
    }
