"""Generate examples/options-scenarios.csv: examples/scenarios.csv extended to the derivatives of
examples/options-book.toml, so the pre-trade gate's VaR / ES covers the whole book.

Each scenario is one day: the spot columns are the historical returns as they are; a perp's
return is its underlying's (its basis held fixed); an option's is its full Black–Scholes
revaluation one day later at the same vol, V(S·(1 + r), T − 1/365) / premium − 1, rounded to
the scenario file's 6 decimals. Vols and premiums are those of examples/derivatives.toml and
examples/options-prices.toml.

    python scripts/gen_options_scenarios.py          # rewrite examples/options-scenarios.csv
    python scripts/gen_options_scenarios.py --check  # exit 1 if the file is out of date
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

from zkrisk.engine.files import load_model, load_prices, load_scenarios
from zkrisk.engine.risk.instruments.black_scholes import bs_price
from zkrisk.engine.risk.instruments.contracts import DerivativesFile
from zkrisk.engine.risk.instruments.portfolio_greeks import SECONDS_PER_YEAR, value_options

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "examples" / "options-scenarios.csv"
SPOT = ("USDC", "WETH", "WBTC")
DAY = 1 / 365


def render() -> str:
    history = load_scenarios(ROOT / "examples" / "scenarios.csv")
    prices = load_prices(ROOT / "examples" / "options-prices.toml")
    derivatives = load_model(ROOT / "examples" / "derivatives.toml", DerivativesFile)
    rate = float(derivatives.rate)
    valued = value_options(list(derivatives.options), prices, rate)
    columns = [*SPOT, *(p.symbol for p in derivatives.perps)]
    columns += [o.symbol for o in derivatives.options]
    index = {s: j for j, s in enumerate(history.symbols)}
    lines = [
        "# examples/scenarios.csv extended to examples/options-book.toml's perps and options by",
        "# scripts/gen_options_scenarios.py (options: full revaluation one day on, same vol)",
        ",".join(columns),
    ]
    for row in history.returns:
        cells = [row[index[s]] for s in SPOT]
        cells += [row[index[p.underlying]] for p in derivatives.perps]
        for option, v in zip(derivatives.options, valued, strict=True):
            r = float(row[index[option.underlying]])
            spot = float(prices.prices[option.underlying].price) * (1 + r)
            t = max(v.t_years - DAY, 0.0)
            later = bs_price(spot, float(option.strike), t, rate, v.vol, option.kind)
            premium = float(prices.prices[option.symbol].price)
            cells.append(Decimal(f"{later / premium - 1:.6f}"))
        lines.append(",".join(f"{Decimal(c).normalize():f}" for c in cells))
    assert SECONDS_PER_YEAR == 365 * 86_400  # T and the one-day step share the ACT/365 year
    return "\n".join(lines) + "\n"


def main() -> int:
    text = render()
    if "--check" in sys.argv[1:]:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET} is out of date: run python scripts/gen_options_scenarios.py")
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
