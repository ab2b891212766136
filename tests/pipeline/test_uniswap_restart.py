"""A Uniswap venue restarted over the run's journal (real Anvil, real SQLite journal): every
transaction is journaled before the node sees it, and a new venue adopts the orders a dead one
left in flight, fills them from whichever of their transactions mined, and sends no swap twice
(nor when the answer to a broadcast is lost).

A "crash" here is the first venue abandoned mid-flight (its watchers stopped, nothing more sent),
or its journal write raising; the SIGKILLed runner process is the slow variant in
test_runner_venue_crash.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import pytest

from tests.keeper.rpc_proxy import RpcProxy
from zkrisk.engine.chain.anvil import AnvilNode
from zkrisk.engine.chain.uniswap_deploy import UniswapDeployment
from zkrisk.engine.journal.events import Draft, OrderSpec, OrderSubmitted, OrderTxSigned
from zkrisk.engine.journal.sqlite import SQLiteJournal
from zkrisk.engine.pipeline.orders import Orders
from zkrisk.engine.pipeline.venues.base import Canceled, Fill, Replaced, VenueError
from zkrisk.engine.pipeline.venues.uniswap import LocalKeySigner, UniswapSettings, UniswapVenue
from zkrisk.engine.pipeline.venues.uniswap_txlog import JournalTxLog, SignedTx
from zkrisk.engine.risk.models import Side

from .uniswap_support import TRADER_KEY, Session, deploy_and_fund, order, rpc

ME = LocalKeySigner(TRADER_KEY).address


@pytest.fixture(scope="module")
def uni(anvil_node: AnvilNode) -> UniswapDeployment:
    return deploy_and_fund(anvil_node)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SQLiteJournal]:
    with closing(SQLiteJournal(tmp_path / "journal.db")) as j:
        yield j


def nonce_now(anvil: AnvilNode) -> int:
    """The wallet's next nonce (after connect: its approvals took some)."""
    return int(str(rpc(anvil, "eth_getTransactionCount", ME, "latest")), 16)


def folded(journal: SQLiteJournal) -> Orders:
    orders = Orders()
    for rec in journal.iter_from(0):
        orders.apply(rec)
    return orders


def submitted(journal: SQLiteJournal, spec: OrderSpec) -> OrderSpec:
    """The order as order send journals it before the send (write-ahead)."""
    journal.append([Draft("orders", f"order:{spec.client_order_id}", OrderSubmitted(order=spec),
                          1, 1)])  # fmt: skip
    return spec


def restarted(
    anvil: AnvilNode, uni: UniswapDeployment, log: JournalTxLog, *, url: str = "", **settings: float
) -> Session:
    venue = UniswapVenue(uni.addresses, LocalKeySigner(TRADER_KEY), [url or anvil.url],
                         UniswapSettings(**settings), tx_log=log)  # fmt: skip
    return Session(venue)


def journaled(journal: SQLiteJournal, coid: str) -> list[OrderTxSigned]:
    return [r.event for r in journal.iter_from(0)
            if isinstance(r.event, OrderTxSigned) and r.event.client_order_id == coid]  # fmt: skip


def mined_at(anvil: AnvilNode, nonce: int) -> str:
    """The hash of the wallet's transaction that took `nonce` (searching back from the head)."""
    w3 = anvil.web3()
    for number in range(w3.eth.block_number, -1, -1):
        for tx in w3.eth.get_block(number, full_transactions=True)["transactions"]:
            if tx["from"] == ME and tx["nonce"] == nonce:  # type: ignore[index]
                return "0x" + bytes(tx["hash"]).hex()  # type: ignore[index]
    raise AssertionError(f"no transaction of {ME} took nonce {nonce}")


class CheckedLog(JournalTxLog):
    """The journal's tx log, noting at each write whether the node already had the hash."""

    def __init__(self, journal: SQLiteJournal, anvil: AnvilNode) -> None:
        super().__init__(journal, "uniswap", lambda: folded(journal))
        self.anvil = anvil
        self.known_at_write: list[tuple[str, bool]] = []

    def write(self, tx: SignedTx) -> None:
        known = rpc(self.anvil, "eth_getTransactionByHash", tx.tx_hash) is not None
        self.known_at_write.append((tx.kind, known))
        super().write(tx)


