"""The keeper against a real Anvil node: prove-and-liquidate, the stale-proof path, metrics, logs."""

from __future__ import annotations

import threading
import urllib.request
from decimal import Decimal
from pathlib import Path

from zkrisk.engine.chain import dev_scenario as scenario
from zkrisk.engine.chain.vault_deploy import VaultStack
from zkrisk.engine.keeper.metrics import serve_metrics
from zkrisk.engine.keeper.vault_access import VaultHandle
from zkrisk.engine.models import Position
from zkrisk.prover.backends import ProvingBackend

from .conftest import Desks, make_keeper, set_prices


def liquidated_events(stack: VaultStack, account: str) -> list[object]:
    return list(
        stack.vault.events.Liquidated().get_logs(
            from_block=0, argument_filters={"account": account}
        )
    )


def test_keeper_proves_and_liquidates_an_unhealthy_book_and_leaves_a_healthy_one_alone(
    stack: VaultStack, desks: Desks, keeper_handle: VaultHandle, backend: ProvingBackend,
    tmp_path: Path,
) -> None:  # fmt: skip
    risky = desks.open()
    safe = desks.open(positions=(Position(symbol="WBTC", quantity=Decimal("1")),))
    keeper, logged = make_keeper(keeper_handle, [risky, safe], backend, tmp_path / "k.sqlite")

    assert keeper.tick() == []  # calm prices: both healthy
    set_prices(stack, scenario.CRASH)
    (done,) = keeper.tick()

    assert done.account.lower() == risky.portfolio.account and done.path == "PROOF"
    assert len(liquidated_events(stack, done.account)) == 1
    assert liquidated_events(stack, keeper_handle.client.vault.w3.to_checksum_address(
        safe.portfolio.account)) == []  # fmt: skip
    assert keeper_handle.client.escrow(done.account) == scenario.DEPOSIT - 10_500 * 10**6
    assert keeper.tick() == []  # the account is in its cooldown: nothing is sent again
    assert keeper.metrics.liquidations.labels(path="PROOF")._value.get() == 1
    assert keeper.metrics.proofs._value.get() == 1
    assert keeper.metrics.snapshots._value.get() >= 1
    names = logged.names()
    assert {"snapshot", "healthy", "proved", "liquidation_sent", "liquidated"} <= set(names)
    sent = next(e for e in logged.events() if e["event"] == "liquidated")
    assert sent["level"] == "info" and sent["tx"] == done.tx_hash and sent["gas"] > 0
    assert [r.status for r in keeper.store.all()] == ["mined"]


def test_keeper_liquidates_without_a_proof_when_the_last_proof_is_too_old(
    stack: VaultStack, desks: Desks, keeper_handle: VaultHandle, backend: ProvingBackend,
    tmp_path: Path,
) -> None:  # fmt: skip
    book = desks.open()
    admin = stack.client()
    admin.set_max_ages(scenario.POLICY.max_price_age, 5)
    try:
        keeper, logged = make_keeper(keeper_handle, [book], backend, tmp_path / "k.sqlite")
        assert keeper.tick() == []  # proved just now, and healthy
        stack.chain.w3.provider.make_request("evm_increaseTime", [30])  # type: ignore[arg-type]
        set_prices(stack, scenario.CALM)  # a new round → the keeper snapshots → proof is stale
        (done,) = keeper.tick()
    finally:
        admin.set_max_ages(scenario.POLICY.max_price_age, scenario.POLICY.max_proof_age)
    assert done.path == "STALE_PROOF" and done.prove_seconds is None
    assert keeper.metrics.proofs._value.get() == 0  # no proof needed (the book is healthy)
    assert keeper.metrics.liquidations.labels(path="STALE_PROOF")._value.get() == 1
    assert "proved" not in logged.names()


def test_keeper_metrics_are_served_for_prometheus(
    stack: VaultStack, desks: Desks, keeper_handle: VaultHandle, backend: ProvingBackend,
    tmp_path: Path,
) -> None:  # fmt: skip
    book = desks.open()
    keeper, _ = make_keeper(keeper_handle, [book], backend, tmp_path / "k.sqlite",
                            poll_interval=0.05)  # fmt: skip
    server = serve_metrics(keeper.metrics, 0)
    stop = threading.Event()
    mined = threading.Event()
    keeper.on_liquidation = lambda _l: mined.set()
    runner = threading.Thread(target=keeper.run, args=(stop,))
    runner.start()
    try:
        set_prices(stack, scenario.CRASH)
        assert mined.wait(15)
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
    finally:
        stop.set()
        runner.join(10)
        server.shutdown()
        server.server_close()
    assert not runner.is_alive()
    assert 'zkrisk_keeper_liquidations_total{path="PROOF"} 1.0' in text
    assert "zkrisk_keeper_proofs_total 1.0" in text
    assert "zkrisk_keeper_proof_seconds_count 1.0" in text
    assert "zkrisk_keeper_liquidation_seconds_count 1.0" in text
    assert "zkrisk_keeper_errors_total{" not in text  # no error of any kind
