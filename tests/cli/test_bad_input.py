"""Bad input, table-driven: every case exits 2 with `error: FILE:LINE: …` naming the line at
fault, never a traceback (issue 14: 15 of 117 bad inputs named the file but not the line)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zkrisk.engine.cli.common import UNIX_TIME_MAX
from zkrisk.engine.cli.main import app
from zkrisk.engine.risk import fixed_point as fp

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOW = "1795183200"
runner = CliRunner()

FILES = {
    "--portfolio": EXAMPLES / "portfolio.toml",
    "--assets": EXAMPLES / "assets.toml",
    "--prices": EXAMPLES / "prices.toml",
    "--policy": EXAMPLES / "policy.toml",
    "--scenarios": EXAMPLES / "scenarios.csv",
    "--order-file": EXAMPLES / "order.toml",
}

PORTFOLIO_YAML = """\
account: "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
margin: 250000
margin_symbol: USDC
positions:
  - symbol: WETH
    quantity: 400
  - symbol: USDC
    quantity: -600000
"""
PORTFOLIO_JSON = """\
{
  "account": "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
  "margin": 250000,
  "margin_symbol": "USDC",
  "positions": [
    {"symbol": "WETH", "quantity": 400},
    {"symbol": "USDC",
     "quantity": -600000}
  ]
}
"""
ORDER_YAML = """\
client_order_id: desk-a-1
symbol: WETH
side: BUY
quantity: 10
limit_price: 3015
counterparty: binance
"""
ORDER_JSON = json.dumps(
    {"client_order_id": "desk-a-1", "symbol": "WETH", "side": "BUY", "quantity": 10,
     "limit_price": 3015, "counterparty": "binance"}, indent=2,
)  # fmt: skip
PRICES_JSON = json.dumps(
    json.loads(json.dumps({
        "snapshot_id": 1042, "taken_at": 1795183200,
        "prices": {s: {"price": p, "timestamp": 1795183140, "round_id": 1}
                   for s, p in (("USDC", "1.0001"), ("WETH", "3012.45"), ("WBTC", "91240.5"),
                                ("LINK", "14.873"))},
    })), indent=2,
)  # fmt: skip


def example(option: str) -> str:
    return FILES[option].read_text()


@dataclass(frozen=True)
class Case:
    """One bad file: `option` gets `name` with `text`; the error must name the line of `needle`
    (its `nth` occurrence, 1-based, -1 for the last)."""

    id: str
    option: str
    name: str
    text: str
    needle: str
    nth: int = 1
    says: str = ""

    def line(self) -> int:
        hits = [i for i, t in enumerate(self.text.splitlines(), 1) if self.needle in t]
        assert hits, f"{self.id}: needle {self.needle!r} not in the text"
        return hits[self.nth - 1 if self.nth > 0 else self.nth]


def sub(option: str, old: str, new: str, count: int = 1) -> str:
    text = example(option)
    assert old in text, (option, old)
    return text.replace(old, new, count)


P, A, R, POL, S, ORD = (
    "--portfolio",
    "--assets",
    "--prices",
    "--policy",
    "--scenarios",
    "--order-file",
)
CASES = [
    # -- portfolio, TOML
    Case("toml-unknown-field", P, "p.toml", example(P) + "leverage = 3\n", "leverage"),
    Case(
        "toml-third-position-decimals",
        P,
        "p.toml",
        sub(P, "quantity = 20_000", "quantity = 1.123456789"),
        "1.123456789",
    ),
    Case(
        "toml-quantity-too-wide",
        P,
        "p.toml",
        sub(P, "quantity = 12.5", "quantity = 20_000_000_000_000_000"),
        "20_000_000_000_000_000",
        says="2**80",
    ),
    Case(
        "toml-duplicate-key",
        P,
        "p.toml",
        sub(P, 'margin_symbol = "USDC"', 'margin_symbol = "USDC"\nmargin = 1'),
        "margin = 1",
        says="duplicate key 'margin'",
    ),
    Case(
        "toml-bad-account",
        P,
        "p.toml",
        sub(P, "0x70997970c51812dc3a010c7d01b50e0d17dc79c8", "0x123"),
        "0x123",
    ),
    Case(
        "toml-negative-margin",
        P,
        "p.toml",
        sub(P, "margin = 250_000", "margin = -5"),
        "margin = -5",
    ),
    Case(
        "toml-lowercase-symbol", P, "p.toml", sub(P, 'symbol = "LINK"', 'symbol = "link"'), '"link"'
    ),
    Case(
        "toml-quantity-not-a-number",
        P,
        "p.toml",
        sub(P, "quantity = 400", 'quantity = "abc"'),
        '"abc"',
    ),
    Case(
        "toml-duplicate-position",
        P,
        "p.toml",
        sub(P, 'symbol = "LINK"', 'symbol = "WETH"'),
        "[[positions]]",
        nth=3,
        says="duplicate",
    ),  # the second WETH, third position
    Case(
        "toml-notional-beyond-the-fixed-point",
        P,
        "p.toml",
        sub(P, "quantity = 12.5", "quantity = 2_000_000_000_000_000"),
        "2_000_000_000_000_000",
        says="MAX_NOTIONAL_USD",
    ),
    # -- portfolio, YAML and JSON
    Case(
        "yaml-duplicate-key",
        P,
        "p.yaml",
        PORTFOLIO_YAML + "margin: 1\n",
        "margin: 1",
        says="duplicate key",
    ),
    Case(
        "yaml-duplicate-key-in-a-position",
        P,
        "p.yaml",
        PORTFOLIO_YAML.replace("quantity: 400", "quantity: 400\n    quantity: 4"),
        "quantity: 4",
        nth=2,
        says="duplicate key",
    ),
    Case(
        "yaml-second-position-bad",
        P,
        "p.yaml",
        PORTFOLIO_YAML.replace("quantity: -600000", "quantity: -1.123456789"),
        "-1.123456789",
    ),
    Case("yaml-unknown-field", P, "p.yaml", PORTFOLIO_YAML + "levrage: 2\n", "levrage"),
    Case(
        "yaml-syntax",
        P,
        "p.yaml",
        PORTFOLIO_YAML.replace("margin: 250000", "margin: a: b"),
        "margin: a: b",
    ),
    Case(
        "json-duplicate-key",
        P,
        "p.json",
        PORTFOLIO_JSON.replace('"margin": 250000,', '"margin": 250000,\n  "margin": 1,'),
        '"margin": 1',
        says="duplicate key",
    ),
    Case(
        "json-second-position-bad",
        P,
        "p.json",
        PORTFOLIO_JSON.replace("-600000", "-1.123456789"),
        "-1.123456789",
    ),
    Case(
        "json-unknown-field",
        P,
        "p.json",
        PORTFOLIO_JSON.replace('"margin": 250000,', '"margin": 250000,\n  "lev": 2,'),
        '"lev"',
    ),
    Case(
        "json-syntax",
        P,
        "p.json",
        PORTFOLIO_JSON.replace('"USDC",\n', '"USDC"\n', 1),
        '"positions"',
    ),
    Case(
        "json-missing-field",
        P,
        "p.json",
        PORTFOLIO_JSON.replace('{"symbol": "WETH", "quantity": 400}', '{"symbol": "WETH"}'),
        '{"symbol": "WETH"}',
        says="required",
    ),
    # -- prices
    Case("prices-zero", R, "r.toml", sub(R, "price = 3012.45", "price = 0"), "price = 0"),
    Case(
        "prices-too-wide",
        R,
        "r.toml",
        sub(R, "price = 3012.45", "price = 200_000_000_000"),
        "200_000_000_000",
        says="2**64",
    ),
    Case(
        "prices-negative-timestamp",
        R,
        "r.toml",
        sub(R, "timestamp = 1795183188", "timestamp = -5"),
        "timestamp = -5",
    ),
    Case(
        "prices-round-id-too-wide",
        R,
        "r.toml",
        sub(R, "round_id = 110680464442257325512", f"round_id = {2**80}"),
        str(2**80),
    ),
    Case(
        "prices-unknown-field",
        R,
        "r.toml",
        sub(R, "timestamp = 1795183188", "timestamp = 1795183188\nsource = 'x'"),
        "source",
    ),
    Case(
        "prices-json-duplicate",
        R,
        "r.json",
        PRICES_JSON.replace('"snapshot_id": 1042,', '"snapshot_id": 1042,\n  "snapshot_id": 7,'),
        '"snapshot_id": 7',
        says="duplicate key",
    ),
    Case("prices-json-bad-price", R, "r.json", PRICES_JSON.replace('"3012.45"', '"-1"'), '"-1"'),
    # -- assets
    Case(
        "assets-lt-above-100-percent",
        A,
        "a.toml",
        sub(A, "liquidation_threshold_bps = 8_250", "liquidation_threshold_bps = 10_001"),
        "10_001",
    ),
    Case(
        "assets-duplicate-symbol",
        A,
        "a.toml",
        sub(A, 'symbol = "LINK"', 'symbol = "WETH"'),
        "[[assets]]",
        nth=4,
        says="duplicate",
    ),
    Case(
        "assets-unknown-field",
        A,
        "a.toml",
        sub(A, 'price_source = "chainlink:BTC/USD"', 'price_source = "chainlink:BTC/USD"\nlt = 1'),
        "lt = 1",
    ),
    # -- policy
    Case(
        "policy-duplicate-key",
        POL,
        "pol.toml",
        sub(POL, "max_order_quantity = 500", "max_order_quantity = 500\nmax_order_quantity = 5"),
        "max_order_quantity = 5",
        nth=-1,
        says="duplicate key 'max_order_quantity'",
    ),
    Case(
        "policy-yaml-duplicate-key",
        POL,
        "pol.yaml",
        (EXAMPLES / "policy.yaml")
        .read_text()
        .replace("max_order_quantity: 500", "max_order_quantity: 500\nmax_order_quantity: 50000"),
        "max_order_quantity: 50000",
        says="duplicate key",
    ),
    Case(
        "policy-negative-limit",
        POL,
        "pol.toml",
        sub(POL, "max_var_usd = 1_500_000", "max_var_usd = -1"),
        "max_var_usd = -1",
    ),
    Case(
        "policy-unknown-field",
        POL,
        "pol.toml",
        sub(POL, "max_slippage_bps = 50", "max_slippage_bps = 50\nmax_slipage_bps = 5"),
        "max_slipage_bps",
    ),
    # -- order file
    Case(
        "order-yaml-duplicate-quantity",
        ORD,
        "o.yaml",
        ORDER_YAML + "quantity: 100000\n",
        "quantity: 100000",
        says="duplicate key",
    ),
    Case(
        "order-json-duplicate-quantity",
        ORD,
        "o.json",
        ORDER_JSON.replace('"quantity": 10,', '"quantity": 10,\n  "quantity": 10000,'),
        '"quantity": 10000',
        says="duplicate key",
    ),
    Case(
        "order-missing-counterparty",
        ORD,
        "o.yaml",
        ORDER_YAML.replace("counterparty: binance\n", ""),
        "client_order_id",
        says="required",
    ),
    Case(
        "order-too-many-decimals",
        ORD,
        "o.yaml",
        ORDER_YAML.replace("quantity: 10", "quantity: 0.123456789"),
        "0.123456789",
    ),
    Case(
        "order-notional-beyond-the-fixed-point",
        ORD,
        "o.yaml",
        ORDER_YAML.replace("quantity: 10", "quantity: 10000000000000000").replace(
            "limit_price: 3015", "limit_price: 100000000000"
        ),
        "quantity: 10000000000000000",
        says="MAX_NOTIONAL_USD",
    ),
    # -- scenarios
    Case(
        "scenarios-not-a-number",
        S,
        "s.csv",
        "USDC,WETH,WBTC,LINK\n0,0.01,0.02,0.03\n0,x,0,0\n",
        "0,x,0,0",
    ),
    Case(
        "scenarios-below-minus-one",
        S,
        "s.csv",
        "USDC,WETH,WBTC,LINK\n0,0.01,0.02,0.03\n0,-1.5,0,0\n",
        "-1.5",
    ),
    Case(
        "scenarios-short-row",
        S,
        "s.csv",
        "USDC,WETH,WBTC,LINK\n0,0.01,0.02,0.03\n0,0.01\n",
        "0,0.01\n"[:-1],
        nth=-1,
    ),
    Case(
        "scenarios-too-many-decimals",
        S,
        "s.csv",
        "USDC,WETH,WBTC,LINK\n0,0.01,0.02,0.03\n0,0.0000001,0,0\n",
        "0.0000001",
    ),
    Case(
        "scenarios-json-duplicate",
        S,
        "s.json",
        '{"symbols": ["USDC"],\n "returns": [["0.01"]],\n "symbols": ["WETH"]}\n',
        '"symbols": ["WETH"]',
        says="duplicate key",
    ),
]


def invoke(args: list[str]) -> tuple[int, str]:
    result = runner.invoke(app, args)
    return result.exit_code, result.stderr


def command(bad: dict[str, Path], verb: str) -> list[str]:
    files = {**FILES, **bad}
    order = ["--order-file", str(files[ORD])]
    if verb == "risk":
        return ["risk", *(a for o in (P, A, R, S) for a in (o, str(files[o])))]
    return ["check", *(a for o in (P, A, R, POL, S) for a in (o, str(files[o]))), *order,
            "--now", NOW]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_exits_2_naming_the_file_and_the_line(case: Case, tmp_path: Path) -> None:
    path = tmp_path / case.name
    path.write_text(case.text)
    verbs = ["check"] if case.option in (POL, ORD) else ["check", "risk"]
    for verb in verbs:
        code, err = invoke(command({case.option: path}, verb))
        assert code == 2, (verb, err)
        first = err.splitlines()[0] if err else ""
        assert first.startswith(f"error: {path}:{case.line()}: "), (verb, err)
        assert case.says in err and "Traceback" not in err


def test_the_table_has_over_forty_bad_inputs_across_every_input_file() -> None:
    assert len(CASES) >= 40
    assert {c.option for c in CASES} == set(FILES)


@pytest.mark.parametrize("now", ["-5", str(2**64), str(UNIX_TIME_MAX + 1), "soon"])
def test_now_outside_the_calendar_is_a_clear_error_with_exit_2(now: str) -> None:
    code, err = invoke([*command({}, "check"), "--now", now])
    assert code == 2
    assert "Invalid value for '--now'" in err and "Traceback" not in err


def test_now_at_the_end_of_the_calendar_is_judged_and_fails_closed() -> None:
    # Year 9999: the prices are stale and no trading window is open; a verdict, not a crash.
    code, err = invoke([*command({}, "check"), "--now", str(UNIX_TIME_MAX)])
    assert code == 1, err


def test_the_notional_limit_leaves_every_derived_usd_figure_within_28_digits() -> None:
    widest = (fp.MAX_POSITIONS + 2) * fp.MAX_NOTIONAL_USD * 2**31 / 10**6
    assert widest < 10 ** (fp.USD_DIGITS - 2)


def test_a_book_just_under_the_notional_limit_is_reported(tmp_path: Path) -> None:
    # 33,195,020,000 WETH @ 3,012.45 = $99,999,999,999,999,000 < 10²⁰: no refusal, no crash.
    book = tmp_path / "p.toml"
    book.write_text(sub(P, "quantity = 400", "quantity = 33_195_020_000_000"))
    code, err = invoke(command({P: book}, "risk"))
    assert code == 0, err


def test_margin_whose_notional_reaches_the_limit_is_refused_naming_its_line(tmp_path: Path) -> None:
    book, prices = tmp_path / "p.toml", tmp_path / "r.toml"
    book.write_text(sub(P, "margin = 250_000", "margin = 1_000_000_000_000_000"))
    prices.write_text(sub(R, "price = 1.0001", "price = 1_000_000"))  # 10¹⁵ × $10⁶ = $10²¹
    code, err = invoke(command({P: book, R: prices}, "risk"))
    line = next(i for i, t in enumerate(book.read_text().splitlines(), 1) if t.startswith("margin"))
    assert code == 2
    assert err.startswith(f"error: {book}:{line}: margin: margin USDC: notional")
    assert f"price from {prices}:" in err and "MAX_NOTIONAL_USD" in err


@pytest.mark.parametrize(("name", "text"), [("p.json", "[" * 5_000 + "]" * 5_000),
                                            ("p.yaml", "a: " + "[" * 5_000 + "]" * 5_000)])  # fmt: skip
def test_a_document_nested_too_deeply_exits_2(name: str, text: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_text(text)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1_000)  # the interpreter's default (a conftest may raise it)
    try:
        code, err = invoke(command({P: path}, "risk"))
    finally:
        sys.setrecursionlimit(limit)
    assert code == 2 and err.strip() == f"error: {path}: nested too deeply"
