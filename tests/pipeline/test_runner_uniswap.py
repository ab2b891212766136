"""The runner trading Uniswap v2 in fork mode: one Anvil holds the stack (the fork source, as
mainnet would), a second Anvil forks it, and `zkrisk run --venue uniswap --fork-url --addresses`
swaps on the source's pools from a wallet funded on the fork. Real feed server, real runner
process, real journal; the book checked against the wallet's balances on the fork."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from zkrisk.engine.chain.anvil import DEV_PRIVATE_KEYS, AnvilNode, start_anvil
from zkrisk.engine.chain.client import ChainClient
from zkrisk.engine.chain.uniswap_deploy import (
    UniswapDeployment,
    attach_uniswap,
    deploy_uniswap,
    from_units,
    load_addresses,
)
from zkrisk.engine.journal.events import (
    OrderAccepted,
    OrderFilled,
    OrderSpec,
    OrderSubmitted,
    ReconcileMismatch,
    Recorded,
)
from zkrisk.engine.pipeline.fills import Positions
from zkrisk.engine.pipeline.venues.base import Ack, Fill, VenueError
from zkrisk.engine.pipeline.venues.uniswap import LocalKeySigner, UniswapVenue
from zkrisk.engine.risk.models import Side

from ..api.server_fixtures import free_port
from .runner_support import (
    ZKRISK,
    records,
    records_so_far,
    start_feed,
    start_runner,
    wait_until,
    write_config,
)
from .test_runner_venue import stop

TRADER_KEY = DEV_PRIVATE_KEYS[2]
TRADER = LocalKeySigner(TRADER_KEY).address
KEY_ENV = {"ZKRISK_UNISWAP_KEY": TRADER_KEY}
FUNDING = {"USDC": Decimal(100_000), "WETH": Decimal(10)}

# 0.1 WETH moves a 333-WETH pool ~0.03 %; with the 0.3 % fee a swap costs ~0.33 % over the mid,
# inside a 40 bps cross (and the policy's 50 bps slippage cap): every order fills.
CROSSER = """[[signal.strategies]]
id = "crosser"
strategy = "tests.pipeline.plugin_strategies:CrossEveryNth"
symbols = ["WETH"]
params = { quantity = "0.1", every = 10, cross_bps = 40 }
"""
VENUE = '\n[venue]\nreconcile_every_s = 0.5\n[venue.uniswap]\nrpc_url = "http://127.0.0.1:9"\n'
"""The config's node is nowhere (port 9): the run trades where --fork-url says."""


@dataclass
class Fork:
    source: AnvilNode
    fork: AnvilNode
    addresses: Path
    uni: UniswapDeployment
    """Handles on the stack, through the fork (the deployer's key mints the mocks there)."""


@pytest.fixture(scope="module")
def forked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fork]:
    path = tmp_path_factory.mktemp("uniswap") / "addresses.json"
    source = start_anvil()
    fork: AnvilNode | None = None
    try:
        deploy_uniswap(ChainClient.connect(source.url, DEV_PRIVATE_KEYS[0]), save_to=path)
        fork = start_anvil(fork_url=source.url)
        uni = attach_uniswap(ChainClient.connect(fork.url, DEV_PRIVATE_KEYS[0]),
                             load_addresses(path))  # fmt: skip
        for symbol, amount in FUNDING.items():
            uni.mint(symbol, TRADER, amount)
        yield Fork(source, fork, path, uni)
    finally:
        if fork is not None:
            fork.stop()
        source.stop()


def steady_feed(tmp: Path) -> Path:
    """Quotes at the pools' prices (WETH 3000, WBTC 60000), replayed in a loop: the feed server's
    random walk would leave the pools, which nobody arbitrages here."""

    def quote(symbol: str, bid: str, ask: str) -> dict[str, str]:
        return {"type": "quote", "symbol": symbol, "bid": bid, "ask": ask, "bid_size": "5",
                "ask_size": "5"}  # fmt: skip

    rows = [quote("WETH", "2999.85", "3000.15"), quote("WETH", "2999.87", "3000.17"),
            quote("WBTC", "59997", "60003")]  # fmt: skip
    path = tmp / "steady.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def wallet(uni: UniswapDeployment) -> dict[str, Decimal]:
    out = {}
    for symbol, token in uni.tokens.items():
        units = int(token.functions.balanceOf(TRADER).call())
        out[symbol] = from_units(units, uni.addresses.token(symbol).decimals)
    return out


def fills_of(recs: list[Recorded]) -> list[OrderFilled]:
    return [r.event for r in recs if isinstance(r.event, OrderFilled)]


