"""Stuck transactions on real Anvil with automine off: a swap not mined in time is replaced with
the same nonce and higher fees, then abandoned (its nonce taken by a self-transfer); a cancel
takes the nonce at once."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from zkrisk.engine.chain.anvil import AnvilNode
from zkrisk.engine.chain.uniswap_deploy import UniswapDeployment
from zkrisk.engine.pipeline.venues.base import Canceled, Fill, Reject, Replaced, VenueStatus
from zkrisk.engine.pipeline.venues.uniswap import LocalKeySigner
from zkrisk.engine.risk.models import Side

from .uniswap_support import TRADER_KEY, deploy_and_fund, order, rpc, session

ME = LocalKeySigner(TRADER_KEY).address


@pytest.fixture(scope="module")
def uni(anvil_node: AnvilNode) -> UniswapDeployment:
    return deploy_and_fund(anvil_node)


def _fees(anvil_node: AnvilNode, tx_hash: str) -> tuple[int, int]:
    tx = anvil_node.web3().eth.get_transaction(tx_hash)  # type: ignore[arg-type]
    return int(tx["maxFeePerGas"]), int(tx["maxPriorityFeePerGas"])


def test_a_stuck_swap_is_replaced_with_higher_fees_and_the_replacement_fills_once(
    anvil_node: AnvilNode, uni: UniswapDeployment
) -> None:
    old: list[tuple[int, int]] = []

    async def scenario() -> tuple[str, list[Replaced], list[Fill]]:
        async with session(uni, [anvil_node.url], replace_after_s=0.3, max_replacements=3) as s:
            rpc(anvil_node, "evm_setAutomine", False)
            try:
                sent = await s.venue.submit(order(uni, "stuck-1", Side.BUY, "0.5"))
                old.append(_fees(anvil_node, sent.venue_order_id))  # pending, until replaced
                await s.until(lambda: s.of(Replaced, "stuck-1"))
                rpc(anvil_node, "evm_mine")
            finally:
                rpc(anvil_node, "evm_setAutomine", True)
            await s.until(lambda: s.of(Fill, "stuck-1"))
            await asyncio.sleep(0.4)  # a second fill, were there one, would arrive by now
            return sent.venue_order_id, s.of(Replaced, "stuck-1"), s.of(Fill, "stuck-1")

    first, (replaced,), (fill,) = asyncio.run(scenario())
    assert replaced.previous_venue_order_id == first
    assert fill.venue_order_id == replaced.venue_order_id != first
    assert anvil_node.web3().eth.get_transaction_receipt(replaced.venue_order_id)["status"] == 1  # type: ignore[arg-type]
    assert anvil_node.web3().eth.get_transaction_receipt(replaced.venue_order_id)["blockNumber"] > 0  # type: ignore[arg-type]
    (old_fee, old_tip), (new_fee, new_tip) = old[0], _fees(anvil_node, replaced.venue_order_id)
    assert new_fee * 100 >= old_fee * 110 and new_tip * 100 >= old_tip * 110


def test_a_swap_still_stuck_after_its_replacements_is_abandoned_and_its_nonce_taken(
    anvil_node: AnvilNode, uni: UniswapDeployment
) -> None:
    w3 = anvil_node.web3()

    async def scenario() -> tuple[list[Replaced], list[Reject], VenueStatus, list[Fill]]:
        async with session(uni, [anvil_node.url], replace_after_s=0.2, max_replacements=1) as s:
            rpc(anvil_node, "evm_setAutomine", False)
            try:
                await s.venue.submit(order(uni, "abandon-1", Side.BUY, "0.5"))
                await s.until(lambda: s.of(Reject, "abandon-1"))
                rpc(anvil_node, "evm_mine")
            finally:
                rpc(anvil_node, "evm_setAutomine", True)
            status = (await s.venue.query("abandon-1")).status  # the self-transfer's receipt
            await asyncio.sleep(0.3)  # a late fill, were a swap copy mined, would arrive by now
            return (
                s.of(Replaced, "abandon-1"),
                s.of(Reject, "abandon-1"),
                status,
                s.of(Fill, "abandon-1"),
            )

    before = uni.tokens["WETH"].functions.balanceOf(ME).call()
    nonce = w3.eth.get_transaction_count(ME)  # type: ignore[arg-type]
    replaced, (reject,), status, fills = asyncio.run(scenario())
    assert len(replaced) == 1 and fills == []
    assert reject.reason == "ABANDONED"
    assert status is VenueStatus.EXPIRED
    assert uni.tokens["WETH"].functions.balanceOf(ME).call() == before  # no copy of the swap mined
    assert w3.eth.get_transaction_count(ME) == nonce + 1  # type: ignore[arg-type]
    block = w3.eth.get_block("latest", full_transactions=True)
    (kill,) = [tx for tx in block["transactions"] if tx["from"] == ME]  # type: ignore[index]
    assert kill["to"] == ME and kill["value"] == 0 and kill["nonce"] == nonce  # type: ignore[index]


def test_a_cancel_takes_the_nonce_of_a_pending_swap_and_reports_canceled(
    anvil_node: AnvilNode, uni: UniswapDeployment
) -> None:
    async def scenario() -> tuple[list[Canceled], list[Fill], VenueStatus, Decimal]:
        async with session(uni, [anvil_node.url], replace_after_s=30) as s:
            before = (await s.venue.balances())["WETH"]
            rpc(anvil_node, "evm_setAutomine", False)
            try:
                await s.venue.submit(order(uni, "cancel-1", Side.BUY, "0.5"))
                await s.venue.cancel("cancel-1")
                rpc(anvil_node, "evm_mine")
            finally:
                rpc(anvil_node, "evm_setAutomine", True)
            await s.until(lambda: s.of(Canceled, "cancel-1"))
            status = (await s.venue.query("cancel-1")).status
            moved = (await s.venue.balances())["WETH"] - before
            return s.of(Canceled, "cancel-1"), s.of(Fill, "cancel-1"), status, moved

    canceled, fills, status, moved = asyncio.run(scenario())
    assert len(canceled) == 1 and fills == [] and moved == 0
    assert status is VenueStatus.CANCELED
