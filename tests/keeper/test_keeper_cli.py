"""`zkrisk keeper` through Typer's runner: it reads books from a folder and liquidates."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from zkrisk.engine.chain import dev_scenario as scenario
from zkrisk.engine.chain.anvil import AnvilNode
from zkrisk.engine.chain.deployments import save_deployment
from zkrisk.engine.chain.vault_deploy import VaultStack
from zkrisk.engine.cli.main import app
from zkrisk.engine.keeper.books import BookFile, book_toml

from .conftest import Desks, set_prices
from .rpc_proxy import FailingRpc

ASSETS = str(Path(__file__).resolve().parents[2] / "examples" / "assets.toml")


def test_keeper_command_liquidates_a_book_from_its_folder_and_logs_json_lines(
    anvil_node: AnvilNode, stack: VaultStack, desks: Desks, tmp_path: Path
) -> None:
    save_deployment(stack.record(), tmp_path / "deployments")
    book = desks.open()
    (tmp_path / "books").mkdir()
    (tmp_path / "books" / "desk.toml").write_text(book_toml(book))
    set_prices(stack, scenario.CRASH)
    result = CliRunner().invoke(app, [
        "keeper", "--rpc-url", anvil_node.url, "--dev-account", "3",
        "--deployments", str(tmp_path / "deployments"), "--books", str(tmp_path / "books"),
        "--assets", ASSETS, "--state-db", str(tmp_path / "keeper.sqlite"),
        "--max-ticks", "2", "--poll-interval", "0.05", "--metrics-port", "0",
    ])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    events = [json.loads(line) for line in result.stderr.splitlines()]
    names = [e["event"] for e in events]
    assert names[0] == "metrics" and names[1] == "started" and names[-1] == "stopped"
    (done,) = [e for e in events if e["event"] == "liquidated"]
    assert done["account"].lower() == book.portfolio.account and done["path"] == "PROOF"


def test_keeper_command_with_a_missing_books_folder_exits_2(
    anvil_node: AnvilNode, stack: VaultStack, tmp_path: Path
) -> None:
    save_deployment(stack.record(), tmp_path / "deployments")
    result = CliRunner().invoke(app, [
        "keeper", "--rpc-url", anvil_node.url, "--dev-account", "3",
        "--deployments", str(tmp_path / "deployments"), "--books", str(tmp_path / "nope"),
        "--assets", ASSETS,
    ])  # fmt: skip
    assert result.exit_code == 2
    assert "nope: file or folder not found" in result.stderr


ZKRISK = str(Path(sys.executable).parent / "zkrisk")


def keeper_argv(url: str, tmp_path: Path, *extra: str) -> list[str]:
    (tmp_path / "books").mkdir(exist_ok=True)
    desk = BookFile(salt=12345, portfolio=scenario.book("0x" + "11" * 20))
    (tmp_path / "books" / "desk.toml").write_text(book_toml(desk))
    return [ZKRISK, "keeper", "--rpc-url", url, "--dev-account", "3",
            "--deployments", str(tmp_path / "deployments"), "--books", str(tmp_path / "books"),
            "--assets", ASSETS, "--state-db", str(tmp_path / "keeper.sqlite"),
            "--poll-interval", "0.05", *extra]  # fmt: skip


def test_keeper_process_with_max_ticks_exits_1_while_every_rpc_call_returns_an_error(
    stack: VaultStack, tmp_path: Path
) -> None:
    save_deployment(stack.record(), tmp_path / "deployments")
    with FailingRpc() as failing:
        try:
            done = subprocess.run(keeper_argv(failing.url, tmp_path, "--max-ticks", "3"),
                                  capture_output=True, text=True, timeout=60)  # fmt: skip
        except subprocess.TimeoutExpired:
            pytest.fail("zkrisk keeper --max-ticks 3 was still running after 60 s")
    assert done.returncode == 1, done.stderr
    events = list(json_lines(done.stderr.splitlines()))
    errors = [e for e in events if e["event"] == "error"]
    assert len(errors) == 3 and all(e["error"].startswith("Web3RPCError") for e in errors)
    assert events[-1]["event"] == "stopped" and events[-1]["failed_ticks"] == 3


def json_lines(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The keeper's JSON log lines (a build step may print plain progress lines first)."""
    return (json.loads(line) for line in lines if line.startswith("{"))


def get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        with refused:
            return refused.code, json.loads(refused.read())


def test_keeper_process_serves_livez_and_readyz_and_says_why_it_is_not_ready(
    stack: VaultStack, tmp_path: Path
) -> None:
    save_deployment(stack.record(), tmp_path / "deployments")
    failing = FailingRpc()  # its port is fixed here; it answers once entered
    argv = keeper_argv(failing.url, tmp_path, "--health-port", "0")
    with failing, subprocess.Popen(argv, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stderr is not None
            lines = json_lines(process.stderr)
            health = next(e for e in lines if e["event"] == "health")
            next(e for e in lines if e["event"] == "error")  # the loop has failed once
            live, live_body = get(health["livez"])
            ready, ready_body = get(health["readyz"])
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
    assert process.returncode == 0
    assert (live, live_body["live"]) == (200, True)
    assert ready == 503 and ready_body["ready"] is False
    checks = ready_body["checks"]
    assert checks["rpc"]["ok"] is False and "Web3RPCError" in checks["rpc"]["detail"]
    assert checks["artifacts"]["ok"] is True