def run_args(forked: Fork, addresses: Path | None = None) -> list[str]:
    return ["--venue", "uniswap", "--fork-url", forked.fork.url,
            "--addresses", str(addresses or forked.addresses)]  # fmt: skip


def test_in_fork_mode_intents_are_swaps_acked_by_hash_filled_and_the_book_is_the_wallets_change(
    forked: Fork, tmp_path: Path
) -> None:
    feed_port = free_port()
    feed = start_feed(feed_port, "--rate", "40", "--file", str(steady_feed(tmp_path)))
    config = write_config(tmp_path, feed_port, strategies=CROSSER, extra=VENUE)
    start = wallet(forked.uni)
    run = start_runner(config, *run_args(forked), "--duration", "120", env=KEY_ENV)
    journal = tmp_path / "journal.db"
    try:
        wait_until(lambda: len(fills_of(records_so_far(journal))) >= 4, timeout=40,
                   what="four swaps filled")  # fmt: skip
        agreed_until = records_so_far(journal)[-1].position
        # Someone sends the wallet WETH behind the bot's back: the next reconciliation sees it
        # (one that finds no swap in flight: on a loaded machine that can take a while).
        forked.uni.mint("WETH", TRADER, Decimal(3))
        wait_until(lambda: any(isinstance(r.event, ReconcileMismatch)
                               for r in records_so_far(journal)), timeout=60,
                   what="a reconcile mismatch after the transfer")  # fmt: skip
        stop(run)
        assert run.returncode == 0, run.stderr
        recs = records(journal)
        submitted = {r.event.order.client_order_id: r for r in recs
                     if isinstance(r.event, OrderSubmitted)}  # fmt: skip
        acks = [r.event for r in recs if isinstance(r.event, OrderAccepted)]
        fills = fills_of(recs)
        assert all(r.event.order.venue == "uniswap" for r in submitted.values())
        # submitted → accepted with the transaction hash → filled by that transaction's swap
        for fill in fills:
            ack = next(a for a in acks if a.client_order_id == fill.client_order_id)
            assert fill.client_order_id in submitted
            assert ack.venue_order_id.startswith("0x") and len(ack.venue_order_id) == 66
            assert fill.fill_id.startswith(ack.venue_order_id + ":")
            receipt = forked.fork.web3().eth.get_transaction_receipt(ack.venue_order_id)  # type: ignore[arg-type]
            assert receipt["status"] == 1 and receipt["from"].lower() == TRADER.lower()
        positions = Positions()
        for r in recs:
            positions.apply(r)
        now = wallet(forked.uni)
        source = forked.source.web3().eth.contract(address=forked.uni.tokens["WETH"].address,
                                                   abi=forked.uni.tokens["WETH"].abi)  # fmt: skip
        assert source.functions.balanceOf(TRADER).call() == 0  # the swaps happened on the fork
        # the book is what the fills moved: the wallet's WETH change, less the transfer
        assert positions.quantity("WETH") == now["WETH"] - start["WETH"] - 3
        assert {f.side for f in fills} == {Side.BUY, Side.SELL}
        mismatches = [r for r in recs if isinstance(r.event, ReconcileMismatch)]
        assert all(r.position > agreed_until for r in mismatches)  # agreed until the transfer
        assert {m.event.venue_quantity - m.event.book_quantity for m in mismatches} == {3}  # type: ignore[union-attr]
        # what a restart (or `zkrisk reconcile`) compares against: the holdings before the run
        baseline = json.loads((tmp_path / "journal.uniswap-baseline.json").read_text())
        assert baseline["wallet"] == TRADER
        assert {s: Decimal(q) for s, q in baseline["balances"].items()} == start
    finally:
        stop(run, feed)


