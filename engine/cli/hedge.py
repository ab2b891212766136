"""`zkrisk hedge`: the book's Greeks per underlying and the delta-hedge order for each, every
order run through the pre-trade gate exactly as `zkrisk check` runs one.

The gate sees the same book, policy, assets, prices and scenarios `zkrisk check` would get, so a
hedge is refused for the same reasons any order is (a symbol off the allowlist, a stale price, a
breached VaR limit, …). Exit codes are `check`'s, for the worst verdict: 0 every order approved
(or no order needed), 1 one is rejected, 3 one is flagged for review, 2 bad input.
"""

from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..risk.kinds import TradingState, VerdictKind
from .common import UNIX_TIME_MAX, bad_input

if TYPE_CHECKING:
    from rich.console import RenderableType

    from ..risk.instruments.contracts import DerivativesFile
    from ..risk.instruments.hedge import HedgeOrder
    from ..risk.instruments.portfolio_greeks import PerpExposure, UnderlyingGreeks
    from ..risk.models import OrderIntent, Portfolio, Verdict

EPILOG = (
    "Exit codes (the worst verdict, as for check): 0 APPROVE or no order needed, 1 REJECT, "
    "3 FLAG_FOR_REVIEW, 2 bad input (a missing or invalid file, a bad option)."
)
EXIT_CODE = {VerdictKind.APPROVE: 0, VerdictKind.REJECT: 1, VerdictKind.FLAG_FOR_REVIEW: 3}
_WORST = (VerdictKind.REJECT, VerdictKind.FLAG_FOR_REVIEW, VerdictKind.APPROVE)


class Via(StrEnum):
    SPOT = "spot"
    PERP = "perp"


def load_derivatives(path: Path) -> DerivativesFile:
    """The derivatives file (TOML, YAML or JSON); errors name the file, line and field."""
    from ..files import load_model
    from ..risk.instruments.contracts import DerivativesFile

    return load_model(path, DerivativesFile)


def _hedged_underlyings(book: Portfolio, derivatives: DerivativesFile) -> set[str]:
    """The underlyings the book's perps and options are written on."""
    contracts = derivatives.contracts
    return {contracts[p.symbol].underlying for p in book.positions if p.symbol in contracts}


