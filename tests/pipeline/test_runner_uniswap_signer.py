"""The Uniswap venue without a key: a real risk service approves each swap with its exact
transaction, a real `zkrisk signer serve` signs it, and the run's journal (real SQLite) is the
private queue in between. Real Anvil; the orders go through the venue as order send calls it.

The wallet's router allowances are set once beforehand by its owner (the test, with the key):
the signer signs only what an approval or a [[calls]] rule covers."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from hexbytes import HexBytes

from tests.api.server_fixtures import API_KEY
from tests.keeper.rpc_proxy import RpcProxy
from tests.signer.keyless_stack import Service, risk_service, trader_signer
from tests.signer.support import TOKEN, TRADER, TRADER_KEY
from zkrisk.engine.chain.anvil import AnvilNode
from zkrisk.engine.chain.uniswap_deploy import UniswapDeployment
from zkrisk.engine.journal.events import (
    Draft,
    OrderSpec,
    OrderSubmitted,
    OrderTxQueued,
    OrderTxSigned,
)
from zkrisk.engine.journal.sqlite import SQLiteJournal
from zkrisk.engine.pipeline.orders import Orders
from zkrisk.engine.pipeline.venues.base import Canceled, Fill, Reject, Replaced
from zkrisk.engine.pipeline.venues.signer_client import RemoteSigner, Signed
from zkrisk.engine.pipeline.venues.uniswap import UniswapSettings, UniswapVenue
from zkrisk.engine.pipeline.venues.uniswap_txlog import JournalTxLog, QueueConflict, QueuedTx
from zkrisk.engine.risk.models import Side

from .uniswap_support import Session, deploy_and_fund, order, rpc, session


@dataclass
class Stack:
    uni: UniswapDeployment
    service: Service
    signer_url: str
    sends: list[tuple[str, int]]
    """("sent", nonce) for each raw transaction the signer sent the node (through a proxy)."""
    node_proxy: str
    """The proxy's URL: a venue given it has its own sends noted in `sends` too."""


@pytest.fixture(scope="module")
def stack(anvil_node: AnvilNode, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    uni = deploy_and_fund(anvil_node, TRADER_KEY)  # the wallet of the signer's keystore
    asyncio.run(_allowances(uni, anvil_node.url))
    folder = tmp_path_factory.mktemp("keyless")
    sends: list[tuple[str, int]] = []
    proxy = sent_nonces(sends)
    proxy.upstream = anvil_node.url
    proxy.up()
    try:
        with risk_service(folder / "service") as service, \
                trader_signer(folder / "signer", uni.addresses,
                              public_rpc_url=proxy.url) as signer:  # fmt: skip
            yield Stack(uni, service, signer.url, sends, proxy.url)
    finally:
        proxy.down()


async def _allowances(uni: UniswapDeployment, url: str) -> None:
    """The owner approves the router once, with the key (the runner never has it)."""
    async with session(uni, [url]):
        pass


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SQLiteJournal]:
    with closing(SQLiteJournal(tmp_path / "journal.db")) as j:
        yield j


def folded(journal: SQLiteJournal) -> Orders:
    orders = Orders()
    for rec in journal.iter_from(0):
        orders.apply(rec)
    return orders


class Recording(RemoteSigner):
    """The client, noting each request it hands the signer (in order, with the wallet nonce)."""

    def __init__(self, stack: Stack, events: list[tuple[str, int]]) -> None:
        super().__init__(TRADER, signer_url=stack.signer_url, signer_token=TOKEN,
                         risk_service_url=stack.service.url, risk_service_key=API_KEY)  # fmt: skip
        self.events = events

    async def sign(self, route: str, request: str) -> Signed:
        self.events.append(("sign", json.loads(request)["transaction"]["nonce"]))
        return await super().sign(route, request)


def keyless(stack: Stack, url: str, journal: SQLiteJournal | None,
            events: list[tuple[str, int]] | None = None, **settings: float) -> Session:  # fmt: skip
    log = None if journal is None else JournalTxLog(journal, "uniswap", lambda: folded(journal))
    signer = Recording(stack, [] if events is None else events)
    return Session(UniswapVenue(stack.uni.addresses, signer, [url], UniswapSettings(**settings),
                                tx_log=log))  # fmt: skip


def submitted(journal: SQLiteJournal, spec: OrderSpec) -> OrderSpec:
    journal.append([Draft("orders", f"order:{spec.client_order_id}", OrderSubmitted(order=spec),
                          1, 1)])  # fmt: skip
    return spec


