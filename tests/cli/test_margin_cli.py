"""`zkrisk margin`: the example book's report, a shortfall (exit 1) and bad input (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from zkrisk.engine.cli.main import app

REPO = Path(__file__).resolve().parents[2]
BOOK = str(REPO / "examples" / "margin-book.toml")
ARRAYS = str(REPO / "examples" / "risk-arrays.toml")
runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["margin", *args])
    return result.exit_code, result.stdout, result.stderr


def write_book(tmp_path: Path, margin: str, extra: str = "") -> str:
    text = (REPO / "examples" / "margin-book.toml").read_text()
    path = tmp_path / "book.toml"
    path.write_text(text.replace("margin = 30_000", f"margin = {margin}") + extra)
    return str(path)


def test_margin_of_the_example_book_reports_every_scenario_and_the_excess() -> None:
    code, out, _ = run("--portfolio", BOOK, "--arrays", ARRAYS)
    assert code == 0
    assert " 13  price -1 scan, vol up                     9,863.65  <- worst" in out
    assert "requirement                  9,863.65 USD  (the larger of the two)" in out
    assert "excess                      20,136.35 USD" in out
    assert len([line for line in out.splitlines() if "scan, vol" in line or "same" in line]) >= 16


def test_margin_below_the_requirement_reports_the_shortfall_with_exit_1(tmp_path: Path) -> None:
    code, out, _ = run("--portfolio", write_book(tmp_path, "9_863.65"), "--arrays", ARRAYS)
    assert code == 1
    assert "shortfall                        0.01 USD" in out


def test_margin_exactly_at_the_requirement_is_covered(tmp_path: Path) -> None:
    code, out, _ = run("--portfolio", write_book(tmp_path, "9_863.65101348"), "--arrays", ARRAYS)
    assert code == 0, out


def test_margin_json_has_the_exact_requirement() -> None:
    code, out, _ = run("--portfolio", BOOK, "--arrays", ARRAYS, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["requirement_usd"] == "9863.6510134800000000"
    assert report["worst_scenario"] == "price -1 scan, vol up"
    assert report["covered"] is True


def test_a_book_instrument_without_a_risk_array_is_bad_input(tmp_path: Path) -> None:
    book = write_book(tmp_path, "30_000", '\n[[positions]]\nsymbol = "SOL-PERP"\nquantity = 1\n')
    code, _, err = run("--portfolio", book, "--arrays", ARRAYS)
    assert code == 2
    assert "risk-arrays.toml: no risk array for SOL-PERP" in " ".join(err.split())


def test_an_array_of_the_wrong_length_names_the_file_and_line(tmp_path: Path) -> None:
    arrays = tmp_path / "arrays.toml"
    arrays.write_text(
        'scenarios = ["up", "down"]\n\n[[instruments]]\nsymbol = "BTC-PERP"\npnl = [1]\n'
    )
    code, _, err = run("--portfolio", BOOK, "--arrays", str(arrays))
    assert code == 2
    assert "arrays.toml" in err and "1 P&L entries for 2 scenarios" in " ".join(err.split())


def check_with_arrays(tmp_path: Path, weth_down: str) -> tuple[int, str]:
    arrays = tmp_path / "arrays.toml"
    arrays.write_text(
        'scenarios = ["down 10%"]\n\n[collateral]\nUSDC = 1\n\n'
        + "".join(f'[[instruments]]\nsymbol = "{s}"\npnl = [{v}]\n\n'
                  for s, v in (("WETH", weth_down), ("WBTC", "-9000"), ("LINK", "-1.5"),
                               ("USDC", "0")))
    )  # fmt: skip
    ex = REPO / "examples"
    result = runner.invoke(app, [
        "check", "--portfolio", str(ex / "portfolio.toml"), "--assets", str(ex / "assets.toml"),
        "--prices", str(ex / "prices.toml"), "--policy", str(ex / "policy.toml"),
        "--scenarios", str(ex / "scenarios.csv"), "--now", "1795183200",
        "--order-file", str(ex / "order.toml"), "--risk-arrays", str(arrays), "--json",
    ])  # fmt: skip
    return result.exit_code, result.stdout


def test_check_with_risk_arrays_rejects_an_order_past_the_margin_held(tmp_path: Path) -> None:
    # 410 WETH · 300 + 12.5 WBTC · 9,000 + 20,000 LINK · 1.5 = 265,500 > 250,000 USDC held
    code, out = check_with_arrays(tmp_path, "-300")
    assert code == 1
    reasons = json.loads(out)["reasons"]
    assert [r["code"] for r in reasons] == ["PORTFOLIO_MARGIN"]
    assert "requirement $265,500.00 (worst scenario: down 10%)" in reasons[0]["message"]


def test_check_with_risk_arrays_approves_an_order_the_margin_covers(tmp_path: Path) -> None:
    code, _ = check_with_arrays(tmp_path, "-100")  # 183,500 ≤ 250,000
    assert code == 0
