"""Confirmation fails over from the primary RPC to the backup while a swap is pending.

Both endpoints are RPC proxies in front of one Anvil node: two providers of one chain, which is
what a failover is for. (A `--fork-url` backup would not do: a fork stops following its origin at
the fork block, so it could never see the swap mined on the primary.) The swap is broadcast
through the primary with automine off, the primary is taken down, the block is mined, and the
receipt — hence the fill — can only come from the backup.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.keeper.rpc_proxy import RpcProxy
from zkrisk.engine.chain.anvil import AnvilNode
from zkrisk.engine.chain.uniswap_deploy import UniswapDeployment
from zkrisk.engine.pipeline.venues.base import Fill
from zkrisk.engine.pipeline.venues.rpc_failover import Failover
from zkrisk.engine.risk.models import Side

from .uniswap_support import deploy_and_fund, order, rpc, session


@pytest.fixture(scope="module")
def uni(anvil_node: AnvilNode) -> UniswapDeployment:
    return deploy_and_fund(anvil_node)


def test_the_primary_rpc_goes_down_mid_confirmation_and_the_backup_confirms(
    anvil_node: AnvilNode, uni: UniswapDeployment
) -> None:
    primary, backup = RpcProxy(anvil_node.url), RpcProxy(anvil_node.url)
    primary.up()
    backup.up()

    async def scenario() -> tuple[list[Fill], list[Failover], str, bool]:
        async with session(uni, [primary.url, backup.url], rpc_timeout_s=1.0) as s:
            rpc(anvil_node, "evm_setAutomine", False)
            try:
                await s.venue.submit(order(uni, "fo-1", Side.BUY, "0.5"))
                sent_via = s.venue.rpc.last_url
                primary.down()
                await asyncio.sleep(0.1)  # the confirmation task polls into the dead primary
                rpc(anvil_node, "evm_mine")
            finally:
                rpc(anvil_node, "evm_setAutomine", True)
            await s.until(lambda: s.of(Fill, "fo-1"))
            assert sent_via == primary.url
            return (
                s.of(Fill, "fo-1"),
                s.venue.rpc.failovers,
                s.venue.rpc.last_url,
                await s.venue.healthy(),
            )

    try:
        (fill,), failovers, confirmed_via, healthy = asyncio.run(scenario())
    finally:
        primary.down()
        backup.down()
    assert fill.client_order_id == "fo-1"
    assert [(f.from_url, f.to_url) for f in failovers] == [(primary.url, backup.url)]
    assert failovers[0].cause.startswith(f"{primary.url}: ")  # refused, or no answer in time
    assert confirmed_via == backup.url
    assert healthy  # the backup answers the probe


def test_the_venue_is_unhealthy_when_no_endpoint_answers(
    anvil_node: AnvilNode, uni: UniswapDeployment
) -> None:
    primary = RpcProxy(anvil_node.url)
    primary.up()

    async def scenario() -> tuple[bool, bool]:
        async with session(uni, [primary.url], rpc_timeout_s=0.5) as s:
            up = await s.venue.healthy()
            primary.down()
            return up, await s.venue.healthy()

    try:
        assert asyncio.run(scenario()) == (True, False)
    finally:
        primary.down()