def sent_nonces(events: list[tuple[str, int]]) -> RpcProxy:
    """A node proxy noting each raw transaction it forwards (with its nonce) into `events`."""

    def note(request: bytes, _response: bytes) -> bool:
        body = json.loads(request)
        for call in body if isinstance(body, list) else [body]:
            if call.get("method") == "eth_sendRawTransaction":
                tx = TypedTransaction.from_bytes(HexBytes(call["params"][0])).as_dict()
                events.append(("sent", int(tx["nonce"])))
        return True

    return RpcProxy("", note)


def test_two_orders_back_to_back_are_mined_in_nonce_order_each_signed_only_after_the_one_before_was_sent(
    anvil_node: AnvilNode, stack: Stack, journal: SQLiteJournal
) -> None:
    events = stack.sends  # the signer's sends, and (below) the requests handed to it
    events.clear()
    a = submitted(journal, order(stack.uni, "kl-a", Side.BUY, "0.1", max_slippage_bps=40))
    b = submitted(journal, order(stack.uni, "kl-b", Side.SELL, "0.1", max_slippage_bps=40))

    async def scenario() -> Session:
        async with keyless(stack, anvil_node.url, journal, events) as s:
            await asyncio.gather(s.venue.submit(a), s.venue.submit(b))
            await s.until(lambda: len(s.of(Fill)) == 2, timeout=30)
        return s

    s = asyncio.run(scenario())
    first = events[0][1]
    assert events == [("sign", first), ("sent", first), ("sign", first + 1), ("sent", first + 1)]
    mined = []  # (nonce, block, index) of both swaps: consecutive nonces, mined in their order
    for fill in s.of(Fill):
        receipt = rpc(anvil_node, "eth_getTransactionReceipt", fill.venue_order_id)
        tx = rpc(anvil_node, "eth_getTransactionByHash", fill.venue_order_id)
        assert int(receipt["status"], 16) == 1
        mined.append((int(tx["nonce"], 16), int(receipt["blockNumber"], 16),
                      int(receipt["transactionIndex"], 16)))  # fmt: skip
    assert [m[0] for m in sorted(mined)] == [first, first + 1]
    assert sorted(mined) == sorted(mined, key=lambda m: m[1:])
    # the queue: each request journaled before the signer had it, then its signature
    kinds = [type(r.event).__name__ for r in journal.iter_from(0)
             if isinstance(r.event, OrderTxQueued | OrderTxSigned)]  # fmt: skip
    assert kinds == ["OrderTxQueued", "OrderTxSigned"] * 2


def test_a_stuck_swap_is_replaced_under_its_approval_and_cancelled_by_the_signers_cancel_rule(
    anvil_node: AnvilNode, stack: Stack, journal: SQLiteJournal
) -> None:
    spec = submitted(journal, order(stack.uni, "stuck", Side.BUY, "0.1", max_slippage_bps=40))

    async def scenario() -> Session:
        async with keyless(stack, anvil_node.url, journal, replace_after_s=0.3,
                           max_replacements=1) as s:  # fmt: skip
            rpc(anvil_node, "evm_setAutomine", False)
            try:
                await s.venue.submit(spec)
                await s.until(lambda: s.of(Replaced, "stuck"))
                await s.venue.cancel("stuck")
                rpc(anvil_node, "evm_mine")
            finally:
                rpc(anvil_node, "evm_setAutomine", True)
            await s.until(lambda: s.of(Canceled, "stuck"))
        return s

    s = asyncio.run(scenario())
    assert s.of(Fill, "stuck") == []
    queued = [r.event for r in journal.iter_from(0) if isinstance(r.event, OrderTxQueued)]
    assert [(q.kind, q.route) for q in queued] == [
        ("SWAP", "/v1/sign"), ("REPLACEMENT", "/v1/sign"), ("CANCEL", "/v1/sign-call")]  # fmt: skip
    approvals = {json.dumps(json.loads(q.request)["approval"]) for q in queued[:2]}
    assert len(approvals) == 1  # the replacement: the same approval, other fees
    signed = [r.event for r in journal.iter_from(0) if isinstance(r.event, OrderTxSigned)]
    cancel = rpc(anvil_node, "eth_getTransactionReceipt", signed[-1].tx_hash)
    assert signed[-1].kind == "CANCEL" and int(cancel["status"], 16) == 1


