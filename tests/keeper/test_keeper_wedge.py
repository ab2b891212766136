"""The keeper cannot wedge: a lost liquidation whose nonce was reused is re-planned, one stuck
account does not hold up the others, and `run(max_ticks=…)` ends whatever the node answers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from web3 import Web3

from zkrisk.engine.chain import dev_scenario as scenario
from zkrisk.engine.chain.vault_deploy import VaultStack
from zkrisk.engine.keeper.books import BookFile
from zkrisk.engine.keeper.vault_access import VaultHandle
from zkrisk.engine.risk.models import Portfolio, Position
from zkrisk.prover.backends import ProvingBackend

from .conftest import Desks, handle_via, make_keeper, rpc, set_prices
from .rpc_proxy import FailingRpc


def liquidations_of(stack: VaultStack, account: str) -> int:
    logs = stack.vault.events.Liquidated().get_logs(
        from_block=0, argument_filters={"account": Web3.to_checksum_address(account)}
    )
    return len(logs)


@pytest.fixture
def manual_mining(stack: VaultStack) -> Iterator[None]:
    try:
        yield
    finally:
        rpc(stack, "evm_setAutomine", True)


def reuse_nonce(handle: VaultHandle, nonce: int) -> None:
    """Spend the keeper key's `nonce` on a plain transfer, as another process with that key
    would."""
    chain = handle.client.chain
    me = chain.account.address
    w3 = chain.w3
    signed = chain.account.sign_transaction({
        "to": me, "value": 0, "gas": 21_000, "nonce": nonce, "chainId": chain.chain_id,
        "gasPrice": 2 * int(w3.eth.gas_price),
    })  # fmt: skip
    w3.eth.send_raw_transaction(signed.raw_transaction)


def test_a_lost_liquidation_whose_nonce_was_reused_is_replanned_and_nobody_else_waits(
    stack: VaultStack, desks: Desks, keeper_handle: VaultHandle, backend: ProvingBackend,
    tmp_path: Path, manual_mining: None,
) -> None:  # fmt: skip
    lost_book, other_book = desks.open(), desks.open()
    set_prices(stack, scenario.CRASH)
    stack.client().take_snapshot()
    rpc(stack, "evm_setAutomine", False)
    db = tmp_path / "k.sqlite"
    first, _ = make_keeper(keeper_handle, [lost_book], backend, db, receipt_timeout=0.3,
                           take_snapshots=False)  # fmt: skip
    assert first.tick() == []  # sent, not mined
    (lost,) = first.store.open()
    first.store.close()  # the keeper dies; then the node loses the transaction…
    assert rpc(stack, "anvil_dropTransaction", lost.tx_hash)["result"] == lost.tx_hash
    me = keeper_handle.client.account
    nonce = stack.chain.w3.eth.get_transaction_count(me, "latest")
    reuse_nonce(keeper_handle, nonce)  # …and the same key spends its nonce elsewhere
    rpc(stack, "evm_mine")
    rpc(stack, "evm_setAutomine", True)
    assert stack.chain.w3.eth.get_transaction_count(me, "latest") == nonce + 1

    second, logged = make_keeper(keeper_handle, [lost_book, other_book], backend, db,
                                 take_snapshots=False)  # fmt: skip
    done = second.tick()

    accounts = {lost_book.portfolio.account, other_book.portfolio.account}
    assert {d.account.lower() for d in done} == accounts
    assert all(liquidations_of(stack, a) == 1 for a in accounts)
    replaced = next(e for e in logged.events() if e["event"] == "liquidation_replaced")
    assert replaced["tx"] == lost.tx_hash and replaced["keeper_nonce"] == nonce
    assert replaced["chain_nonce"] == nonce + 1  # seen from the chain, before any rebroadcast
    assert [r.status for r in second.store.all()] == ["mined", "mined"]
    assert lost.tx_hash not in {r.tx_hash for r in second.store.all()}  # re-planned: a new tx
    assert second.metrics.errors.labels(kind="resync_nonce")._value.get() == 1


def test_an_account_whose_book_cannot_be_evaluated_does_not_hold_up_the_next_one(
    stack: VaultStack, desks: Desks, keeper_handle: VaultHandle, backend: ProvingBackend,
    tmp_path: Path,
) -> None:  # fmt: skip
    stuck, target = desks.open(), desks.open()
    # The keeper's copy of the first book names an asset the vault does not list: every
    # evaluation of that account raises.
    broken = BookFile(salt=stuck.salt, portfolio=Portfolio(
        account=stuck.portfolio.account,
        positions=(*stuck.portfolio.positions, Position(symbol="DOGE", quantity=Decimal(1))),
    ))  # fmt: skip
    keeper, logged = make_keeper(keeper_handle, [broken, target], backend, tmp_path / "k.sqlite")
    set_prices(stack, scenario.CRASH)

    done = keeper.tick()

    assert [d.account.lower() for d in done] == [target.portfolio.account]
    assert liquidations_of(stack, target.portfolio.account) == 1
    assert liquidations_of(stack, stuck.portfolio.account) == 0
    alert = next(e for e in logged.events() if e["event"] == "alert")
    assert alert["level"] == "error" and alert["account"] == Web3.to_checksum_address(
        stuck.portfolio.account
    )
    assert "DOGE" in alert["error"] and alert["remedy"] == "alert"
    assert keeper.metrics.errors.labels(kind="alert")._value.get() == 1
    assert keeper.tick() == []  # same snapshot: the stuck account is not retried in a hot loop
    assert keeper.metrics.errors.labels(kind="alert")._value.get() == 1


def test_run_with_max_ticks_ends_when_every_rpc_call_returns_an_error(
    stack: VaultStack, backend: ProvingBackend, tmp_path: Path
) -> None:
    stop = threading.Event()
    with FailingRpc() as failing:
        handle = handle_via(stack, failing.url, tmp_path / "deployments")
        keeper, logged = make_keeper(handle, [], backend, tmp_path / "k.sqlite",
                                     backoff_initial=0.01, backoff_max=0.02)  # fmt: skip
        runner = threading.Thread(target=keeper.run, args=(stop,), kwargs={"max_ticks": 3})
        runner.start()
        runner.join(15)
        ended_by_itself = not runner.is_alive()
        stop.set()
        runner.join(5)
    assert ended_by_itself, "run(max_ticks=3) did not end while the node errored"
    errors = [e for e in logged.events() if e["event"] == "error"]
    assert len(errors) == 3 and failing.failed
    assert all(e["remedy"] == "retry" and e["error"].startswith("Web3RPCError") for e in errors)
    assert logged.events()[-1] == {**logged.events()[-1], "event": "stopped", "ticks": 3,
                                   "failed_ticks": 3}  # fmt: skip
