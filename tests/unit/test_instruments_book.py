"""Derivatives in a book: the derivatives file validated with file and line, Greeks summed per
underlying (spot and perps delta one, options q·Greeks), implied vols from premiums, the hedge."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from zkrisk.engine.cli.hedge import load_derivatives
from zkrisk.engine.files import InputError, load_portfolio, load_prices
from zkrisk.engine.risk.instruments.black_scholes import bs_price
from zkrisk.engine.risk.instruments.contracts import DerivativesFile
from zkrisk.engine.risk.instruments.greeks import Greeks, bs_greeks
from zkrisk.engine.risk.instruments.hedge import delta_hedge
from zkrisk.engine.risk.instruments.portfolio_greeks import (
    SECONDS_PER_YEAR,
    MissingMarketData,
    UnderlyingGreeks,
    greeks_by_underlying,
    perp_exposures,
    position_greeks,
)
from zkrisk.engine.risk.kinds import Side
from zkrisk.engine.risk.models import Portfolio, PricePoint, PriceSnapshot

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ACCOUNT = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
NOW = 1_795_183_200
YEAR = NOW + SECONDS_PER_YEAR // 2  # half a year to expiry


def _snapshot(**prices: str) -> PriceSnapshot:
    return PriceSnapshot(
        prices={
            s.replace("_", "-"): PricePoint(price=Decimal(p), timestamp=NOW, round_id=1)
            for s, p in prices.items()
        },
        snapshot_id=1,
        taken_at=NOW,
    )


def _book(**positions: str) -> Portfolio:
    return Portfolio.model_validate({
        "account": ACCOUNT,
        "positions": [{"symbol": s.replace("_", "-"), "quantity": Decimal(q)} for s, q in positions.items()],
    })  # fmt: skip


DERIVATIVES = DerivativesFile.model_validate({
    "rate": Decimal("0.1"),
    "perps": [{"symbol": "ETH-PERP", "underlying": "ETH", "initial_margin_bps": 1000,
               "maintenance_margin_bps": 500}],
    "options": [
        {"symbol": "ETH-C40", "underlying": "ETH", "kind": "call", "strike": Decimal(40),
         "expiry": YEAR, "vol": Decimal("0.2")},
        {"symbol": "ETH-P40", "underlying": "ETH", "kind": "put", "strike": Decimal(40),
         "expiry": YEAR},
    ],
})  # fmt: skip


def test_spot_and_perps_count_delta_one_and_options_their_greeks() -> None:
    book = _book(ETH="10", ETH_PERP="-4", ETH_C40="-20", BTC="2")
    [btc, eth] = greeks_by_underlying(book, _snapshot(ETH="42", BTC="90000"), DERIVATIVES)
    call = bs_greeks(42, 40, 0.5, 0.1, 0.2, "call")
    assert btc == UnderlyingGreeks("BTC", Decimal(90000), Greeks(2.0, 0.0, 0.0, 0.0, 0.0))
    assert eth.greeks.delta == pytest.approx(10 - 4 - 20 * call.delta, abs=1e-12)
    assert eth.greeks.gamma == pytest.approx(-20 * call.gamma, abs=1e-12)
    assert eth.greeks.vega == pytest.approx(-20 * call.vega, abs=1e-9)
    assert eth.greeks.theta == pytest.approx(-20 * call.theta, abs=1e-9)
    assert eth.greeks.rho == pytest.approx(-20 * call.rho, abs=1e-9)
    assert eth.delta_usd == pytest.approx(eth.greeks.delta * 42)


def test_the_vault_margin_counts_as_a_spot_holding() -> None:
    book = Portfolio(account=ACCOUNT, margin=Decimal(500), margin_symbol="USDC")
    [usdc] = greeks_by_underlying(book, _snapshot(USDC="1"), DERIVATIVES)
    assert usdc.greeks.delta == 500.0


def test_an_option_without_a_vol_is_valued_at_the_vol_its_premium_implies() -> None:
    premium = bs_price(42, 40, 0.5, 0.1, 0.35, "put")
    book = _book(ETH_P40="3")
    snapshot = _snapshot(ETH="42", ETH_P40=f"{premium:.8f}")
    valued = position_greeks(book, snapshot, DERIVATIVES)["ETH-P40"]
    assert valued.vol == pytest.approx(0.35, abs=1e-7)
    [eth] = greeks_by_underlying(book, snapshot, DERIVATIVES)
    assert eth.greeks.delta == pytest.approx(
        3 * bs_greeks(42, 40, 0.5, 0.1, 0.35, "put").delta, abs=1e-6
    )


def test_a_premium_outside_the_no_arbitrage_bounds_says_how_to_fix_it() -> None:
    book = _book(ETH_P40="3")
    with pytest.raises(
        MissingMarketData,
        match=r"ETH-P40: premium 45\.0: .*no-arbitrage bounds.*give the option a vol",
    ):
        greeks_by_underlying(book, _snapshot(ETH="42", ETH_P40="45"), DERIVATIVES)


def test_a_missing_underlying_or_premium_price_is_named() -> None:
    with pytest.raises(MissingMarketData, match=r"no price for ETH \(needed by option ETH-C40\)"):
        greeks_by_underlying(_book(ETH_C40="1"), _snapshot(BTC="1"), DERIVATIVES)
    with pytest.raises(
        MissingMarketData,
        match=r"no price for ETH-P40 \(needed by option ETH-P40, which has no vol\)",
    ):
        greeks_by_underlying(_book(ETH_P40="1"), _snapshot(ETH="42"), DERIVATIVES)


def test_an_expired_option_has_its_intrinsic_delta() -> None:
    expired = DerivativesFile.model_validate({
        "options": [{"symbol": "ETH-C40", "underlying": "ETH", "kind": "call",
                     "strike": Decimal(40), "expiry": NOW - 60, "vol": Decimal("0.2")}],
    })  # fmt: skip
    [eth] = greeks_by_underlying(_book(ETH_C40="5"), _snapshot(ETH="42"), expired)
    assert eth.greeks == Greeks(5.0, 0.0, 0.0, 0.0, 0.0)


def test_the_hedge_trades_minus_delta_rounded_to_the_lot() -> None:
    long = UnderlyingGreeks("ETH", Decimal(42), Greeks(20.6051, -0.1, 0.0, 0.0, 0.0))
    order = delta_hedge(long, "ETH", Decimal("0.01"))
    assert order is not None
    assert (order.side, order.quantity, order.symbol) == (Side.SELL, Decimal("20.61"), "ETH")
    assert order.delta_after == pytest.approx(-0.0049)
    short = UnderlyingGreeks("ETH", Decimal(42), Greeks(-3.0, 0.0, 0.0, 0.0, 0.0))
    buy = delta_hedge(short, "ETH-PERP")
    assert buy is not None and (buy.side, buy.quantity, buy.delta_after) == (
        Side.BUY,
        Decimal(3),
        0.0,
    )


def test_a_delta_within_half_a_lot_needs_no_hedge() -> None:
    flat = UnderlyingGreeks("ETH", Decimal(42), Greeks(0.004, 0.0, 0.0, 0.0, 0.0))
    assert delta_hedge(flat, "ETH", Decimal("0.01")) is None
    with pytest.raises(ValueError, match="lot 0 must be a positive quantity"):
        delta_hedge(flat, "ETH", Decimal(0))


def test_the_shipped_example_loads_and_hedges_both_underlyings() -> None:
    book = load_portfolio(EXAMPLES / "options-book.toml")
    prices = load_prices(EXAMPLES / "options-prices.toml")
    derivatives = load_derivatives(EXAMPLES / "derivatives.toml")
    greeks = {g.underlying: g for g in greeks_by_underlying(book, prices, derivatives)}
    assert set(greeks) == {"USDC", "WETH", "WBTC"}
    assert greeks["WETH"].greeks.gamma < 0  # short calls dominate the long puts


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "derivatives.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_maintenance_rate_above_the_initial_one_is_refused_with_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, '[[perps]]\nsymbol = "ETH-PERP"\nunderlying = "ETH"\n'
                  "initial_margin_bps = 500\nmaintenance_margin_bps = 1000\n")  # fmt: skip
    with pytest.raises(
        InputError,
        match=r"derivatives.toml:1: perps.0: maintenance_margin_bps \(1000\) must not exceed",
    ):
        load_derivatives(path)


def test_an_unknown_option_kind_and_a_bad_strike_are_refused_with_their_lines(
    tmp_path: Path,
) -> None:
    path = tmp_path / "derivatives.yaml"
    path.write_text(
        "rate: 0.04\noptions:\n  - symbol: ETH-X\n    underlying: ETH\n    kind: straddle\n"
        "    strike: -5\n    expiry: 1798185600\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as caught:
        load_derivatives(path)
    text = str(caught.value)
    assert "derivatives.yaml:5: options.0.kind: Input should be 'call' or 'put'" in text
    assert "derivatives.yaml:6: options.0.strike: Input should be greater than 0" in text


def test_a_bad_toml_option_is_refused_with_the_line_of_its_entry(tmp_path: Path) -> None:
    path = _write(tmp_path, 'rate = 0.04\n\n[[options]]\nsymbol = "ETH-X"\nunderlying = "ETH"\n'
                  'kind = "call"\nstrike = -5\nexpiry = 1798185600\n')  # fmt: skip
    # The line of the field itself (7) or at least of its [[options]] entry (3).
    with pytest.raises(
        InputError,
        match=r"derivatives.toml:(3|7): options.0.strike: Input should be greater than 0",
    ):
        load_derivatives(path)


def test_a_symbol_defined_twice_or_a_derivative_underlying_is_refused() -> None:
    perp = {"symbol": "ETH-PERP", "underlying": "ETH", "initial_margin_bps": 1000,
            "maintenance_margin_bps": 500}  # fmt: skip
    with pytest.raises(ValueError, match="a symbol is defined twice: ETH-PERP"):
        DerivativesFile.model_validate({"perps": [perp, perp]})
    with pytest.raises(ValueError, match="underlying ETH-PERP is itself a derivative"):
        DerivativesFile.model_validate(
            {"perps": [perp, {**perp, "symbol": "X", "underlying": "ETH-PERP"}]}
        )


def test_an_unknown_field_is_refused_with_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "rate = 0.04\nvolatility = 0.3\n")
    with pytest.raises(InputError, match=r"derivatives.toml:2: volatility: unknown field"):
        load_derivatives(path)


def test_a_strike_the_fixed_point_cannot_hold_is_refused() -> None:
    option = {"symbol": "ETH-C", "underlying": "ETH", "kind": "call", "expiry": NOW}
    with pytest.raises(ValueError, match="option ETH-C strike"):
        DerivativesFile.model_validate({"options": [{**option, "strike": Decimal("1e30")}]})
    with pytest.raises(ValueError, match="option ETH-C strike"):
        DerivativesFile.model_validate({"options": [{**option, "strike": Decimal("0.000000001")}]})


def test_the_shipped_options_scenarios_are_what_their_generator_writes() -> None:
    import runpy

    script = EXAMPLES.parent / "scripts" / "gen_options_scenarios.py"
    render = runpy.run_path(str(script))["render"]
    assert (EXAMPLES / "options-scenarios.csv").read_text(encoding="utf-8") == render()


def test_perp_exposures_carry_margin_and_funding_at_the_mark() -> None:
    derivatives = DerivativesFile.model_validate({
        "perps": [{"symbol": "ETH-PERP", "underlying": "ETH", "initial_margin_bps": 1000,
                   "maintenance_margin_bps": 500, "funding_rate": Decimal("0.0001")}],
    })  # fmt: skip
    book = _book(ETH_PERP="-20", ETH="1")
    [perp] = perp_exposures(book, _snapshot(ETH_PERP="3000", ETH="2999"), derivatives)
    assert (perp.symbol, perp.quantity, perp.mark) == ("ETH-PERP", Decimal(-20), Decimal(3000))
    assert perp.notional == Decimal(-60_000)
    assert (perp.initial_margin, perp.maintenance_margin) == (Decimal(6_000), Decimal(3_000))
    assert perp.funding_payment == Decimal(-6)  # the short receives when funding is positive
    with pytest.raises(
        MissingMarketData, match=r"no price for ETH-PERP \(needed by perp ETH-PERP\)"
    ):
        perp_exposures(book, _snapshot(ETH="2999"), derivatives)