def test_a_second_orders_queue_entry_at_a_wallet_nonce_another_order_holds_is_refused(
    journal: SQLiteJournal,
) -> None:
    log = JournalTxLog(journal, "uniswap", lambda: folded(journal))
    for coid in ("q-a", "q-b"):
        submitted(journal, OrderSpec(client_order_id=coid, venue="uniswap", symbol="WETH",
                                     side=Side.BUY, quantity=Decimal(1),
                                     reference_price=Decimal(3000)))  # fmt: skip

    def entry(coid: str, n: int, kind: Any = "SWAP") -> QueuedTx:
        return QueuedTx(coid, n, n, kind, TRADER, 7, "/v1/sign", json.dumps({"n": n}))

    log.queue(entry("q-a", 0))
    log.queue(entry("q-a", 1, "REPLACEMENT"))  # the same order at its own nonce: its next copy
    with pytest.raises(QueueConflict, match="nonce 7 is held by order q-a"):
        log.queue(entry("q-b", 0))
    # also across a restart: the journal holds who has the nonce
    again = JournalTxLog(journal, "uniswap", lambda: folded(journal))
    with pytest.raises(QueueConflict):
        again.queue(entry("q-b", 0))
    assert [r.event.client_order_id for r in journal.iter_from(0)
            if isinstance(r.event, OrderTxQueued)] == ["q-a", "q-a"]  # fmt: skip


def test_an_order_whose_wallet_nonce_is_held_in_the_queue_is_rejected_before_the_signer_sees_it(
    anvil_node: AnvilNode, stack: Stack, journal: SQLiteJournal
) -> None:
    nonce = int(str(rpc(anvil_node, "eth_getTransactionCount", TRADER, "pending")), 16)
    held = submitted(journal, order(stack.uni, "held", Side.BUY, "0.1"))
    JournalTxLog(journal, "uniswap", lambda: folded(journal)).queue(
        QueuedTx("held", 0, 0, "SWAP", TRADER, nonce, "/v1/sign", "{}"))  # fmt: skip
    events: list[tuple[str, int]] = []
    spec = submitted(journal, order(stack.uni, "next", Side.BUY, "0.1", max_slippage_bps=40))
    assert held.client_order_id == "held"

    async def scenario() -> list[Reject]:
        async with keyless(stack, anvil_node.url, None, events) as s:
            # after connect (its resume would ask the signer for "held"): a live venue's queue
            s.venue.tx_log = JournalTxLog(journal, "uniswap", lambda: folded(journal))
            await s.venue.submit(spec)
            await s.until(lambda: s.of(Reject, "next"))
            return s.of(Reject, "next")

    rejects = asyncio.run(scenario())
    assert rejects[0].reason == "QUEUE_CONFLICT" and "held by order held" in rejects[0].detail
    assert events == []


def test_an_order_the_risk_service_rejects_is_rejected_with_its_reasons_and_nothing_is_signed(
    anvil_node: AnvilNode, stack: Stack
) -> None:
    events: list[tuple[str, int]] = []
    # 3 % slippage: the runner's own default would allow it; the service's policy caps 0.5 %
    spec = order(stack.uni, "too-loose", Side.BUY, "0.1", max_slippage_bps=300)

    async def scenario() -> list[Reject]:
        async with keyless(stack, anvil_node.url, None, events) as s:
            await s.venue.submit(spec)
            await s.until(lambda: s.of(Reject))
            return s.of(Reject)

    rejects = asyncio.run(scenario())
    assert rejects[0].reason == "RISK_SERVICE_REJECTED"
    assert rejects[0].detail.startswith("SLIPPAGE: Limit 3")
    assert "more than 0.5% adverse slippage" in rejects[0].detail
    assert events == []


CHILD = """
import asyncio, json, sys
from contextlib import closing
from pathlib import Path
from zkrisk.engine.chain.uniswap_deploy import UniswapAddresses
from zkrisk.engine.journal.events import OrderSpec
from zkrisk.engine.journal.sqlite import SQLiteJournal
from zkrisk.engine.pipeline.orders import Orders
from zkrisk.engine.pipeline.venues.signer_client import RemoteSigner
from zkrisk.engine.pipeline.venues.uniswap import UniswapVenue
from zkrisk.engine.pipeline.venues.uniswap_txlog import JournalTxLog

args = json.loads(sys.argv[1])
with closing(SQLiteJournal(Path(args["journal"]))) as journal:
    def folded():
        orders = Orders()
        for rec in journal.iter_from(0):
            orders.apply(rec)
        return orders
    signer = RemoteSigner(args["wallet"], signer_url=args["signer"], signer_token=args["token"],
                          risk_service_url=args["service"], risk_service_key=args["key"])
    venue = UniswapVenue(UniswapAddresses.model_validate(args["addresses"]), signer,
                         [args["rpc"]], tx_log=JournalTxLog(journal, "uniswap", folded))
    async def main():
        await venue.connect()
        await venue.submit(OrderSpec.model_validate(args["spec"]))
    asyncio.run(main())
"""