def test_the_swap_its_replacement_and_its_cancel_are_each_journaled_before_the_node_has_them(
    anvil_node: AnvilNode, uni: UniswapDeployment, journal: SQLiteJournal
) -> None:
    log = CheckedLog(journal, anvil_node)
    spec = submitted(journal, order(uni, "wal-1", Side.BUY, "0.2"))

    async def scenario() -> int:
        async with restarted(anvil_node, uni, log, replace_after_s=0.2) as s:
            nonce = nonce_now(anvil_node)
            rpc(anvil_node, "evm_setAutomine", False)  # connected: the approvals are mined
            try:
                await s.venue.submit(spec)
                await s.until(lambda: s.of(Replaced, "wal-1"))
                await s.venue.cancel("wal-1")
            finally:
                rpc(anvil_node, "evm_setAutomine", True)
            rpc(anvil_node, "evm_mine")
            await s.until(lambda: s.of(Canceled, "wal-1"))
            return nonce

    nonce = asyncio.run(scenario())
    assert log.known_at_write[:2] == [("SWAP", False), ("REPLACEMENT", False)]
    assert log.known_at_write[-1] == ("CANCEL", False)
    assert all(not known for _, known in log.known_at_write)
    txs = journaled(journal, "wal-1")
    assert {t.nonce for t in txs} == {nonce}
    assert mined_at(anvil_node, nonce) in {t.tx_hash for t in txs}  # the nonce-taker, journaled


def test_a_restarted_venue_adopts_an_order_whose_swap_mined_while_it_was_down_and_sends_it_once(
    anvil_node: AnvilNode, uni: UniswapDeployment, journal: SQLiteJournal
) -> None:
    log = JournalTxLog(journal, "uniswap", lambda: folded(journal))
    spec = submitted(journal, order(uni, "down-1", Side.BUY, "0.3"))
    w3 = anvil_node.web3()
    weth = uni.tokens["WETH"].functions.balanceOf(ME)

    async def crashed() -> tuple[int, str]:
        venue = restarted(anvil_node, uni, log, replace_after_s=30).venue
        await venue.connect()
        nonce = nonce_now(anvil_node)
        rpc(anvil_node, "evm_setAutomine", False)
        try:
            sent = await venue.submit(spec)
        finally:
            await venue.close()  # dead before its swap mined: nothing of it reached the book
        rpc(anvil_node, "evm_setAutomine", True)
        rpc(anvil_node, "evm_mine")  # mined while no venue runs
        return nonce, sent.venue_order_id

    before = weth.call()
    nonce, tx_hash = asyncio.run(crashed())
    assert w3.eth.get_transaction_receipt(tx_hash)["status"] == 1  # type: ignore[arg-type]

    async def after_restart() -> tuple[list[Fill], bool]:
        async with restarted(anvil_node, uni, log) as s:
            again = await s.venue.submit(spec)  # order send re-sends an order left SUBMITTED
            await s.until(lambda: s.of(Fill, "down-1"))
            await asyncio.sleep(0.3)  # a second fill, were there one, would arrive by now
            return s.of(Fill, "down-1"), again.duplicate and again.venue_order_id == tx_hash

    (fill,), duplicate = asyncio.run(after_restart())
    assert duplicate
    assert fill.venue_order_id == tx_hash and fill.quantity == Decimal("0.3")
    assert w3.eth.get_transaction_count(ME) == nonce + 1  # type: ignore[arg-type]
    assert weth.call() - before == 3 * 10**17  # one swap


class Killed(Exception):
    """The process dies here (raised from the journal write of the first replacement)."""


class DyingLog(JournalTxLog):
    def __init__(self, journal: SQLiteJournal, *, after_the_write: bool) -> None:
        super().__init__(journal, "uniswap", lambda: folded(journal))
        self.after_the_write = after_the_write
        self.died = False

    def write(self, tx: SignedTx) -> None:
        if tx.kind == "REPLACEMENT" and not self.died:
            self.died = True
            if self.after_the_write:
                super().write(tx)
            raise Killed
        super().write(tx)


