"""`zkrisk hedge` on the shipped example: Greeks, the hedge orders and the gate's verdicts, the
same verdict `zkrisk check` gives that order, exit codes, and bad input named (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zkrisk.engine.cli.main import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOW = "1795183200"
runner = CliRunner()


def ex(name: str) -> str:
    return str(EXAMPLES / name)


FILES = ["--portfolio", ex("options-book.toml"), "--policy", ex("policy.toml"),
         "--assets", ex("options-assets.toml"), "--prices", ex("options-prices.toml")]  # fmt: skip
HEDGE = ["hedge", *FILES, "--derivatives", ex("derivatives.toml"),
         "--scenarios", ex("options-scenarios.csv"), "--counterparty", "binance", "--now", NOW]  # fmt: skip


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_spot_hedges_of_both_underlyings_pass_the_gate_with_exit_0() -> None:
    code, out, _ = run(*HEDGE, "--lot", "0.01")
    assert code == 0, out
    assert "portfolio Greeks per underlying" in out
    assert "hedge WETH: delta 20.6051 → -0.0049 with SELL 20.61 WETH" in out
    assert "hedge WBTC: delta -0.9516 → -0.0016 with BUY 0.95 WBTC" in out
    assert out.count("APPROVE  ") == 2
    assert "USDC" not in out.split("hedge ")[0]  # the quote asset is not hedged
    assert "WETH-PERP       -20  3,013.8  -60,276.00    6,027.60   3,013.80        -6.03" in out


def test_the_gate_gives_the_hedge_the_verdict_check_gives_the_same_order() -> None:
    code, out, _ = run(*HEDGE, "--lot", "0.01", "--underlying", "WETH", "--json")
    assert code == 0
    [hedge] = json.loads(out)["hedges"]
    order = hedge["order"]
    code, out, _ = run("check", *FILES, "--scenarios", ex("options-scenarios.csv"),
                       "--now", NOW, "--side", order["side"], "--symbol", order["symbol"],
                       "--quantity", order["quantity"], "--max-slippage-bps",
                       str(order["max_slippage_bps"]), "--counterparty", "binance",
                       "--client-order-id", order["client_order_id"], "--json")  # fmt: skip
    assert code == 0
    assert json.loads(out) == hedge["verdict"]


def test_perp_hedges_off_the_allowlist_are_rejected_with_every_reason_and_exit_1() -> None:
    code, out, _ = run(*HEDGE, "--lot", "0.01", "--via", "perp")
    assert code == 1
    assert "SELL 20.61 WETH-PERP" in out and "BUY 0.95 WBTC-PERP" in out
    assert out.count("INSTRUMENT_NOT_ALLOWED") == 2


def test_without_scenarios_the_gate_fails_closed() -> None:
    args = [a for a in HEDGE if a not in ("--scenarios", ex("options-scenarios.csv"))]
    code, out, _ = run(*args, "--underlying", "WETH")
    assert code == 1
    assert "REJECT" in out and "SCENARIOS_MISSING" in out


def test_a_delta_within_half_a_lot_sends_no_order() -> None:
    code, out, _ = run(*HEDGE, "--lot", "100")
    assert code == 0
    assert "every delta is within half a lot (100): no hedge order" in out


def test_a_missing_derivatives_file_is_bad_input() -> None:
    args = [ex("nope.toml") if a == ex("derivatives.toml") else a for a in HEDGE]
    code, _, err = run(*args)
    assert code == 2
    assert "nope.toml: file not found" in err


def test_a_bad_lot_and_an_unknown_underlying_are_bad_input() -> None:
    code, _, err = run(*HEDGE, "--lot", "abc")
    assert code == 2 and "--lot: 'abc' is not a decimal number" in err
    code, _, err = run(*HEDGE, "--underlying", "DOGE")
    assert code == 2 and "--underlying DOGE: not in the book or the assets" in err
    code, _, err = run(*HEDGE, "--underlying", "USDC")
    assert code == 2 and "--underlying USDC: the policy's quote asset pays" in err


def test_a_perp_hedge_without_a_perp_on_the_underlying_is_bad_input(tmp_path: Path) -> None:
    text = (EXAMPLES / "derivatives.toml").read_text(encoding="utf-8")
    no_btc_perp = text.replace(
        'symbol = "WBTC-PERP"\nunderlying = "WBTC"', 'symbol = "LINK-PERP"\nunderlying = "LINK"'
    )
    path = tmp_path / "derivatives.toml"
    path.write_text(no_btc_perp, encoding="utf-8")
    args = [str(path) if a == ex("derivatives.toml") else a for a in HEDGE]
    code, _, err = run(*args, "--via", "perp")
    assert code == 2
    assert "no perp on WBTC; add one or hedge with --via spot" in err


def test_a_premium_no_vol_reproduces_names_the_prices_file(tmp_path: Path) -> None:
    text = (EXAMPLES / "options-prices.toml").read_text(encoding="utf-8")
    path = tmp_path / "prices.toml"
    path.write_text(text.replace("price = 140.25", "price = 4000"), encoding="utf-8")
    args = [str(path) if a == ex("options-prices.toml") else a for a in HEDGE]
    code, _, err = run(*args)
    assert code == 2
    assert "prices.toml: option WETH-P2800: premium 4000.0" in err
    assert "no-arbitrage bounds" in err


@pytest.mark.parametrize("now", ["-5", str(2**64), "253402300800"])
def test_a_hedge_at_a_time_outside_the_calendar_is_bad_input_with_exit_2(now: str) -> None:
    args = [*HEDGE[: HEDGE.index("--now")], "--now", now]
    code, _, err = run(*args)
    assert code == 2 and "--now" in err and "Traceback" not in err
