"""The keeper's cheap chain access against a real Anvil node: gas measured in two runs instead of
eth_estimateGas's binary search (with the estimate as the fallback). The per-tick views are
tested in test_keeper_batched_reads.py."""

from __future__ import annotations

from typing import Any

import pytest
from web3.exceptions import MethodUnavailable

from zkrisk.engine.chain.client import TransactionReverted
from zkrisk.engine.chain.vault_deploy import VaultStack, advance_time
from zkrisk.engine.keeper import tx as keeper_tx
from zkrisk.engine.keeper.tx import GAS_MARGIN, build_signed
from zkrisk.engine.keeper.vault_access import VaultHandle

from .conftest import SnapshotCall


@pytest.fixture(autouse=True)
def _no_remembered_gas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keeper_tx, "_GAS_USED", {})  # each test measures from scratch


def _counting_access_lists(chain: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    runs: list[int] = []
    real = chain.w3.eth.create_access_list

    def counted(*args: Any, **kwargs: Any) -> Any:
        runs.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(chain.w3.eth, "create_access_list", counted)
    return runs


def _sent(handle: VaultHandle, signed: Any) -> dict[str, Any]:
    w3 = handle.client.chain.w3
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    assert w3.eth.wait_for_transaction_receipt(tx_hash)["status"] == 1
    return dict(w3.eth.get_transaction(tx_hash))


def test_build_signed_sets_the_gas_from_one_run_times_the_margin_and_the_transaction_mines(
    snapshot_call: SnapshotCall, keeper_handle: VaultHandle
) -> None:
    chain, fn = snapshot_call
    call = {"from": chain.address, "to": fn.address, "data": fn._encode_transaction_data()}
    used = int(chain.w3.eth.create_access_list(call, "pending")["gasUsed"])  # type: ignore[arg-type]

    tx = _sent(keeper_handle, build_signed(chain, fn))

    assert tx["gas"] == int(used * GAS_MARGIN)


def test_a_call_shaped_like_one_measured_before_skips_the_measuring_run(
    stack: VaultStack,
    snapshot_call: SnapshotCall,
    keeper_handle: VaultHandle,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chain, fn = snapshot_call
    runs = _counting_access_lists(chain, monkeypatch)
    advance_time(stack.chain, 2)
    first = _sent(keeper_handle, build_signed(chain, fn))
    advance_time(stack.chain, 2)
    second = _sent(keeper_handle, build_signed(chain, fn))  # mined: the limit was enough
    assert len(runs) == 1 and second["gas"] == first["gas"]


def test_a_remembered_gas_too_low_for_the_call_is_measured_again(
    stack: VaultStack,
    snapshot_call: SnapshotCall,
    keeper_handle: VaultHandle,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chain, fn = snapshot_call
    _sent(keeper_handle, build_signed(chain, fn))
    for shape in keeper_tx._GAS_USED:
        keeper_tx._GAS_USED[shape] = 21_000  # far below what a snapshot takes
    runs = _counting_access_lists(chain, monkeypatch)
    advance_time(stack.chain, 2)
    call = {"from": chain.address, "to": fn.address, "data": fn._encode_transaction_data()}
    used = int(chain.w3.eth.create_access_list(call, "pending")["gasUsed"])  # type: ignore[arg-type]

    tx = _sent(keeper_handle, build_signed(chain, fn))  # would run out of gas at 21,000 × 1.25

    assert tx["gas"] == int(used * GAS_MARGIN) and len(runs) == 2  # ours, and build_signed's


def test_build_signed_on_a_node_without_create_access_list_falls_back_to_the_estimate(
    snapshot_call: SnapshotCall,
    keeper_handle: VaultHandle,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chain, fn = snapshot_call
    estimate = int(fn.estimate_gas({"from": chain.address}))

    def refused(*_args: Any, **_kwargs: Any) -> Any:
        raise MethodUnavailable("the method eth_createAccessList does not exist")

    monkeypatch.setattr(chain.w3.eth, "create_access_list", refused)
    tx = _sent(keeper_handle, build_signed(chain, fn))

    assert tx["gas"] == int(estimate * GAS_MARGIN)


def test_build_signed_when_the_call_reverts_raises_the_decoded_error(
    snapshot_call: SnapshotCall, keeper_handle: VaultHandle
) -> None:
    chain, fn = snapshot_call
    _sent(keeper_handle, build_signed(chain, fn))
    with pytest.raises(TransactionReverted) as raised:  # a second one within the same second
        build_signed(chain, fn)
    assert raised.value.error == "PriceBook__SnapshotTooSoon"
