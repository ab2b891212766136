"""`zkrisk keeper --batch-size`: batches reach the vault as one liquidateMany; bad sizes exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zkrisk.engine.chain import dev_scenario as scenario
from zkrisk.engine.chain.anvil import AnvilNode
from zkrisk.engine.chain.deployments import save_deployment
from zkrisk.engine.chain.vault_deploy import VaultStack
from zkrisk.engine.cli.keeper import MAX_BATCH_SIZE
from zkrisk.engine.cli.main import app
from zkrisk.engine.keeper.books import book_toml

from .conftest import Desks, set_prices

ASSETS = str(Path(__file__).resolve().parents[2] / "examples" / "assets.toml")


def test_keeper_command_with_batch_size_2_liquidates_two_books_in_one_transaction(
    anvil_node: AnvilNode, stack: VaultStack, desks: Desks, tmp_path: Path
) -> None:
    save_deployment(stack.record(), tmp_path / "deployments")
    (tmp_path / "books").mkdir()
    books = [desks.open() for _ in range(2)]
    for i, book in enumerate(books):
        (tmp_path / "books" / f"desk{i}.toml").write_text(book_toml(book))
    set_prices(stack, scenario.CRASH)
    result = CliRunner().invoke(app, [
        "keeper", "--rpc-url", anvil_node.url, "--dev-account", "3",
        "--deployments", str(tmp_path / "deployments"), "--books", str(tmp_path / "books"),
        "--assets", ASSETS, "--state-db", str(tmp_path / "keeper.sqlite"),
        "--max-ticks", "2", "--poll-interval", "0.05", "--batch-size", "2",
    ])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    events = [json.loads(line) for line in result.stderr.splitlines()]
    (batch,) = [e for e in events if e["event"] == "liquidation_batch_sent"]
    done = [e for e in events if e["event"] == "liquidated"]
    assert {e["account"].lower() for e in done} == {b.portfolio.account for b in books}
    assert {e["tx"] for e in done} == {batch["tx"]}


@pytest.mark.parametrize("size", ["0", "-1", str(MAX_BATCH_SIZE + 1)])
def test_keeper_command_with_a_batch_size_out_of_range_exits_2_and_says_the_range(
    size: str, tmp_path: Path
) -> None:
    # Checked before anything else: no node is needed to refuse it.
    result = CliRunner().invoke(app, [
        "keeper", "--rpc-url", "http://127.0.0.1:9", "--dev-account", "3",
        "--books", str(tmp_path), "--assets", ASSETS, "--batch-size", size,
    ])  # fmt: skip
    assert result.exit_code == 2
    assert f"--batch-size {size}: must be 1 to {MAX_BATCH_SIZE}" in result.stderr
