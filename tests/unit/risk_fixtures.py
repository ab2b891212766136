"""Small, hand-checkable books, prices, policies and engines for the risk-engine unit tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from zkrisk.engine.risk.checks import RiskEngine
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
    TradingState,
)

NOW = 1_700_000_000  # Tuesday 2023-11-14 22:13:20 UTC
ACCOUNT = "0x" + "12" * 20
D = Decimal

# LT 100 % on WETH and USDC keeps health factors round in hand-made examples.
ASSETS = (
    Asset(symbol="USDC", decimals=6, liquidation_threshold_bps=10_000, collateral_factor_bps=9_000,
          price_source="chainlink:USDC/USD"),
    Asset(symbol="WETH", decimals=18, liquidation_threshold_bps=10_000, collateral_factor_bps=8_000,
          price_source="chainlink:ETH/USD"),
    Asset(symbol="WBTC", decimals=8, liquidation_threshold_bps=8_000, collateral_factor_bps=7_000,
          price_source="chainlink:BTC/USD"),
    Asset(symbol="LINK", decimals=18, liquidation_threshold_bps=7_000, collateral_factor_bps=6_000,
          price_source="chainlink:LINK/USD"),
)  # fmt: skip
PRICES = {"USDC": D(1), "WETH": D(2000), "WBTC": D(100_000), "LINK": D(10)}

# Three scenarios; the book's losses are easy to compute by hand.
SCENARIOS = ScenarioSet(
    symbols=("USDC", "WETH", "WBTC", "LINK"),
    returns=(
        (D(0), D("-0.10"), D("-0.05"), D("-0.20")),
        (D(0), D("0.02"), D("0.01"), D("0.05")),
        (D(0), D("-0.01"), D("0.03"), D(0)),
    ),
)


def policy(**overrides: Any) -> RiskPolicy:
    """A permissive policy: every limit far away unless a test tightens it."""
    fields: dict[str, Any] = {
        "policy_id": "test/1",
        "instruments": ("WETH", "WBTC", "LINK"),
        "counterparties": ("venue-a",),
        "quote_symbol": "USDC",
        "max_order_quantity": D(1_000),
        "max_order_notional_usd": D(10**9),
        "max_position_quantity": D(10_000),
        "max_gross_exposure_usd": D(10**10),
        "max_net_exposure_usd": D(10**10),
        "max_concentration_bps": 10_000,
        "price_band_bps": 10_000,
        "max_slippage_bps": 10_000,
        "max_orders_per_window": 100,
        "rate_window_seconds": 10,
        "max_price_age_seconds": 60,
        "min_health_factor_bps": 10_000,
        "var_confidence_bps": 5_000,
        "max_var_usd": D(10**9),
    }
    fields.update(overrides)
    return RiskPolicy(**fields)


def book(positions: dict[str, str] | None = None, **kw: Any) -> Portfolio:
    """Default book: 10 WETH and 200,000 USDC of collateral against 1 WBTC of debt (HF 2.2)."""
    held = positions if positions is not None else {"WETH": "10", "USDC": "200000", "WBTC": "-1"}
    return Portfolio(
        account=ACCOUNT,
        positions=tuple(Position(symbol=s, quantity=D(q)) for s, q in held.items()),
        **kw,
    )


def snapshot(prices: dict[str, Decimal] | None = None, *, stamp: int = NOW) -> PriceSnapshot:
    chosen = PRICES if prices is None else prices
    return PriceSnapshot(
        prices={s: PricePoint(price=p, timestamp=stamp, round_id=7) for s, p in chosen.items()},
        snapshot_id=42,
        taken_at=stamp,
    )


def order(**overrides: Any) -> OrderIntent:
    """BUY 1 WETH at the reference price on an allowed venue."""
    fields: dict[str, Any] = {
        "client_order_id": "c-1",
        "symbol": "WETH",
        "side": "BUY",
        "quantity": D(1),
        "limit_price": D(2000),
        "counterparty": "venue-a",
    }
    fields.update(overrides)
    return OrderIntent(**fields)


def state(**overrides: Any) -> CheckState:
    fields: dict[str, Any] = {"trading_state": TradingState.ACTIVE, "now": NOW}
    fields.update(overrides)
    return CheckState(**fields)


def engine(scenarios: ScenarioSet | None = SCENARIOS, **policy_overrides: Any) -> RiskEngine:
    return RiskEngine(policy(**policy_overrides), ASSETS, scenarios)


def codes(**kw: Any) -> tuple[str, ...]:
    """Reason codes of one check; keyword groups: policy=..., order=..., book=..., ..."""
    eng = kw.get("eng") or engine(**kw.get("policy", {}))
    verdict = eng.check(
        kw.get("intent") or order(**kw.get("order", {})),
        kw.get("portfolio") or book(),
        kw.get("prices") or snapshot(),
        kw.get("st") or state(),
    )
    return verdict.codes
