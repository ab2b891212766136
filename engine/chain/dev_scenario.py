"""The development vault scenario shared by the forge fixtures, the Anvil tests and the benchmarks.

Three listed assets on a 4-slot price book (slot 3 stays empty, exercising the padding), a 6-decimal
margin token (USDC-like) and an 18-decimal ETH feed (exercising the price book's scaling). The
book is healthy at CALM prices with or without the withdrawal and unhealthy at CRASH prices:

    book: +1.5 WBTC, −12 WETH; margin 20,000 USDC
    CALM  (WETH 3,000, WBTC 60,000): HF = (18,000 + 70,200) / 36,000 = 2.45  (2.20 after −10,000)
    CRASH (WETH 4,000, WBTC 20,000): HF = (18,000 + 23,400) / 48,000 = 0.8625 (0.675 after)
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from ..risk.models import Asset, Portfolio, Position
from .vault_types import ListedAsset, VaultPolicy

USDC: Final = Asset(symbol="USDC", decimals=6, liquidation_threshold_bps=9_000,
                    collateral_factor_bps=8_500, price_source="chainlink:USDC/USD")  # fmt: skip
WETH: Final = Asset(symbol="WETH", decimals=18, liquidation_threshold_bps=8_250,
                    collateral_factor_bps=8_000, price_source="chainlink:ETH/USD")  # fmt: skip
WBTC: Final = Asset(symbol="WBTC", decimals=8, liquidation_threshold_bps=7_800,
                    collateral_factor_bps=7_300, price_source="chainlink:BTC/USD")  # fmt: skip
ASSETS: Final = (USDC, WETH, WBTC)
FEED_DECIMALS: Final = {"USDC": 8, "WETH": 18, "WBTC": 8}

CALM: Final = {"USDC": Decimal("1"), "WETH": Decimal("3000"), "WBTC": Decimal("60000")}
CRASH: Final = {"USDC": Decimal("1"), "WETH": Decimal("4000"), "WBTC": Decimal("20000")}

DEPOSIT: Final = 20_000 * 10**USDC.decimals  # token units
WITHDRAW: Final = 10_000 * 10**USDC.decimals

POLICY: Final = VaultPolicy(
    min_health_bps=10_500,
    degraded_min_health_bps=12_000,
    close_factor_bps=5_000,
    liquidation_bonus_bps=500,
    stale_slice_bps=2_500,
    liquidation_cooldown=3_600,
    max_proof_age=86_400,
    max_price_age=3_600,
    snapshot_window=600,
    max_attestation_age=86_400,
    min_leftover=100 * 10**USDC.decimals,
)
PRICE_BOOK_MAX_AGE: Final = 3_600


def listed_assets(prices: dict[str, Decimal] = CALM) -> tuple[ListedAsset, ...]:
    """The scenario's assets as mocks (token and feed deployed by deploy_vault_stack)."""
    return tuple(
        ListedAsset(asset=a, price=prices[a.symbol], feed_decimals=FEED_DECIMALS[a.symbol])
        for a in ASSETS
    )


def book(account: str) -> Portfolio:
    """The desk's book (margin lives in the vault, so the portfolio carries none)."""
    return Portfolio(
        account=account,
        positions=(
            Position(symbol="WBTC", quantity=Decimal("1.5")),
            Position(symbol="WETH", quantity=Decimal("-12")),
        ),
    )


def rebalanced_book(account: str) -> Portfolio:
    """The book after repaying half the ETH debt (for updateCommitment)."""
    return Portfolio(
        account=account,
        positions=(
            Position(symbol="WBTC", quantity=Decimal("1.5")),
            Position(symbol="WETH", quantity=Decimal("-6")),
        ),
    )
