"""Generate examples/backtest-pnl.csv: a SYNTHETIC daily P&L history for `zkrisk backtest`.

No real public price history can be downloaded on the project's build machines, so the series
comes from a seeded model with the two features a VaR backtest must face: fat tails (Student-t
innovations, 4 degrees of freedom) and regime changes (a calm, a normal and a stressed
volatility regime, with GARCH(1,1)-style clustering inside each). Three assets load on one
common factor; the book holds constant USD exposures (rebalanced daily), so its P&L is
Σ exposure · return, exact to the cent (exposures are multiples of $10,000, returns have six
decimals).

Only `random.Random(seed).random()` is used (its stream is reproducible across Python
versions), with Box–Muller normals, so the file is the same wherever it is regenerated:

    python scripts/gen_backtest_series.py          # rewrite examples/backtest-pnl.csv
    python scripts/gen_backtest_series.py --check  # exit 1 if the file is out of date
"""

from __future__ import annotations

import math
import random
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "examples" / "backtest-pnl.csv"
SEED = 32
DAYS = 500
START = date(2024, 1, 1)  # a Monday; business days only
EXPOSURES = {"WETH": 2_000_000, "WBTC": 1_500_000, "LINK": -500_000}  # USD, constant mix
BETAS = {"WETH": 1.1, "WBTC": 0.9, "LINK": 1.3}
IDIO_VOL = {"WETH": 0.012, "WBTC": 0.009, "LINK": 0.02}
T_DOF = 4
#: (first day, factor vol scale): calm, normal, a stress episode in the backtest year, normal.
REGIMES = ((0, 0.7), (150, 1.0), (330, 2.6), (360, 1.2))
FACTOR_VOL = 0.018


def _normal(rng: random.Random) -> float:
    u1, u2 = 1.0 - rng.random(), rng.random()  # u1 in (0, 1]: log is finite
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def _student_t(rng: random.Random) -> float:
    """A Student-t(ν) draw scaled to unit variance."""
    chi2 = sum(_normal(rng) ** 2 for _ in range(T_DOF))
    return _normal(rng) / math.sqrt(chi2 / T_DOF) * math.sqrt((T_DOF - 2) / T_DOF)


def _regime_scale(day: int) -> float:
    return [scale for first, scale in REGIMES if day >= first][-1]


def _business_days(n: int) -> list[date]:
    days: list[date] = []
    d = START
    while len(days) < n:
        if d.weekday() < 5:
            days.append(d)
        d += timedelta(days=1)
    return days


def render() -> str:
    rng = random.Random(SEED)
    lines = [
        "# SYNTHETIC daily P&L of a three-asset book (not market data): seeded model with",
        "# Student-t(4) tails and volatility regime changes; made by scripts/gen_backtest_series.py",
        f"# (seed {SEED}). Exposures USD: "
        + ", ".join(f"{s} {v:+,}" for s, v in EXPOSURES.items())
        + "; pnl = sum(exposure * return).",
        "date," + ",".join(EXPOSURES) + ",pnl",
    ]
    variance = 1.0  # GARCH(1,1) on the factor's unit shocks: clustering within a regime
    for day, when in enumerate(_business_days(DAYS)):
        shock = _student_t(rng) * math.sqrt(variance)
        variance = 0.05 + 0.10 * shock**2 + 0.85 * variance
        factor = FACTOR_VOL * _regime_scale(day) * shock
        returns = {
            s: Decimal(f"{BETAS[s] * factor + IDIO_VOL[s] * _student_t(rng):.6f}")
            for s in EXPOSURES
        }
        pnl = sum((v * returns[s] for s, v in EXPOSURES.items()), Decimal(0))
        cells = [f"{returns[s]:.6f}" for s in EXPOSURES]
        lines.append(f"{when.isoformat()},{','.join(cells)},{pnl:.2f}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET} is out of date: run python scripts/gen_backtest_series.py")
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET} ({DAYS} days)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
