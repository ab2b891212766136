"""`zkrisk keeper` through Typer's runner: it reads books from a folder and liquidates."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from zkrisk.engine.chain import dev_scenario as scenario
from zkrisk.engine.chain.anvil import AnvilNode
from zkrisk.engine.chain.deployments import save_deployment
from zkrisk.engine.chain.vault_deploy import VaultStack
from zkrisk.engine.cli import app
from zkrisk.engine.keeper.books import book_toml

from .conftest import Desks, set_prices

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
