"""Uniswap v2 venue on Anvil (automine: a transaction is mined as it arrives): approved order →
Fill decoded from the receipt, against a bare web3 send-and-wait of the same swap.

- `swap_to_confirmed_ms`: `UniswapVenue.submit` (eth_call simulation + gas estimate + fee read
  in one round trip, sign, broadcast) until its Fill comes out of `reports()`; the receipt is
  polled every 5 ms through the failover client with the primary down (a closed port), so every
  receipt comes from the backup endpoint.
- `swap_to_confirmed_both_up_ms`: the same with the primary up (no failover in the path).
- `swap_to_confirmed_baseline_web3_ms`: web3.py's own `send_raw_transaction` +
  `wait_for_transaction_receipt(poll_latency=0.005)` of the same router swap, pre-built (no
  simulation, fixed gas, no log decoding).

Orders alternate 0.05 WETH buys and sells so the pool stays near its price.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time

from tests.pipeline.uniswap_support import TRADER_KEY, deploy_and_fund, order, session
from zkrisk.engine.chain.anvil import anvil, free_port
from zkrisk.engine.chain.uniswap_deploy import UniswapDeployment
from zkrisk.engine.pipeline.venues.base import Fill
from zkrisk.engine.pipeline.venues.uniswap import LocalKeySigner
from zkrisk.engine.risk.models import Side

from .common import Metric, metric

RUNS = 30
POLL_S = 0.005


def _venue_samples(uni: UniswapDeployment, urls: list[str], tag: str) -> list[float]:
    async def scenario() -> list[float]:
        samples: list[float] = []
        async with session(uni, urls, poll_interval_s=POLL_S) as s:
            for i in range(RUNS + 2):  # two warm-up orders
                side = Side.BUY if i % 2 == 0 else Side.SELL
                coid = f"{tag}-{i}"
                spec = order(uni, coid, side, "0.05")
                t0 = time.perf_counter()
                await s.venue.submit(spec)
                while not s.of(Fill, coid):
                    await asyncio.sleep(0.0005)
                if i >= 2:
                    samples.append((time.perf_counter() - t0) * 1000)
        return samples

    return asyncio.run(scenario())


def _baseline_samples(uni: UniswapDeployment, url: str) -> list[float]:
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(url))
    account = LocalKeySigner(TRADER_KEY)
    me = account.address
    weth, usdc = uni.tokens["WETH"].address, uni.tokens["USDC"].address
    router = w3.eth.contract(address=uni.router.address, abi=uni.router.abi)
    samples: list[float] = []
    for i in range(RUNS + 2):
        amount = 5 * 10**16
        if i % 2 == 0:  # buy 0.05 WETH
            fn = router.functions.swapTokensForExactTokens(amount, 10**12, [usdc, weth], me, 2**40)
        else:
            fn = router.functions.swapExactTokensForTokens(amount, 0, [weth, usdc], me, 2**40)
        base = int(w3.eth.get_block("latest")["baseFeePerGas"])  # type: ignore[typeddict-item]
        tx = fn.build_transaction({"from": me, "gas": 250_000, "nonce": w3.eth.get_transaction_count(me),
                                   "maxFeePerGas": 2 * base + 10**9, "maxPriorityFeePerGas": 10**9})  # fmt: skip
        raw = account.sign(tx)
        t0 = time.perf_counter()
        receipt = w3.eth.wait_for_transaction_receipt(
            w3.eth.send_raw_transaction(raw), poll_latency=POLL_S
        )
        if i >= 2:
            samples.append((time.perf_counter() - t0) * 1000)
        assert receipt["status"] == 1
    return samples


def run() -> dict[str, Metric]:
    load = os.getloadavg()[0]
    with anvil() as node:
        uni = deploy_and_fund(node)
        dead = f"http://127.0.0.1:{free_port()}"
        failover = statistics.median(_venue_samples(uni, [dead, node.url], "fo"))
        both_up = statistics.median(_venue_samples(uni, [node.url, node.url], "up"))
        baseline = statistics.median(_baseline_samples(uni, node.url))
    note = f"Anvil automine, 5 ms receipt poll, load avg {load:.2f}"
    return {
        "swap_to_confirmed_ms": metric(failover, "ms", RUNS,
                                       f"submit → Fill, receipts from the backup (primary down); target ≤ 500; {note}"),
        "swap_to_confirmed_both_up_ms": metric(both_up, "ms", RUNS, f"submit → Fill, primary up; {note}"),
        "swap_to_confirmed_baseline_web3_ms": metric(baseline, "ms", RUNS,
                                                     f"bare web3 send_raw_transaction + wait_for_transaction_receipt; {note}"),
        "swap_to_confirmed_vs_web3_ratio": metric(failover / baseline, "x", RUNS,
                                                  "swap_to_confirmed_ms / the web3 baseline"),
    }  # fmt: skip


if __name__ == "__main__":
    for key, m in run().items():
        print(f"{key:40} {m['value']:>10} {m['unit']:3} {m['note']}")
