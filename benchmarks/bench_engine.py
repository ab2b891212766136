"""Risk engine core: pre-trade checks on a 50-asset book, historical VaR + ES on 1000 × 2500."""

from __future__ import annotations

import random
import time
from decimal import Decimal

import numpy as np

from zkrisk.engine.risk.checks import RiskEngine
from zkrisk.engine.risk.metrics.var import historical_var_es, scenario_losses
from zkrisk.engine.risk.models import (
    Asset,
    CheckState,
    OrderIntent,
    Portfolio,
    Position,
    PricePoint,
    PriceSnapshot,
    RiskPolicy,
    ScenarioSet,
    Side,
    TradingState,
)

from .common import Metric, median_ms, metric

NOW = 1_700_000_000
BOOK_ASSETS = 50
BOOK_SCENARIOS = 500
CHECKS = 20_000
VAR_ASSETS, VAR_SCENARIOS, VAR_RUNS = 1_000, 2_500, 21


def book_fixture(
    n: int = BOOK_ASSETS, k: int = BOOK_SCENARIOS, seed: int = 7
) -> tuple[RiskEngine, Portfolio, PriceSnapshot, list[OrderIntent]]:
    """A realistic book: n assets long and short against USDC, k daily return scenarios."""
    rng = random.Random(seed)
    symbols = [f"A{i:03d}" for i in range(n)]
    everything = [*symbols, "USDC"]
    assets = [
        Asset(symbol=s, decimals=18, liquidation_threshold_bps=8_000, collateral_factor_bps=7_500,
              price_source=f"chainlink:{s}/USD")
        for s in everything
    ]  # fmt: skip
    prices = {s: Decimal(rng.randint(100, 500_000)) / 100 for s in symbols} | {"USDC": Decimal(1)}
    snapshot = PriceSnapshot(
        prices={s: PricePoint(price=p, timestamp=NOW - 10, round_id=1) for s, p in prices.items()},
        snapshot_id=1,
        taken_at=NOW,
    )
    positions = [
        *(
            Position(symbol=s, quantity=Decimal(rng.randint(-50_000, 200_000)) / 1000)
            for s in symbols
        ),
        Position(symbol="USDC", quantity=Decimal(5_000_000)),
    ]
    book = Portfolio(
        account="0x" + "ab" * 20, positions=tuple(positions), margin=Decimal(1_000_000),
        margin_symbol="USDC",
    )  # fmt: skip
    # Daily returns ~ N(0, 3 %), written as exact 6-decimal strings; USDC never moves.
    returns = tuple(
        (*(Decimal(f"{rng.gauss(0, 0.03):.6f}") for _ in symbols), Decimal(0)) for _ in range(k)
    )
    scenarios = ScenarioSet(symbols=tuple(everything), returns=returns)
    policy = RiskPolicy(
        policy_id="bench", instruments=tuple(symbols), counterparties=("venue",),
        quote_symbol="USDC", max_order_quantity=Decimal(1_000), max_order_notional_usd=Decimal(10**7),
        max_position_quantity=Decimal(10**6), max_gross_exposure_usd=Decimal(10**10),
        max_net_exposure_usd=Decimal(10**10), max_concentration_bps=9_000, price_band_bps=500,
        max_slippage_bps=100, max_orders_per_window=1_000, rate_window_seconds=1,
        max_price_age_seconds=60, min_health_factor_bps=10_500, var_confidence_bps=9_900,
        max_var_usd=Decimal(10**9), max_es_usd=Decimal(10**9),
    )  # fmt: skip
    engine = RiskEngine(policy, assets, scenarios)
    intents = [
        OrderIntent(
            client_order_id=f"o{i}",
            symbol=(s := rng.choice(symbols)),
            side=rng.choice((Side.BUY, Side.SELL)),
            quantity=Decimal(rng.randint(1, 10_000)) / 100,
            limit_price=prices[s],
            counterparty="venue",
        )
        for i in range(1_000)
    ]
    return engine, book, snapshot, intents


def bench_precheck() -> dict[str, Metric]:
    engine, book, snapshot, intents = book_fixture()
    state = CheckState(
        trading_state=TradingState.ACTIVE, now=NOW, recent_order_times=(NOW - 1,) * 5
    )
    check = engine.check
    for intent in intents:  # warm the book cache and the code paths
        check(intent, book, snapshot, state)
    samples = []
    clock = time.perf_counter_ns
    start = clock()
    for i in range(CHECKS):
        t0 = clock()
        check(intents[i % len(intents)], book, snapshot, state)
        samples.append(clock() - t0)
    elapsed = (clock() - start) / 1e9
    samples.sort()
    p99_us = samples[int(len(samples) * 0.99)] / 1e3
    note = (
        f"{BOOK_ASSETS}-asset book, {BOOK_SCENARIOS} scenarios, every rule incl. post-trade HF, "
        "VaR and ES; one thread; book valued once per (portfolio, snapshot) and cached"
    )
    return {
        "precheck_per_s": metric(CHECKS / elapsed, "checks/s", CHECKS, note),
        "precheck_p99_us": metric(p99_us, "µs", CHECKS, note),
    }


def bench_var_es() -> dict[str, Metric]:
    rng = np.random.default_rng(11)
    returns = rng.normal(0.0, 0.02, size=(VAR_SCENARIOS, VAR_ASSETS))
    values = rng.uniform(-1e6, 3e6, size=VAR_ASSETS)

    def once() -> tuple[float, float]:
        return historical_var_es(scenario_losses(values, returns), 0.99)

    ms = median_ms(once, VAR_RUNS, warmup=3)
    note = "float64 losses = −R·v then O(K) partition; α = 0.99; median"
    return {"var_es_hist_1000x2500_ms": metric(ms, "ms", VAR_RUNS, note)}


def run() -> dict[str, Metric]:
    return {**bench_precheck(), **bench_var_es()}


if __name__ == "__main__":
    for name, m in run().items():
        print(f"{name:28} {m['value']:>12,} {m['unit']:9} {m['note']}")