def hedge(
    portfolio: Annotated[Path, typer.Option(help="The book (TOML, YAML or JSON).", dir_okay=False)],
    derivatives: Annotated[
        Path, typer.Option(help="Terms of the book's perps and options.", dir_okay=False)
    ],
    policy: Annotated[Path, typer.Option(help="Risk policy (TOML or YAML).", dir_okay=False)],
    assets: Annotated[Path, typer.Option(help="Assets and lending parameters.", dir_okay=False)],
    prices: Annotated[
        Path,
        typer.Option(help="Prices: spot, perp marks and option premiums.", dir_okay=False),
    ],
    counterparty: Annotated[str, typer.Option(help="Venue the hedge orders go to.")],
    scenarios: Annotated[
        Path | None,
        typer.Option(
            help="Scenario set for the gate's VaR / ES; without one every order is refused.",
            dir_okay=False,
        ),
    ] = None,
    risk_arrays: Annotated[
        Path | None,
        typer.Option(
            help="Public risk arrays: adds the gate's portfolio-margin rule.", dir_okay=False
        ),
    ] = None,
    via: Annotated[
        Via, typer.Option(help="Hedge in the underlying's spot or in a perp on it.")
    ] = Via.SPOT,
    underlying: Annotated[
        list[str] | None,
        typer.Option(
            help="Hedge only this underlying (repeatable; default: every one the "
            "book's derivatives are on)."
        ),
    ] = None,
    lot: Annotated[str, typer.Option(help="Round order sizes to this lot.")] = "0.00000001",
    max_slippage_bps: Annotated[
        int | None,
        typer.Option(help="MARKET orders with this slippage tolerance (default: the policy's)."),
    ] = None,
    now: Annotated[
        int | None,
        typer.Option(
            help="Check at this unix time (default: the system clock).", min=0, max=UNIX_TIME_MAX
        ),
    ] = None,
    state: Annotated[
        TradingState, typer.Option(help="Desk trading state.", case_sensitive=False)
    ] = TradingState.ACTIVE,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Portfolio Greeks per underlying and the delta-hedge order for each, through the gate.

    Spot counts delta 1 per unit, perps delta 1 per contract, options q times their Black–Scholes Greeks (vega per 1.00 of vol, theta per year, rho per 1.00 of rate), valued at the price snapshot's time. Each hedge is a MARKET order of −delta units (rounded to --lot) checked by the pre-trade gate like any order.
    """
    from rich.console import Console

    from ..files import (
        asset_map,
        load_assets,
        load_model,
        load_policy_file,
        load_portfolio,
        load_prices,
        load_scenarios,
    )
    from ..risk.checks import RiskEngine
    from ..risk.instruments.hedge import delta_hedge
    from ..risk.instruments.portfolio_greeks import (
        MissingMarketData,
        greeks_by_underlying,
        perp_exposures,
    )
    from ..risk.margin.arrays import RiskArraySet
    from ..risk.models import CheckState

    with bad_input():
        try:
            lot_size = Decimal(lot)
        except InvalidOperation:
            raise ValueError(f"--lot: {lot!r} is not a decimal number") from None
        book = load_portfolio(portfolio)
        contracts = load_derivatives(derivatives)
        rules = load_policy_file(policy)
        market = load_assets(assets)
        snapshot = load_prices(prices)
        scenario_set = None if scenarios is None else load_scenarios(scenarios)
        try:
            exposures = greeks_by_underlying(book, snapshot, contracts)
            perps = perp_exposures(book, snapshot, contracts)
        except MissingMarketData as exc:
            source = {"prices": prices, "derivatives": derivatives}[exc.source]
            raise ValueError(f"{source}: {exc}") from None
        targets = set(underlying) if underlying else _hedged_underlyings(book, contracts)
        known = {e.underlying for e in exposures}
        unknown = sorted(targets - known - set(asset_map(market)))
        if unknown:
            raise ValueError(f"--underlying {', '.join(unknown)}: not in the book or the assets")
        if rules.quote_symbol in targets:
            raise ValueError(f"--underlying {rules.quote_symbol}: the policy's quote asset pays "
                             "for every hedge; it has no delta to hedge")  # fmt: skip
        orders: list[HedgeOrder] = []
        for exposure in exposures:
            if exposure.underlying not in targets:
                continue
            instrument = exposure.underlying
            if via is Via.PERP:
                perp = contracts.perp_for(exposure.underlying)
                if perp is None:
                    raise ValueError(f"{derivatives}: no perp on {exposure.underlying}; add one "
                                     "or hedge with --via spot")  # fmt: skip
                instrument = perp.symbol
            order = delta_hedge(exposure, instrument, lot_size)
            if order is not None:
                orders.append(order)
        slippage = rules.max_slippage_bps if max_slippage_bps is None else max_slippage_bps
        clock = int(time.time()) if now is None else now
        intents = [_intent(o, counterparty, slippage, clock) for o in orders]
        arrays = None if risk_arrays is None else load_model(risk_arrays, RiskArraySet)
        engine = RiskEngine(rules, market, scenario_set, risk_arrays=arrays)
        check_state = CheckState(trading_state=state, now=clock)
    verdicts = [engine.check(i, book, snapshot, check_state) for i in intents]
    shown = [e for e in exposures if e.underlying != rules.quote_symbol]
    if as_json:
        typer.echo(_as_json(shown, perps, orders, intents, verdicts))
    else:
        Console(highlight=False).print(_view(shown, perps, orders, intents, verdicts, lot_size))
    kinds = {v.kind for v in verdicts}
    raise typer.Exit(EXIT_CODE[next((k for k in _WORST if k in kinds), VerdictKind.APPROVE)])


def _intent(order: HedgeOrder, counterparty: str, slippage: int, now: int) -> OrderIntent:
    from ..files import validate
    from ..risk.models import OrderIntent, OrderType

    data = {
        "client_order_id": f"hedge-{order.underlying}-{now}",
        "symbol": order.symbol,
        "side": order.side.value,
        "quantity": order.quantity,
        "order_type": OrderType.MARKET.value,
        "max_slippage_bps": slippage,
        "counterparty": counterparty,
        "strategy_id": "delta-hedge",
    }
    return validate(data, {}, OrderIntent, "hedge order")


def _fmt(x: float, places: int) -> str:
    """Fixed places with thousands separators; 0 for what rounds to zero (never "-0.00")."""
    text = f"{x:,.{places}f}"
    return "0" if float(text.replace(",", "")) == 0 else text


def _greeks_table(exposures: list[UnderlyingGreeks]) -> RenderableType:
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for name in ("underlying", "price", "delta", "delta $", "gamma", "vega", "theta/yr", "rho"):
        table.add_column(name, justify="left" if name == "underlying" else "right")
    for e in exposures:
        g = e.greeks
        table.add_row(
            e.underlying,
            f"{e.spot:,f}",
            _fmt(g.delta, 4),
            _fmt(e.delta_usd, 0),
            f"{g.gamma:.4g}",
            _fmt(g.vega, 0),
            _fmt(g.theta, 0),
            _fmt(g.rho, 0),
        )
    return table


def _perps_table(perps: tuple[PerpExposure, ...]) -> RenderableType:
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for name in ("perp", "quantity", "mark", "notional", "initial m.", "maint. m.", "funding due"):
        table.add_column(name, justify="left" if name == "perp" else "right")
    for p in perps:
        table.add_row(
            p.symbol,
            f"{p.quantity.normalize():f}",
            f"{p.mark.normalize():,f}",
            f"{p.notional:,.2f}",
            f"{p.initial_margin:,.2f}",
            f"{p.maintenance_margin:,.2f}",
            f"{p.funding_payment:,.2f}",
        )
    return table


def _view(
    exposures: list[UnderlyingGreeks],
    perps: tuple[PerpExposure, ...],
    orders: list[HedgeOrder],
    intents: list[OrderIntent],
    verdicts: list[Verdict],
    lot: Decimal,
) -> RenderableType:
    from rich.console import Group
    from rich.text import Text

    from .render import verdict_view

    parts: list[RenderableType] = [
        Text("portfolio Greeks per underlying", style="bold"),
        _greeks_table(exposures),
        Text("delta in units of the underlying; vega per 1.00 of vol; rho per 1.00 of rate"),
    ]
    if perps:
        parts += [
            Text(""),
            Text("perps at their marks (USD)", style="bold"),
            _perps_table(perps),
            Text("funding due: paid this interval (negative: received)"),
        ]
    if not orders:
        parts += [Text(""), Text(f"every delta is within half a lot ({lot:f}): no hedge order")]
    for order, intent, verdict in zip(orders, intents, verdicts, strict=True):
        parts += [
            Text(""),
            Text(
                f"hedge {order.underlying}: delta {order.delta_before:,.4f} → "
                f"{order.delta_after:,.4f} with {order.side.value} {order.quantity:f} "
                f"{order.symbol}",
                style="bold",
            ),
            verdict_view(verdict, intent),
        ]
    return Group(*parts)


def _as_json(
    exposures: list[UnderlyingGreeks],
    perps: tuple[PerpExposure, ...],
    orders: list[HedgeOrder],
    intents: list[OrderIntent],
    verdicts: list[Verdict],
) -> str:
    import json

    return json.dumps(
        {
            "greeks": [
                {
                    "underlying": e.underlying,
                    "price": str(e.spot),
                    "delta": e.greeks.delta,
                    "delta_usd": e.delta_usd,
                    "gamma": e.greeks.gamma,
                    "vega": e.greeks.vega,
                    "theta": e.greeks.theta,
                    "rho": e.greeks.rho,
                }
                for e in exposures
            ],
            "perps": [
                {
                    "symbol": p.symbol,
                    "quantity": str(p.quantity),
                    "mark": str(p.mark),
                    "notional": str(p.notional),
                    "initial_margin": str(p.initial_margin),
                    "maintenance_margin": str(p.maintenance_margin),
                    "funding_payment": str(p.funding_payment),
                }
                for p in perps
            ],
            "hedges": [
                {
                    "underlying": o.underlying,
                    "delta_before": o.delta_before,
                    "delta_after": o.delta_after,
                    "order": json.loads(i.model_dump_json()),
                    "verdict": json.loads(v.model_dump_json()),
                }
                for o, i, v in zip(orders, intents, verdicts, strict=True)
            ],
        },
        indent=2,
    )
