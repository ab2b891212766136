"""The issue's end-to-end: the keeper proves through the pool, one worker is killed mid-job,
another finishes the job, and exactly one liquidation is mined (real Anvil, real proofs)."""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from zkrisk.engine.chain import dev_scenario as scenario
from zkrisk.engine.chain.vault_deploy import VaultStack
from zkrisk.engine.keeper.vault_access import VaultHandle
from zkrisk.engine.natsio.server import NatsNode
from zkrisk.prover.backends import PoolBackend

from ..keeper.conftest import Desks, backend, desks, keeper_handle, make_keeper, set_prices, stack
from ..keeper.test_keeper import liquidated_events
from .conftest import StartedNotices, running_worker, worker_process

__all__ = ["backend", "desks", "keeper_handle", "stack"]  # fixtures used by name


def test_keeper_on_the_pool_with_a_worker_killed_mid_proof_mines_exactly_one_liquidation(
    stack: VaultStack, desks: Desks, keeper_handle: VaultHandle, nats_node: NatsNode,
    pool: PoolBackend, tmp_path: Path,
) -> None:  # fmt: skip
    risky = desks.open()
    keeper, logged = make_keeper(keeper_handle, [risky], pool, tmp_path / "k.sqlite")
    assert keeper.tick() == []  # calm prices: healthy, nothing to prove
    notices = StartedNotices(nats_node.url)
    doomed = worker_process(nats_node.url, "doomed", tmp_path / "doomed.log", "--hold", "120")
    executor = ThreadPoolExecutor(max_workers=1)
    try:
        set_prices(stack, scenario.CRASH)
        ticking = executor.submit(keeper.tick)
        notices.wait_for("doomed")
        with running_worker(nats_node.url, {"health4": desks.stack_artifacts}, "rescuer"):
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(timeout=10)
            ticked = ticking.result(timeout=120)
            assert keeper.tick() == []  # the next round sends nothing again
    finally:
        executor.shutdown(wait=False)
        notices.close()
        if doomed.poll() is None:
            doomed.kill()
    assert len(ticked) == 1, [e.get("error") for e in logged.events() if e["level"] != "info"]
    (done,) = ticked
    assert done.path == "PROOF"
    assert len(liquidated_events(stack, done.account)) == 1
    assert [(r.worker, r.delivery) for r in pool.last_results] == [("rescuer", 2)]
