"""/livez, /readyz and /metrics of a keeper, over real HTTP, following a real loop on Anvil."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zkrisk.engine.chain.vault_deploy import VaultStack
from zkrisk.engine.keeper.health import Check, LoopState, liveness, readiness, serve_health
from zkrisk.prover.backends import ProvingBackend

from .conftest import Desks, handle_via, make_keeper
from .rpc_proxy import RpcProxy


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as refused:
        with refused:
            return refused.code, refused.read().decode()


def get(url: str) -> tuple[int, dict[str, Any]]:
    status, text = fetch(url)
    return status, json.loads(text)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)


def test_health_endpoints_follow_the_keeper_loop_through_an_rpc_outage(
    stack: VaultStack, desks: Desks, backend: ProvingBackend, tmp_path: Path
) -> None:
    book = desks.open()
    proxy = RpcProxy(stack.chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    proxy.up()
    handle = handle_via(stack, proxy.url, tmp_path / "deployments")
    keeper, _ = make_keeper(handle, [book], backend, tmp_path / "k.sqlite", poll_interval=0.05,
                            backoff_initial=0.05, backoff_max=0.2)  # fmt: skip
    server = serve_health(lambda: keeper.health, keeper.artifacts, keeper.metrics, 0,
                          live_within=1.0)  # fmt: skip
    base = f"http://127.0.0.1:{server.server_port}"
    stop = threading.Event()
    runner = threading.Thread(target=keeper.run, args=(stop,))
    try:
        assert get(f"{base}/livez") == (503, {"live": False, "detail": "no tick finished yet"})
        assert get(f"{base}/readyz")[0] == 503
        runner.start()
        wait_for(lambda: fetch(f"{base}/readyz")[0] == 200, "ready")
        _, ready = get(f"{base}/readyz")
        assert ready["ready"] is True
        assert {name: c["ok"] for name, c in ready["checks"].items()} == {
            "rpc": True, "artifacts": True, "nonce": True}  # fmt: skip
        assert "chain nonce" in ready["checks"]["nonce"]["detail"]
        assert get(f"{base}/livez")[0] == 200
        status, metrics = fetch(f"{base}/metrics")
        assert status == 200 and "zkrisk_keeper_ticks_total" in metrics
        assert fetch(f"{base}/nope")[0] == 404

        proxy.down()  # the node goes away: still live (the loop ticks and fails), not ready
        wait_for(lambda: fetch(f"{base}/readyz")[0] == 503, "not ready in the outage")
        _, outage = get(f"{base}/readyz")
        assert outage["checks"]["rpc"]["ok"] is False
        assert "Connection" in outage["checks"]["rpc"]["detail"]
        assert get(f"{base}/livez")[0] == 200

        proxy.up()
        wait_for(lambda: fetch(f"{base}/readyz")[0] == 200, "ready again")
    finally:
        stop.set()
        runner.join(10)
        proxy.down()
    try:
        time.sleep(1.2)  # the loop has stopped: no tick within live_within
        status, body = get(f"{base}/livez")
        assert status == 503 and "more than 1s" in body["detail"]
    finally:
        server.shutdown()
        server.server_close()
        keeper.store.close()


ARTIFACTS_OK = Check(True, "health4")


def test_readiness_fails_on_each_check_and_says_why() -> None:
    fine = LoopState(last_tick_at=1.0, ticks=1, rpc_error=None, nonce_error=None, chain_nonce=4)
    assert all(c.ok for c in readiness(fine, ARTIFACTS_OK).values())
    assert readiness(LoopState(), ARTIFACTS_OK)["rpc"] == Check(False, "no tick yet")
    out_of_sync = LoopState(rpc_error=None, nonce_error="Web3RPCError: nonce too low")
    assert readiness(out_of_sync, ARTIFACTS_OK)["nonce"] == Check(
        False, "Web3RPCError: nonce too low"
    )
    missing = Check(False, "missing circuit.zkey")
    assert readiness(fine, missing)["artifacts"] is missing


def test_liveness_is_lost_when_no_tick_finished_within_the_window() -> None:
    state = LoopState(last_tick_at=100.0)
    assert liveness(state, now=100.5, live_within=1.0).ok
    assert not liveness(state, now=101.5, live_within=1.0).ok
    assert not liveness(LoopState(), now=0.0, live_within=1.0).ok
