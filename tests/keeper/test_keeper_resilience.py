"""The keeper survives an RPC outage and restarts without submitting a liquidation twice."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from zkrisk.engine.chain import dev_scenario as scenario
from zkrisk.engine.chain.client import ChainClient
from zkrisk.engine.chain.vault_deploy import VaultStack
from zkrisk.engine.keeper.keeper import Liquidation
from zkrisk.engine.keeper.vault_access import VaultHandle, handle_from_stack
from zkrisk.prover.backends import ProvingBackend

from .conftest import KEEPER_KEY, Desks, make_keeper, set_prices
from .rpc_proxy import RpcProxy


def liquidations_of(stack: VaultStack, account: str) -> int:
    logs = stack.vault.events.Liquidated().get_logs(
        from_block=0, argument_filters={"account": Web3.to_checksum_address(account)}
    )
    return len(logs)


def rpc(stack: VaultStack, method: str, *params: Any) -> Any:
    return stack.chain.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]


def test_keeper_survives_an_rpc_outage_and_liquidates_once_the_node_is_back(
    stack: VaultStack, desks: Desks, backend: ProvingBackend, tmp_path: Path
) -> None:
    book = desks.open()
    proxy = RpcProxy(stack.chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    proxy.up()
    via_proxy = ChainClient.connect(proxy.url, KEEPER_KEY)
    handle = handle_from_stack(stack, via_proxy)
    keeper, logged = make_keeper(handle, [book], backend, tmp_path / "k.sqlite",
                                 poll_interval=0.05, backoff_initial=0.05, backoff_max=0.4)  # fmt: skip
    mined: list[Liquidation] = []
    done = threading.Event()

    def record(liquidation: Liquidation) -> None:
        mined.append(liquidation)
        done.set()

    keeper.on_liquidation = record
    stop = threading.Event()
    runner = threading.Thread(target=keeper.run, args=(stop,))
    runner.start()
    try:
        time.sleep(0.5)  # a few healthy ticks
        proxy.down()
        set_prices(stack, scenario.CRASH)  # the oracle moves while the keeper cannot see it
        deadline = time.monotonic() + 10
        while keeper.metrics.errors.labels(kind="retry")._value.get() < 3:
            assert time.monotonic() < deadline, "the keeper never noticed the outage"
            time.sleep(0.05)
        assert runner.is_alive() and not done.is_set()
        proxy.up()
        assert done.wait(15), "no liquidation after the node came back"
    finally:
        stop.set()
        runner.join(10)
        proxy.down()
    assert not runner.is_alive()
    assert [m.account.lower() for m in mined] == [book.portfolio.account]
    assert liquidations_of(stack, book.portfolio.account) == 1
    errors = [e for e in logged.events() if e["event"] == "error"]
    assert errors and all(e["remedy"] == "retry" for e in errors)
    assert errors[1]["retry_in"] > errors[0]["retry_in"]  # exponential backoff


@pytest.fixture
def manual_mining(stack: VaultStack) -> Any:
    rpc(stack, "evm_setAutomine", False)
    try:
        yield
    finally:
        rpc(stack, "evm_setAutomine", True)


def test_a_restarted_keeper_waits_for_its_pending_liquidation_instead_of_sending_another(
    stack: VaultStack, desks: Desks, keeper_handle: VaultHandle, backend: ProvingBackend,
    tmp_path: Path, manual_mining: None,
) -> None:  # fmt: skip
    rpc(stack, "evm_setAutomine", True)
    book = desks.open()
    set_prices(stack, scenario.CRASH)
    stack.client().take_snapshot()
    rpc(stack, "evm_setAutomine", False)
    db = tmp_path / "k.sqlite"
    me = keeper_handle.client.account
    first, _ = make_keeper(keeper_handle, [book], backend, db, receipt_timeout=0.3,
                           take_snapshots=False)  # fmt: skip
    assert first.tick() == []  # sent, not mined: left pending
    (pending,) = first.store.open()
    first.store.close()  # the process dies here

    second, logged = make_keeper(keeper_handle, [book], backend, db, take_snapshots=False)
    sent_before = stack.chain.w3.eth.get_transaction_count(me, "pending")
    assert second.tick() == []
    assert stack.chain.w3.eth.get_transaction_count(me, "pending") == sent_before  # nothing new
    assert "proved" not in logged.names()
    rpc(stack, "evm_mine")
    (done,) = second.tick()
    assert done.tx_hash == pending.tx_hash
    assert liquidations_of(stack, book.portfolio.account) == 1
    assert [r.status for r in second.store.all()] == ["mined"]


def test_a_liquidation_signed_but_never_broadcast_is_rebroadcast_after_a_restart(
    stack: VaultStack, desks: Desks, keeper_handle: VaultHandle, backend: ProvingBackend,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    book = desks.open()
    set_prices(stack, scenario.CRASH)
    stack.client().take_snapshot()
    db = tmp_path / "k.sqlite"
    first, _ = make_keeper(keeper_handle, [book], backend, db, take_snapshots=False)
    eth = keeper_handle.client.chain.w3.eth

    def refused(_raw: bytes) -> None:
        raise ConnectionError("node went away mid-send")

    with monkeypatch.context() as patch:
        patch.setattr(eth, "send_raw_transaction", refused)
        assert first.tick() == []  # the send failed: classified RETRY, kept to this account
    (pending,) = first.store.open()  # recorded before the broadcast
    first.store.close()

    second, logged = make_keeper(keeper_handle, [book], backend, db, take_snapshots=False)
    done = second.tick()
    assert "liquidation_rebroadcast" in logged.names()
    assert "proved" not in logged.names()  # the same signed bytes, not a new proof
    done += second.tick()
    assert [d.tx_hash for d in done] == [pending.tx_hash]
    assert liquidations_of(stack, book.portfolio.account) == 1
