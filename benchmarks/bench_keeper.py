"""Keeper: oracle update mined → liquidation mined, on Anvil, with the fastest prover backend.

Each run opens a fresh desk at calm prices, moves WETH up (still healthy: the keeper snapshots
and re-evaluates), waits until the keeper has evaluated that snapshot, then moves WBTC down — the
update that makes the book unhealthy. The clock starts when that setAnswer transaction's receipt
is back (mined) and stops when the keeper sees its liquidate transaction mined: snapshot, engine
re-evaluation, Groth16 proof of HF < 1 and the liquidation, all inside.
"""

from __future__ import annotations

import io
import statistics
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

from zkrisk.engine.chain import dev_scenario as scenario
from zkrisk.engine.chain.anvil import DEV_PRIVATE_KEYS, anvil
from zkrisk.engine.chain.client import ChainClient
from zkrisk.engine.chain.vault_deploy import VaultStack, deploy_vault_stack
from zkrisk.engine.keeper.devnet import open_desk
from zkrisk.engine.keeper.factory import build_keeper
from zkrisk.engine.keeper.keeper import Keeper, KeeperSettings, Liquidation
from zkrisk.engine.keeper.logs import JsonLog
from zkrisk.engine.keeper.vault_access import handle_from_stack
from zkrisk.engine.paths import registry_path, repo_root
from zkrisk.prover.artifacts import build
from zkrisk.prover.backends import create_backend
from zkrisk.prover.registry import load_registry

from .common import Metric, metric

RUNS = 7
POLL = 0.02


def _wait_evaluated(keeper: Keeper, stack: VaultStack, timeout: float = 10) -> None:
    """Until the keeper has seen the feeds' current rounds and evaluated the latest snapshot."""
    deadline = time.monotonic() + timeout
    while True:
        rounds = tuple(int(f.functions.latestRoundData().call()[0]) for f in keeper.feeds)
        if keeper.seen == (rounds, stack.client().latest_snapshot_id()):
            return
        if time.monotonic() > deadline:
            raise TimeoutError("the keeper did not catch up with the oracle")
        time.sleep(0.005)


def run() -> dict[str, Metric]:
    artifacts = build(load_registry(registry_path())["health4"], repo_root(), log=lambda _l: None)
    samples: list[float] = []
    with anvil() as node, create_backend("best") as backend, tempfile.TemporaryDirectory() as tmp:
        admin = ChainClient.connect(node.url, DEV_PRIVATE_KEYS[0])
        stack = deploy_vault_stack(admin, artifacts, listed=scenario.listed_assets(),
                                   policy=scenario.POLICY)  # fmt: skip
        handle = handle_from_stack(stack, admin.with_key(DEV_PRIVATE_KEYS[2]))
        keeper = build_keeper(handle, [], scenario.ASSETS, backend, Path(tmp) / "k.sqlite",
                              settings=KeeperSettings(poll_interval=POLL),
                              log=JsonLog(io.StringIO()))  # fmt: skip
        mined: list[Liquidation] = []
        seen = threading.Event()

        def record(liquidation: Liquidation) -> None:
            mined.append(liquidation)
            seen.set()

        keeper.on_liquidation = record
        stop = threading.Event()
        runner = threading.Thread(target=keeper.run, args=(stop,), daemon=True)
        runner.start()
        try:
            for _ in range(RUNS + 1):  # the first run warms the prover up
                for symbol, price in scenario.CALM.items():
                    stack.set_price(symbol, price)
                _wait_evaluated(keeper, stack)  # the keeper snapshots the calm prices first
                desk = open_desk(stack, artifacts, backend, portfolio=scenario.book(admin.account.address),
                                 deposit=scenario.DEPOSIT)  # fmt: skip
                keeper.add_book(desk.book)
                stack.set_price("WETH", scenario.CRASH["WETH"])
                _wait_evaluated(keeper, stack)
                seen.clear()
                stack.set_price("WBTC", Decimal(scenario.CRASH["WBTC"]))
                started = time.perf_counter()
                if not seen.wait(30):
                    raise TimeoutError("no liquidation within 30 s")
                samples.append((mined[-1].mined_at - started) * 1000)
        finally:
            stop.set()
            runner.join(10)
            keeper.store.close()
    measured = samples[1:]
    note = (f"oracle setAnswer mined → keeper snapshot + HF<1 proof ({backend.name}) + liquidate "
            f"mined, Anvil automine, poll {POLL * 1000:.0f} ms; median (max {max(measured):.0f} ms)")  # fmt: skip
    return {
        "keeper_liquidation_latency_ms": metric(
            statistics.median(measured), "ms", len(measured), note
        )
    }