def test_balances_are_refused_with_a_swap_in_flight_or_unread_then_are_the_change_since_the_start(
    forked: Fork, tmp_path: Path
) -> None:
    """Reconciliation must not see a swap the book has not folded yet (a false mismatch, and
    REDUCING): the venue answers only at a settled moment, and then with the change."""
    key = DEV_PRIVATE_KEYS[4]
    me = LocalKeySigner(key).address
    forked.uni.mint("USDC", me, Decimal(10_000))
    venue = UniswapVenue(forked.uni.addresses, LocalKeySigner(key), [forked.fork.url],
                         baseline=tmp_path / "baseline.json")  # fmt: skip
    spec = OrderSpec(client_order_id="in-flight", venue="uniswap", symbol="WETH", side=Side.BUY,
                     quantity=Decimal("0.1"), max_slippage_bps=300,
                     reference_price=Decimal(3000))  # fmt: skip

    async def scenario() -> tuple[list[str], Mapping[str, Decimal], object]:
        await venue.connect()
        refused = []
        reports = venue.reports()
        w3 = forked.fork.web3()
        try:
            w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
            await venue.submit(spec)
            assert isinstance(await anext(reports), Ack)  # read: only the swap is in flight
            with pytest.raises(VenueError) as pending:
                await venue.balances()
            refused.append(str(pending.value))
            w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
            w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
            while await venue.open_orders():  # mined: its Fill waits, unread
                await asyncio.sleep(0.01)
            with pytest.raises(VenueError) as unread:
                await venue.balances()
            refused.append(str(unread.value))
            report = await anext(reports)
            return refused, await venue.balances(), report
        finally:
            w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
            await venue.close()

    refused, change, fill = asyncio.run(scenario())
    assert refused == 2 * ["orders in flight: the balances are not comparable with the book "
                           "now (the next round reconciles)"]  # fmt: skip
    assert isinstance(fill, Fill) and change["WETH"] == fill.quantity == Decimal("0.1")
    assert change["USDC"] == -(fill.quantity * fill.price).quantize(Decimal("0.000001"))

    async def restarted() -> Mapping[str, Decimal]:
        again = UniswapVenue(forked.uni.addresses, LocalKeySigner(key), [forked.fork.url],
                             baseline=tmp_path / "baseline.json")  # fmt: skip
        await again.connect()
        try:
            return await again.balances()
        finally:
            await again.close()

    # a restart (or `zkrisk reconcile`) measures from the same start, not from its own connect
    assert asyncio.run(restarted())["WETH"] == Decimal("0.1")


def _run_fails(config: Path, *args: str, env: dict[str, str] = KEY_ENV) -> str:
    proc = start_runner(config, *args, "--duration", "5", env=env)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err.decode()
    return err.decode()


def test_an_address_without_a_contract_stops_the_run_with_exit_2_naming_it(
    forked: Fork, tmp_path: Path
) -> None:
    data = json.loads(forked.addresses.read_text())
    data["router"] = "0x000000000000000000000000000000000000dEaD"
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps(data))
    config = write_config(tmp_path, free_port(), strategies=CROSSER, extra=VENUE)
    err = _run_fails(config, *run_args(forked, wrong))
    assert "router = 0x000000000000000000000000000000000000dEaD has no contract code" in err


def test_a_pool_of_other_tokens_stops_the_run_with_exit_2_naming_the_pool(
    forked: Fork, tmp_path: Path
) -> None:
    data = json.loads(forked.addresses.read_text())
    data["pairs"]["WETH"] = data["pairs"]["WBTC"]
    wrong = tmp_path / "swapped.json"
    wrong.write_text(json.dumps(data))
    config = write_config(tmp_path, free_port(), strategies=CROSSER, extra=VENUE)
    err = _run_fails(config, *run_args(forked, wrong))
    assert "pairs.WETH" in err and "not tokens.WETH and tokens.USDC" in err


def test_a_missing_addresses_file_stops_the_run_with_exit_2_saying_how_to_make_one(
    forked: Fork, tmp_path: Path
) -> None:
    config = write_config(tmp_path, free_port(), strategies=CROSSER, extra=VENUE)
    err = _run_fails(config, *run_args(forked, tmp_path / "nowhere.json"))
    assert "nowhere.json" in err and "deploy_uniswap" in err and "--addresses" in err


def test_without_the_wallet_key_in_the_environment_the_run_stops_with_exit_2(
    forked: Fork, tmp_path: Path
) -> None:
    config = write_config(tmp_path, free_port(), strategies=CROSSER, extra=VENUE)
    err = _run_fails(config, *run_args(forked), env={"ZKRISK_UNISWAP_KEY": ""})
    assert "set $ZKRISK_UNISWAP_KEY to the trading wallet's private key" in err


def test_a_baseline_of_another_wallet_stops_the_run_with_exit_2_naming_both(
    forked: Fork, tmp_path: Path
) -> None:
    config = write_config(tmp_path, free_port(), strategies=CROSSER, extra=VENUE)
    other = LocalKeySigner(DEV_PRIVATE_KEYS[3]).address
    (tmp_path / "journal.uniswap-baseline.json").write_text(
        json.dumps({"chain_id": 31337, "wallet": other, "balances": {"WETH": "1"}})
    )
    err = _run_fails(config, *run_args(forked))
    assert f"the baseline of wallet {other}" in err and f"trades wallet {TRADER}" in err


def test_fork_flags_without_the_uniswap_venue_are_refused(tmp_path: Path) -> None:
    import subprocess

    config = write_config(tmp_path, free_port(), strategies=CROSSER, extra=VENUE)
    proc = subprocess.run([*ZKRISK, "run", "--config", str(config), "--fork-url",
                           "http://127.0.0.1:9"], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2 and "--venue uniswap" in proc.stderr
