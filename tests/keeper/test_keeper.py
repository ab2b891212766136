"""The keeper against a real Anvil node: prove-and-liquidate, the stale-proof path, metrics, logs."""

from __future__ import annotations

import threading
import urllib.request
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from zkrisk.engine.chain import dev_scenario as scenario
from zkrisk.engine.chain.vault_deploy import VaultStack, advance_time
from zkrisk.engine.keeper.devnet import snapshot_now
from zkrisk.engine.keeper.metrics import serve_metrics
from zkrisk.engine.keeper.vault_access import VaultHandle
from zkrisk.engine.risk.models import Position
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
    ticked = keeper.tick()
    assert len(ticked) == 1, [e.get("error") for e in logged.events() if e["level"] != "info"]
    (done,) = ticked
    assert keeper.metrics.prove_queue._value.get() == 0  # both accounts of the round evaluated

    assert done.account.lower() == risky.portfolio.account and done.path == "PROOF"
    assert len(liquidated_events(stack, done.account)) == 1
    assert liquidated_events(stack, keeper_handle.client.vault.w3.to_checksum_address(
        safe.portfolio.account)) == []  # fmt: skip
    # CRASH: HF ≈ 0.87 < 0.95 even at escrow × 1.01, so the whole escrow goes (Aave v3.3).
    assert keeper_handle.client.escrow(done.account) == 0
    proved = next(e for e in logged.events() if e["event"] == "proved")
    assert proved["hf_below_bps"] == 9_500
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
    stack.set_policy(replace(scenario.POLICY, max_proof_age=3_600))
    try:
        keeper, logged = make_keeper(keeper_handle, [book], backend, tmp_path / "k.sqlite")
        assert keeper.tick() == []  # proved just now, and healthy
        stack.chain.w3.provider.make_request("evm_increaseTime", [3_601])  # type: ignore[arg-type]
        set_prices(stack, scenario.CALM)  # a new round → the keeper snapshots → proof is stale
        (done,) = keeper.tick()
    finally:
        stack.set_policy(scenario.POLICY)
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


def test_keeper_sends_nothing_during_the_grace_period_after_an_oracle_outage_then_liquidates(
    stack: VaultStack, desks: Desks, keeper_handle: VaultHandle, backend: ProvingBackend,
    tmp_path: Path,
) -> None:  # fmt: skip
    book = desks.open()
    keeper, logged = make_keeper(keeper_handle, [book], backend, tmp_path / "k.sqlite")
    assert keeper.tick() == []
    gap, grace = (int(v) for v in stack.price_book.functions.liveness().call()[1:3])
    advance_time(stack.chain, gap + 1)  # an outage: no snapshot for longer than outageGap
    set_prices(stack, scenario.CRASH)  # back at crash prices; the keeper's snapshot ends it
    assert keeper.tick() == []
    assert "grace_period" in logged.names() and "liquidation_sent" not in logged.names()
    advance_time(stack.chain, grace)
    set_prices(stack, scenario.CRASH)
    (done,) = keeper.tick()
    assert done.account.lower() == book.portfolio.account


def test_keeper_takes_a_snapshot_when_the_latest_is_outside_the_window(
    stack: VaultStack, desks: Desks, keeper_handle: VaultHandle, backend: ProvingBackend,
    tmp_path: Path,
) -> None:  # fmt: skip
    book = desks.open()
    keeper, _ = make_keeper(keeper_handle, [book], backend, tmp_path / "k.sqlite")
    assert keeper.tick() == []
    before = keeper_handle.client.latest_snapshot_id()
    assert keeper.tick() == [] and keeper_handle.client.latest_snapshot_id() == before
    advance_time(stack.chain, scenario.POLICY.snapshot_window + 1)  # feeds unchanged
    assert keeper.tick() == []
    assert keeper_handle.client.latest_snapshot_id() == before + 1


def test_keeper_uses_another_senders_snapshot_of_the_same_rounds_when_its_own_is_too_soon(
    stack: VaultStack, desks: Desks, keeper_handle: VaultHandle, backend: ProvingBackend,
    tmp_path: Path,
) -> None:  # fmt: skip
    book = desks.open()
    keeper, logged = make_keeper(keeper_handle, [book], backend, tmp_path / "k.sqlite")
    assert keeper.tick() == []
    set_prices(stack, scenario.CRASH)  # new rounds, then a second passes
    other = snapshot_now(stack.client())  # someone else snapshots them first, this second
    (done,) = keeper.tick()  # its own snapshot is refused (rate limit): it uses that one
    assert done.snapshot_id == other.snapshot_id
    assert "snapshot_taken_by_another" in logged.names()
    assert "snapshot_refused" not in logged.names()
    rounds = tuple(int(f.functions.latestRoundData().call()[0]) for f in keeper.feeds)
    assert keeper.seen == (rounds, other.snapshot_id)  # marked seen: no retry next tick