@pytest.mark.parametrize("crash_at", ["uniswap.queued_before_sign",
                                      "uniswap.signed_before_journal"])  # fmt: skip
def test_a_venue_killed_between_the_approval_and_the_signature_resumes_it_and_one_swap_is_mined(
    anvil_node: AnvilNode, stack: Stack, journal: SQLiteJournal, tmp_path: Path, crash_at: str
) -> None:
    spec = submitted(
        journal, order(stack.uni, f"kill-{crash_at[8:14]}", Side.BUY, "0.1", max_slippage_bps=40)
    )
    nonce = int(str(rpc(anvil_node, "eth_getTransactionCount", TRADER, "pending")), 16)
    args = {"journal": str(tmp_path / "journal.db"), "wallet": TRADER, "signer": stack.signer_url,
            "token": TOKEN, "service": stack.service.url, "key": API_KEY, "rpc": anvil_node.url,
            "addresses": stack.uni.addresses.model_dump(mode="json"),
            "spec": spec.model_dump(mode="json")}  # fmt: skip
    child = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args)], capture_output=True,
                           text=True, timeout=60, env=os.environ | {"ZKRISK_CRASH_AT": crash_at})  # fmt: skip
    assert child.returncode == -9, child.stderr
    queued = [r.event for r in journal.iter_from(0) if isinstance(r.event, OrderTxQueued)]
    assert [q.nonce for q in queued] == [nonce]
    assert not any(isinstance(r.event, OrderTxSigned) for r in journal.iter_from(0))
    # killed before the signer saw it: nothing out; after: the signer had signed and sent it
    out = 1 if crash_at == "uniswap.signed_before_journal" else 0
    assert (
        int(str(rpc(anvil_node, "eth_getTransactionCount", TRADER, "pending")), 16) == nonce + out
    )

    async def restarted() -> Session:
        async with keyless(stack, anvil_node.url, journal) as s:
            await s.until(lambda: s.of(Fill, spec.client_order_id), timeout=30)
        return s

    s = asyncio.run(restarted())
    fill = s.of(Fill, spec.client_order_id)[0]
    tx = rpc(anvil_node, "eth_getTransactionByHash", fill.venue_order_id)
    assert int(tx["nonce"], 16) == nonce and fill.quantity == Decimal("0.1")
    assert int(str(rpc(anvil_node, "eth_getTransactionCount", TRADER, "latest")), 16) == nonce + 1
    signed = [r.event for r in journal.iter_from(0) if isinstance(r.event, OrderTxSigned)]
    assert [(t.kind, t.tx_hash) for t in signed] == [("SWAP", fill.venue_order_id)]


def test_a_keyless_venue_restarted_with_a_swap_in_flight_leaves_its_sending_to_the_signer(
    anvil_node: AnvilNode, stack: Stack, journal: SQLiteJournal, tmp_path: Path
) -> None:
    """Killed after journaling a swap the signer sent (not mined yet): the restarted venue adopts
    it but does not broadcast the bytes itself (the signer's route may be a private relay)."""
    spec = submitted(journal, order(stack.uni, "kill-resent", Side.SELL, "0.1",
                                    max_slippage_bps=40))  # fmt: skip
    nonce = int(str(rpc(anvil_node, "eth_getTransactionCount", TRADER, "pending")), 16)
    args = {"journal": str(tmp_path / "journal.db"), "wallet": TRADER, "signer": stack.signer_url,
            "token": TOKEN, "service": stack.service.url, "key": API_KEY, "rpc": stack.node_proxy,
            "addresses": stack.uni.addresses.model_dump(mode="json"),
            "spec": spec.model_dump(mode="json")}  # fmt: skip
    stack.sends.clear()
    rpc(anvil_node, "evm_setAutomine", False)
    try:
        env = os.environ | {"ZKRISK_CRASH_AT": "uniswap.journaled_before_send"}
        child = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args)],
                               capture_output=True, text=True, timeout=60, env=env)  # fmt: skip
        assert child.returncode == -9, child.stderr
        assert stack.sends == [("sent", nonce)]  # the signer's one send; pending, not mined

        async def restarted() -> None:
            async with keyless(stack, stack.node_proxy, journal) as s:
                await asyncio.sleep(0.5)  # connect() adopted the order; a rebroadcast is sent
                rpc(anvil_node, "evm_mine")
                await s.until(lambda: s.of(Fill, spec.client_order_id), timeout=30)

        asyncio.run(restarted())
    finally:
        rpc(anvil_node, "evm_setAutomine", True)
    assert [n for event, n in stack.sends if n == nonce] == [nonce]
