"""The engine's processes never hold the trader's key: a real runner trading Uniswap through a
real signer process, with a real risk service approving each swap, is inspected through /proc
(its environment, its open files, every readable byte of its memory, and its children's) for
the trader's private key, raw or hex, and for its keystore. The same probe finds the key in the
signer process, so it is one that can fail. And a runner given both a key and a signer refuses
to start."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from eth_account import Account

from tests.pipeline.runner_support import (
    records_so_far,
    start_feed,
    start_runner,
    wait_until,
    write_config,
)
from tests.pipeline.test_runner_uniswap import steady_feed
from tests.pipeline.test_runner_venue import stop
from tests.pipeline.uniswap_support import Session
from zkrisk.engine.chain.anvil import DEV_PRIVATE_KEYS, AnvilNode
from zkrisk.engine.chain.client import ChainClient
from zkrisk.engine.chain.uniswap_deploy import UniswapDeployment, deploy_uniswap, save_addresses
from zkrisk.engine.journal.events import OrderFilled, OrderTxQueued
from zkrisk.engine.pipeline.venues.uniswap import LocalKeySigner, UniswapVenue
from zkrisk.engine.signer.keystore import new_keystore

from ..api.server_fixtures import free_port
from .keyless_stack import SIGNER_ENV, key_traces, risk_service, trader_signer, venue_toml
from .support import PASSPHRASE

# a 40 bps cross: inside the service's 50 bps slippage cap; one order a second (the signer's
# default rate limit is 60 a minute)
CROSSER = """[[signal.strategies]]
id = "crosser"
strategy = "tests.pipeline.plugin_strategies:CrossEveryNth"
symbols = ["WETH"]
params = { quantity = "0.1", every = 40, cross_bps = 40 }
"""


KEY = "0x" + secrets.token_hex(32)
"""The trader's key: a fresh one (an Anvil dev key is in every process that imports the dev
chain's helpers, so it would prove nothing)."""
WALLET = str(Account.from_key(KEY).address)


@dataclass
class Pools:
    uni: UniswapDeployment
    addresses: Path


@pytest.fixture(scope="module")
def pools(anvil_node: AnvilNode, tmp_path_factory: pytest.TempPathFactory) -> Pools:
    path = tmp_path_factory.mktemp("pools") / "addresses.json"
    uni = deploy_uniswap(ChainClient.connect(anvil_node.url, DEV_PRIVATE_KEYS[0]))
    save_addresses(uni.addresses, path)
    anvil_node.web3().provider.make_request("anvil_setBalance", [WALLET, hex(10**20)])  # type: ignore[arg-type]
    for symbol, amount in {"USDC": Decimal(100_000), "WETH": Decimal(10)}.items():
        uni.mint(symbol, WALLET, amount)

    async def allowances() -> None:  # the owner's one-time setup, with the key, in the test
        async with Session(UniswapVenue(uni.addresses, LocalKeySigner(KEY), [anvil_node.url])):
            pass

    asyncio.run(allowances())
    return Pools(uni, path)


def venue_section(anvil: AnvilNode, pools: Pools, signer_url: str, service_url: str) -> str:
    return (f'\n[venue]\nkind = "uniswap"\nreconcile_every_s = 0.5\n[venue.uniswap]\n'
            f'rpc_url = "{anvil.url}"\naddresses = "{pools.addresses}"\n'
            + venue_toml(signer_url, service_url, WALLET))  # fmt: skip


@pytest.fixture
def feed(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    proc = start_feed(port, "--rate", "40", "--file", str(steady_feed(tmp_path)))
    try:
        yield port
    finally:
        stop(proc)


def test_the_runner_and_the_risk_service_hold_no_trader_key_while_the_signer_does(
    anvil_node: AnvilNode, pools: Pools, tmp_path: Path, feed: int
) -> None:
    keystore = tmp_path / "signer" / "trader.json"
    keystore.parent.mkdir()
    keystore.write_text(new_keystore(KEY, PASSPHRASE, iterations=1024))
    with risk_service(tmp_path / "service", WALLET) as service, \
            trader_signer(tmp_path / "signer", pools.uni.addresses, wallets=[WALLET],
                          public_rpc_url=anvil_node.url) as signer:  # fmt: skip
        extra = venue_section(anvil_node, pools, signer.url, service.url)
        config = write_config(tmp_path, feed, strategies=CROSSER, extra=extra)
        run = start_runner(config, "--duration", "120", env=SIGNER_ENV)
        journal = tmp_path / "journal.db"
        try:
            wait_until(lambda: any(isinstance(r.event, OrderFilled)
                                   for r in records_so_far(journal)), timeout=60,
                       what="a swap signed by the signer filled")  # fmt: skip
            in_runner = key_traces(run.pid, KEY, keystore)
            in_service = key_traces(service.proc.pid, KEY, keystore)
            in_signer = key_traces(signer.process.pid, KEY, keystore)
        finally:
            stop(run)
        queued = [r.event for r in records_so_far(journal) if isinstance(r.event, OrderTxQueued)]
    assert in_runner == {"environ": set(), "fd": set(), "memory": set()}
    assert in_service == {"environ": set(), "fd": set(), "memory": set()}
    assert "raw" in in_signer["memory"]  # the probe finds a key where there is one
    # what the runner handed the signer: approvals from the service, never a key
    assert queued and all(json.loads(q.request)["approval"]["message"]["wallet"] == WALLET
                          for q in queued if q.route == "/v1/sign")  # fmt: skip


def test_a_runner_given_both_a_key_and_a_signer_refuses_to_start_naming_the_fix(
    anvil_node: AnvilNode, pools: Pools, tmp_path: Path
) -> None:
    extra = venue_section(anvil_node, pools, "http://127.0.0.1:9", "http://127.0.0.1:9")
    config = write_config(tmp_path, free_port(), strategies=CROSSER, extra=extra)
    run = start_runner(config, "--duration", "5",
                       env=SIGNER_ENV | {"ZKRISK_UNISWAP_KEY": KEY})  # fmt: skip
    _, err = run.communicate(timeout=60)
    assert run.returncode == 2, err.decode()
    assert "both a key ($ZKRISK_UNISWAP_KEY) and a signer (signer_url) are configured" in (
        err.decode()
    )
    assert "unset $ZKRISK_UNISWAP_KEY" in err.decode()
