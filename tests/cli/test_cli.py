"""Every zkrisk command through Typer's runner (serve also as a real subprocess)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from zkrisk.engine.cli.main import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOW = "1795183200"  # the example price snapshot's time
runner = CliRunner()


def ex(name: str) -> str:
    return str(EXAMPLES / name)


BOOK = ["--portfolio", ex("portfolio.toml"), "--assets", ex("assets.toml"),
        "--prices", ex("prices.toml")]  # fmt: skip
CHECK = ["check", *BOOK, "--policy", ex("policy.toml"), "--scenarios", ex("scenarios.csv"),
         "--now", NOW]  # fmt: skip
ORDER = ["--side", "BUY", "--symbol", "WETH", "--quantity", "10", "--limit-price", "3015",
         "--counterparty", "binance"]  # fmt: skip


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


# -- check ------------------------------------------------------------------------------------


def test_check_of_an_order_file_that_passes_every_rule_approves_with_exit_0() -> None:
    code, out, _ = run(*CHECK, "--order-file", ex("order.toml"))
    assert code == 0
    assert out.startswith("APPROVE  BUY 10 WETH @ 3015 via binance")
    assert "post-trade health factor: 3.7159" in out


def test_check_that_breaks_rules_rejects_with_exit_1_and_lists_every_reason() -> None:
    code, out, _ = run(*CHECK, "--side", "BUY", "--symbol", "WBTC", "--quantity", "60",
                       "--limit-price", "95000", "--counterparty", "kraken")  # fmt: skip
    assert code == 1
    assert out.startswith("REJECT")
    for reason in ("COUNTERPARTY_NOT_ALLOWED", "SLIPPAGE", "MAX_ORDER_NOTIONAL", "POSITION_LIMIT",
                   "HEALTH_FACTOR", "REVIEW_ORDER_NOTIONAL"):  # fmt: skip
        assert reason in out


def test_check_that_only_needs_review_flags_with_exit_3() -> None:
    args = [a if a != "10" else "200" for a in ORDER]
    code, out, _ = run(*CHECK, *args)
    assert code == 3
    assert out.startswith("FLAG_FOR_REVIEW") and "REVIEW_ORDER_NOTIONAL" in out


def test_check_json_output_is_the_verdict_and_keeps_the_exit_code() -> None:
    code, out, _ = run(*CHECK, *ORDER, "--json", "--client-order-id", "j-1")
    assert code == 0
    verdict = json.loads(out)
    assert verdict["kind"] == "APPROVE" and verdict["client_order_id"] == "j-1"
    assert verdict["post_trade_health_factor_bps"] == 37159


def test_market_order_with_slippage_within_policy_approves() -> None:
    code, out, _ = run(*CHECK, "--side", "SELL", "--symbol", "LINK", "--quantity", "100",
                       "--max-slippage-bps", "30", "--counterparty", "uniswap-v3", "--json")  # fmt: skip
    assert code == 0, out
    assert json.loads(out)["kind"] == "APPROVE"


def test_check_without_scenarios_fails_closed_with_reject() -> None:
    code, out, _ = run("check", *BOOK, "--policy", ex("policy.toml"), "--now", NOW, *ORDER)
    assert code == 1 and "SCENARIOS_MISSING" in out


def test_check_with_stale_prices_rejects() -> None:
    code, out, _ = run(*CHECK[:-1], str(int(NOW) + 7200), *ORDER)
    assert code == 1 and "PRICE_STALE" in out


def test_check_while_halted_rejects() -> None:
    code, out, _ = run(*CHECK, *ORDER, "--state", "halted")
    assert code == 1 and "TRADING_HALTED" in out


def test_check_with_a_missing_file_exits_2_naming_the_file() -> None:
    code, out, err = run("check", "--portfolio", "nope.toml", *BOOK[2:], "--policy",
                         ex("policy.toml"), *ORDER)  # fmt: skip
    assert code == 2 and out == ""
    assert err.strip() == "error: nope.toml: file not found"


def test_check_with_an_invalid_policy_exits_2_naming_file_line_and_field(tmp_path: Path) -> None:
    policy = tmp_path / "desk.toml"
    policy.write_text((EXAMPLES / "policy.toml").read_text().replace("max_var_usd = 1_500_000", "max_var_usd = -1"))  # fmt: skip
    line = next(i for i, t in enumerate(policy.read_text().splitlines(), 1) if "max_var_usd" in t)
    code, _, err = run("check", *BOOK, "--policy", str(policy), "--now", NOW, *ORDER)
    assert code == 2
    assert err.startswith(f"error: {policy}:{line}: max_var_usd: Input should be greater than 0")
    assert "Traceback" not in err


def test_check_with_a_bad_order_option_exits_2_with_one_line() -> None:
    code, _, err = run(*CHECK, *[a if a != "10" else "ten" for a in ORDER])
    assert code == 2
    assert err.strip() == "error: --quantity: 'ten' is not a decimal number"


def test_check_with_too_many_decimals_exits_2_naming_the_field() -> None:
    code, _, err = run(*CHECK, *[a if a != "10" else "0.123456789" for a in ORDER])
    assert code == 2
    assert err.startswith(
        "error: order options: quantity: order quantity: Decimal('0.123456789') has more"
    )


def test_check_with_an_order_file_and_order_options_exits_2() -> None:
    code, _, err = run(*CHECK, "--order-file", ex("order.toml"), "--side", "SELL")
    assert code == 2 and "exclude each other" in err


def test_check_with_an_unknown_field_in_the_order_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "order.yaml"
    bad.write_text("client_order_id: x\nsymbol: WETH\nside: BUY\nquantity: 1\nlimit_price: 3000\n"
                   "counterparty: binance\nqty: 3\n")  # fmt: skip
    code, _, err = run(*CHECK, "--order-file", str(bad))
    assert code == 2
    assert err.strip() == f"error: {bad}:7: qty: unknown field (check the spelling)"


def test_check_with_an_unknown_side_is_a_usage_error_with_exit_2() -> None:
    code, _, _ = run(*CHECK, *[a if a != "BUY" else "HOLD" for a in ORDER])
    assert code == 2


# -- risk -------------------------------------------------------------------------------------


def test_risk_prints_health_exposure_and_var_by_method() -> None:
    code, out, _ = run("risk", *BOOK, "--scenarios", ex("scenarios.csv"))
    assert code == 0
    for text in ("health factor", "3.8611", "gross exposure", "$3,243,006.25", "1.4143×",
                 "historical", "$168,165.77", "parametric", "monte-carlo", "K = 250"):  # fmt: skip
        assert text in out


def test_risk_json_has_every_metric() -> None:
    code, out, _ = run("risk", *BOOK, "--scenarios", ex("scenarios.csv"), "--json",
                       "--alpha", "0.95", "--paths", "2000")  # fmt: skip
    assert code == 0
    report = json.loads(out)
    assert report["health_factor"] == "3.8611" and report["liquidatable"] is False
    assert report["alpha"] == "0.95" and report["scenarios"] == 250
    assert [v["method"] for v in report["var"]] == ["historical", "parametric", "monte-carlo"]
    assert all(float(v["es_usd"]) >= float(v["var_usd"]) for v in report["var"])


def test_risk_without_scenarios_shows_health_and_says_var_needs_them() -> None:
    code, out, _ = run("risk", *BOOK)
    assert code == 0 and "no scenario set given" in out


def test_risk_with_scenarios_that_miss_a_held_symbol_exits_2(tmp_path: Path) -> None:
    scenarios = tmp_path / "s.csv"
    scenarios.write_text("USDC,WETH\n0,0.01\n0,-0.02\n")
    code, _, err = run("risk", *BOOK, "--scenarios", str(scenarios))
    assert code == 2
    assert err.strip() == f"error: {scenarios}: the scenario set has no returns for LINK, WBTC"


def test_risk_with_a_malformed_prices_file_exits_2_naming_the_line(tmp_path: Path) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text("snapshot_id = 1\n[prices.WETH\n")
    code, _, err = run("risk", *BOOK[:4], "--prices", str(prices))
    assert code == 2 and err.startswith(f"error: {prices}:2: ")


def test_risk_with_an_alpha_outside_zero_one_exits_2() -> None:
    code, _, err = run("risk", *BOOK, "--alpha", "1.5")
    assert code == 2 and "strictly between 0 and 1" in err


# -- serve ------------------------------------------------------------------------------------


def test_serve_without_secrets_exits_2_naming_the_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ZKRISK_SIGNER_KEY", raising=False)
    monkeypatch.delenv("ZKRISK_KILLSWITCH_TOKEN", raising=False)
    code, _, err = run("serve", "--config", ex("serve.toml"))
    assert code == 2
    assert "ZKRISK_SIGNER_KEY" in err and "ZKRISK_KILLSWITCH_TOKEN" in err


def test_serve_with_an_unknown_config_field_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "serve.toml"
    config.write_text('policy_file = "p.toml"\nprot = 80\n')
    code, _, err = run("serve", "--config", str(config))
    assert code == 2 and f"error: {config}:2: prot: unknown field" in err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_runs_the_api_until_interrupted(tmp_path: Path) -> None:
    config = tmp_path / "serve.toml"
    text = (EXAMPLES / "serve.toml").read_text()
    text = text.replace('"../build/zkrisk-audit.sqlite"', f'"{tmp_path / "audit.sqlite"}"')
    text = text.replace('"../build/zkrisk-state.sqlite"', f'"{tmp_path / "state.sqlite"}"')
    for name in ("policy.toml", "assets.toml", "prices.toml", "portfolio.toml", "scenarios.csv"):
        text = text.replace(f'"{name}"', f'"{EXAMPLES / name}"')
    config.write_text(text)
    port = free_port()
    env = {**os.environ, "ZKRISK_SIGNER_KEY": "0x" + "5e" * 32,
           "ZKRISK_KILLSWITCH_TOKEN": "a-long-enough-token"}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "zkrisk.engine.cli", "serve", "--config", str(config),
         "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
        order = json.loads(json.dumps({"client_order_id": "s-1", "symbol": "WETH", "side": "BUY",
                 "quantity": 1, "limit_price": 3015, "counterparty": "binance"}))  # fmt: skip
        key = {"X-API-Key": "example-desk-a-key-CHANGE-ME-0123456789"}  # examples/serve.toml's
        body = httpx.post(f"{url}/v1/orders/check", json={"order": order}, headers=key,
                          timeout=5).json()  # fmt: skip
        assert body["verdict"]["kind"] == "APPROVE" and body["approval"]["signature"]
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=20)
    # uvicorn shuts down gracefully, then re-raises the signal: 130 is Ctrl-C's usual status.
    # Under load the re-raise can land after the interpreter restored its handlers and the
    # process exits 0; either way the shutdown must be the graceful one, asserted below.
    assert proc.returncode in (0, 130), output
    assert "Application shutdown complete" in output
    assert (tmp_path / "audit.sqlite").exists()


# -- help everywhere, old commands still there ------------------------------------------------


@pytest.mark.parametrize("command", ["check", "risk", "serve", "toolchain", "build", "demo"])
def test_every_command_has_help(command: str) -> None:
    code, out, _ = run(command, "--help")
    assert code == 0 and "Usage" in out


def test_check_help_documents_the_exit_codes() -> None:
    _, out, _ = run("check", "--help")
    assert "0 APPROVE, 1 REJECT, 3 FLAG_FOR_REVIEW, 2 bad input" in " ".join(out.split())


def test_top_level_help_lists_every_command() -> None:
    _, out, _ = run("--help")
    for command in ("check", "risk", "serve", "toolchain", "build", "demo"):
        assert command in out