@pytest.mark.parametrize("after_the_write", [False, True], ids=["at-the-write", "after-it"])
def test_a_venue_killed_mid_replacement_is_filled_after_the_restart_by_the_transaction_that_mined(
    anvil_node: AnvilNode, uni: UniswapDeployment, journal: SQLiteJournal, after_the_write: bool
) -> None:
    """Killed at the replacement's journal write: it was never broadcast, the original mines.
    Killed after it: the restart rebroadcasts its journaled bytes, and the replacement mines.
    (Broadcast before the write, the first kill would leave a replacement on chain that the
    journal does not name: the restart would never see the swap's fill.)"""
    dying = DyingLog(journal, after_the_write=after_the_write)
    spec = submitted(journal, order(uni, "mid-1", Side.SELL, "0.2"))
    w3 = anvil_node.web3()
    weth = uni.tokens["WETH"].functions.balanceOf(ME)
    before = weth.call()

    async def killed() -> tuple[int, str]:
        venue = restarted(anvil_node, uni, dying, replace_after_s=0.2).venue
        await venue.connect()
        nonce = nonce_now(anvil_node)
        rpc(anvil_node, "evm_setAutomine", False)
        sent = await venue.submit(spec)
        while not dying.died:
            await asyncio.sleep(0.01)
        await venue.close()
        return nonce, sent.venue_order_id

    async def after_restart() -> tuple[list[Fill], list[Replaced]]:
        log = JournalTxLog(journal, "uniswap", lambda: folded(journal))
        async with restarted(anvil_node, uni, log, replace_after_s=30) as s:  # automine still off
            rpc(anvil_node, "evm_setAutomine", True)
            rpc(anvil_node, "evm_mine")
            await s.until(lambda: s.of(Fill, "mid-1"), timeout=5)
            await asyncio.sleep(0.3)
            return s.of(Fill, "mid-1"), s.of(Replaced, "mid-1")

    try:
        nonce, original = asyncio.run(killed())
        (fill,), replaced = asyncio.run(after_restart())
    finally:
        rpc(anvil_node, "evm_setAutomine", True)
    txs = journaled(journal, "mid-1")
    assert fill.venue_order_id == mined_at(anvil_node, nonce) in {t.tx_hash for t in txs}
    if after_the_write:  # the journaled replacement went out at the restart, and mined
        assert [t.kind for t in txs] == ["SWAP", "REPLACEMENT"] and fill.venue_order_id == txs[
            1
        ].tx_hash
        assert [(r.previous_venue_order_id, r.venue_order_id) for r in replaced] == [
            (original, txs[1].tx_hash)
        ]  # the journal learns of it
    else:
        assert [t.kind for t in txs] == ["SWAP"] and fill.venue_order_id == original
    assert w3.eth.get_transaction_count(ME) == nonce + 1  # type: ignore[arg-type]
    assert before - weth.call() == 2 * 10**17  # one swap


class AnswerLost(RpcProxy):
    """A JSON-RPC pass-through to Anvil that, once `armed`, forwards the next
    eth_sendRawTransaction and hangs up without answering: the node has the swap, the venue
    cannot know it."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream, answer=self._answer)
        self.lost: list[str] = []
        self.armed = False
        self.up()

    def _answer(self, request: bytes, response: bytes) -> bool:
        if (
            self.armed
            and not self.lost
            and json.loads(request).get("method") == "eth_sendRawTransaction"
        ):
            self.lost.append(json.loads(response)["result"])
            return False  # forwarded, never answered
        return True

    def close(self) -> None:
        self.down()


def test_a_swap_whose_broadcast_answer_was_lost_keeps_its_nonce_and_is_never_signed_again(
    anvil_node: AnvilNode, uni: UniswapDeployment, journal: SQLiteJournal
) -> None:
    """No answer to the broadcast does not mean it did not go out: the order keeps the signed
    bytes and their nonce (resent as they are), and a retried send of the id is a duplicate."""
    log = JournalTxLog(journal, "uniswap", lambda: folded(journal))
    spec = submitted(journal, order(uni, "lost-1", Side.BUY, "0.1"))
    proxy = AnswerLost(anvil_node.url)
    weth = uni.tokens["WETH"].functions.balanceOf(ME)
    before = weth.call()

    async def scenario() -> tuple[int, list[Fill]]:
        async with restarted(anvil_node, uni, log, url=proxy.url, rpc_timeout_s=1.0) as s:
            nonce = nonce_now(anvil_node)
            proxy.armed = True  # connected (its approvals answered)
            try:
                await s.venue.submit(spec)
            except VenueError:  # order send retries a failed send under the same id
                await s.venue.submit(spec)
            await s.until(lambda: s.of(Fill, "lost-1"))
            await asyncio.sleep(0.3)  # a second swap, were there one, would fill by now
            return nonce, s.of(Fill, "lost-1")

    try:
        nonce, (fill,) = asyncio.run(scenario())
    finally:
        proxy.close()
    assert proxy.lost == [fill.venue_order_id]  # the swap whose answer was lost is the fill
    assert [t.tx_hash for t in journaled(journal, "lost-1")] == proxy.lost
    assert anvil_node.web3().eth.get_transaction_count(ME) == nonce + 1  # type: ignore[arg-type]
    assert weth.call() - before == 10**17
