"""The Uniswap v2 venue on real Anvil: swaps fill from the Swap log, the price bound holds, the
simulation rejects what would revert, nonces and client order ids hold under concurrency."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from web3.logs import DISCARD

from zkrisk.engine.chain.anvil import DEV_PRIVATE_KEYS, AnvilNode
from zkrisk.engine.chain.uniswap_deploy import UniswapDeployment
from zkrisk.engine.pipeline.venues.base import Ack, Fill, Reject, VenueStatus
from zkrisk.engine.pipeline.venues.uniswap import LocalKeySigner
from zkrisk.engine.risk.models import Side

from .uniswap_support import TRADER_KEY, deploy_and_fund, order, session


@pytest.fixture(scope="module")
def uni(anvil_node: AnvilNode) -> UniswapDeployment:
    return deploy_and_fund(anvil_node)


def test_a_buy_fills_the_exact_quantity_at_the_swap_log_price_and_moves_balances(
    anvil_node: AnvilNode, uni: UniswapDeployment
) -> None:
    async def scenario() -> tuple[dict[str, Decimal], dict[str, Decimal], Fill, str]:
        async with session(uni, [anvil_node.url]) as s:
            before = dict(await s.venue.balances())
            sent = await s.venue.submit(order(uni, "buy-1", Side.BUY, "1.5"))
            await s.until(lambda: s.of(Fill, "buy-1"))
            after = dict(await s.venue.balances())
            assert s.of(Ack, "buy-1") == [Ack("buy-1", sent.venue_order_id)]
            return before, after, s.of(Fill, "buy-1")[0], sent.venue_order_id

    before, after, fill, tx_hash = asyncio.run(scenario())
    receipt = anvil_node.web3().eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    (swap,) = uni.pairs["WETH"].events.Swap().process_receipt(receipt, errors=DISCARD)
    assert fill.fill_id == f"{tx_hash}:{swap['logIndex']}"
    assert fill.symbol == "WETH" and fill.side is Side.BUY and fill.quantity == Decimal("1.5")
    spent = before["USDC"] - after["USDC"]
    assert after["WETH"] - before["WETH"] == Decimal("1.5")
    assert abs(fill.price * fill.quantity - spent) < Decimal("0.0001")
    assert Decimal(3000) < fill.price < Decimal(3030)  # the pool's 0.3 % fee and impact
    assert fill.fee > 0 and fill.fee_currency == "ETH"


def test_a_sell_fills_with_the_proceeds_the_swap_log_reports(
    anvil_node: AnvilNode, uni: UniswapDeployment
) -> None:
    async def scenario() -> tuple[dict[str, Decimal], dict[str, Decimal], Fill]:
        async with session(uni, [anvil_node.url]) as s:
            before = dict(await s.venue.balances())
            await s.venue.submit(order(uni, "sell-1", Side.SELL, "0.1", symbol="WBTC"))
            await s.until(lambda: s.of(Fill, "sell-1"))
            return before, dict(await s.venue.balances()), s.of(Fill, "sell-1")[0]

    before, after, fill = asyncio.run(scenario())
    assert fill.side is Side.SELL and fill.quantity == Decimal("0.1")
    assert before["WBTC"] - after["WBTC"] == Decimal("0.1")
    received = after["USDC"] - before["USDC"]
    assert abs(fill.price * fill.quantity - received) < Decimal("0.0001")
    assert Decimal(59_000) < fill.price < Decimal(60_000)


def test_query_reports_a_filled_order_from_its_receipt(
    anvil_node: AnvilNode, uni: UniswapDeployment
) -> None:
    async def scenario() -> tuple[VenueStatus, VenueStatus, Decimal]:
        async with session(uni, [anvil_node.url]) as s:
            unknown = (await s.venue.query("never-sent")).status
            await s.venue.submit(order(uni, "q-1", Side.BUY, "0.2"))
            await s.until(lambda: s.of(Fill, "q-1"))
            report = await s.venue.query("q-1")
            return unknown, report.status, report.filled

    unknown, status, filled = asyncio.run(scenario())
    assert unknown is VenueStatus.UNKNOWN
    assert status is VenueStatus.FILLED and filled == Decimal("0.2")


def test_a_sell_the_wallet_cannot_afford_is_rejected_by_the_simulation_with_the_reason(
    anvil_node: AnvilNode, uni: UniswapDeployment
) -> None:
    broke = DEV_PRIVATE_KEYS[5]  # ETH for gas, no tokens
    w3 = anvil_node.web3()
    me = LocalKeySigner(broke).address

    async def scenario() -> tuple[str, list[Reject], int, int]:
        async with session(uni, [anvil_node.url], key=broke) as s:
            nonce = w3.eth.get_transaction_count(me)  # type: ignore[arg-type]
            sent = await s.venue.submit(order(uni, "broke-1", Side.SELL, "0.1"))
            await s.until(lambda: s.of(Reject, "broke-1"))
            return (
                sent.venue_order_id,
                s.of(Reject, "broke-1"),
                nonce,
                w3.eth.get_transaction_count(me),
            )  # type: ignore[arg-type]

    venue_id, (reject,), nonce_before, nonce_after = asyncio.run(scenario())
    assert venue_id == ""
    assert reject.reason == "SIMULATION_REVERTED"
    assert reject.detail == "TransferHelper: TRANSFER_FROM_FAILED"
    assert nonce_after == nonce_before  # nothing was sent


def _whale_dump(uni: UniswapDeployment, anvil_node: AnvilNode, weth: int) -> bytes:
    """A signed swap of `weth` WETH for USDC by another account, tipping 100 gwei (mined ahead
    of the venue's 1 gwei in the same block: Anvil orders a block by fees)."""
    from zkrisk.engine.chain.client import ChainClient

    whale = ChainClient.connect(anvil_node.url, DEV_PRIVATE_KEYS[3])
    uni.mint("WETH", whale.account.address, Decimal(weth))
    token, usdc = uni.tokens["WETH"], uni.tokens["USDC"]
    whale.transact(token.functions.approve(uni.router.address, 2**256 - 1))
    swap = uni.router.functions.swapExactTokensForTokens(
        weth * 10**18, 0, [token.address, usdc.address], whale.account.address, 2**40
    ).build_transaction({"from": whale.account.address, "gas": 300_000,
                         "nonce": whale.w3.eth.get_transaction_count(whale.account.address),
                         "maxFeePerGas": 200 * 10**9, "maxPriorityFeePerGas": 100 * 10**9})  # fmt: skip
    return bytes(whale.account.sign_transaction(swap).raw_transaction)


def test_a_sell_is_not_filled_below_its_bound_when_the_price_moves_between_simulate_and_mine(
    anvil_node: AnvilNode, uni: UniswapDeployment
) -> None:
    """Automine off: the sell is simulated and broadcast at the calm price; a whale's dump of 60
    WETH (the price drops ~30 %) is mined ahead of it in the same block. The sell's amountOutMin
    makes it revert rather than fill ~30 % below its 3 % bound."""
    w3 = anvil_node.web3()
    dump = _whale_dump(uni, anvil_node, 60)

    async def scenario() -> list[object]:
        async with session(uni, [anvil_node.url]) as s:
            w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
            try:
                await s.venue.submit(order(uni, "guard-1", Side.SELL, "1"))
                w3.eth.send_raw_transaction(dump)
                w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
            finally:
                w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
            await s.until(lambda: s.of(Reject, "guard-1") or s.of(Fill, "guard-1"))
            return [*s.of(Reject, "guard-1"), *s.of(Fill, "guard-1")]

    (outcome,) = asyncio.run(scenario())
    assert isinstance(outcome, Reject), f"the sell filled below its bound: {outcome}"
    assert outcome.reason == "REVERTED"
    assert "INSUFFICIENT_OUTPUT_AMOUNT" in outcome.detail


def test_two_concurrent_submits_get_consecutive_nonces_and_both_fill(
    anvil_node: AnvilNode, uni: UniswapDeployment
) -> None:
    w3 = anvil_node.web3()

    async def scenario() -> list[str]:
        async with session(uni, [anvil_node.url]) as s:
            sent = await asyncio.gather(s.venue.submit(order(uni, "c-1", Side.BUY, "0.3")),
                                        s.venue.submit(order(uni, "c-2", Side.SELL, "0.2")))  # fmt: skip
            await s.until(lambda: len(s.of(Fill)) == 2)
            return [x.venue_order_id for x in sent]

    hashes = asyncio.run(scenario())
    nonces = sorted(int(w3.eth.get_transaction(h)["nonce"]) for h in hashes)  # type: ignore[arg-type]
    assert nonces[1] == nonces[0] + 1
    assert all(w3.eth.get_transaction_receipt(h)["status"] == 1 for h in hashes)  # type: ignore[arg-type]


def test_the_same_client_order_id_twice_sends_one_swap(
    anvil_node: AnvilNode, uni: UniswapDeployment
) -> None:
    w3 = anvil_node.web3()
    me = LocalKeySigner(TRADER_KEY).address

    async def scenario() -> tuple[list[object], int, int]:
        async with session(uni, [anvil_node.url]) as s:
            nonce = w3.eth.get_transaction_count(me)  # type: ignore[arg-type]
            spec = order(uni, "dup-1", Side.BUY, "0.1")
            together = await asyncio.gather(s.venue.submit(spec), s.venue.submit(spec))
            later = await s.venue.submit(spec)
            await s.until(lambda: s.of(Fill, "dup-1"))
            return [*together, later], nonce, w3.eth.get_transaction_count(me)  # type: ignore[arg-type]

    sent, before, after = asyncio.run(scenario())
    assert after == before + 1
    assert len({s.venue_order_id for s in sent}) == 1  # type: ignore[attr-defined]
    assert [s.duplicate for s in sent] == [False, True, True]  # type: ignore[attr-defined]


def test_an_adopted_order_is_a_duplicate_and_its_fill_is_reported(
    anvil_node: AnvilNode, uni: UniswapDeployment
) -> None:
    """After a restart the journal seeds coid → tx hash; the venue must not re-send it."""

    async def first_run() -> str:
        async with session(uni, [anvil_node.url]) as s:
            sent = await s.venue.submit(order(uni, "adopt-1", Side.BUY, "0.1"))
            await s.until(lambda: s.of(Fill, "adopt-1"))
            return sent.venue_order_id

    async def second_run(tx_hash: str) -> tuple[bool, list[Fill]]:
        async with session(uni, [anvil_node.url]) as s:
            s.venue.adopt("adopt-1", tx_hash)
            again = await s.venue.submit(order(uni, "adopt-1", Side.BUY, "0.1"))
            await s.until(lambda: s.of(Fill, "adopt-1"))
            return again.duplicate and again.venue_order_id == tx_hash, s.of(Fill, "adopt-1")

    tx_hash = asyncio.run(first_run())
    duplicate, (fill,) = asyncio.run(second_run(tx_hash))
    assert duplicate
    assert fill.venue_order_id == tx_hash and fill.quantity == Decimal("0.1")
