"""`zkrisk demo --fork-url SOURCE --addresses FILE` through the CLI, as a user of a fork runs it:
the fork source is a real Anvil holding the stacks `zkrisk chain deploy --uniswap
--addresses-out` made (tests/e2e/conftest.py); the demo forks it and tells the story on the
file's contracts. A wrong or missing address stops it with exit 2 naming the key."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from zkrisk.engine.chain.deployments import load_deployment

from .conftest import ZKRISK, ForkSource

DONE = "done: anvil and the keeper stopped, nothing left running."


def demo(source: ForkSource, addresses: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ZKRISK, "demo", "--fork-url", source.node.url, "--addresses",
                           str(addresses)], capture_output=True, text=True, timeout=600)  # fmt: skip


def written(tmp: Path, data: dict[str, Any]) -> Path:
    path = tmp / "addresses.json"
    path.write_text(json.dumps(data))
    return path


def every_address(data: dict[str, Any]) -> list[str]:
    uni = data["uniswap"]
    return [
        *(t["address"] for t in uni["tokens"].values()),
        *data["feeds"].values(),
        uni["router"],
        *uni["pairs"].values(),
    ]


def test_chain_deploy_writes_one_file_whose_vault_is_the_deployment_record_over_the_pools_tokens(
    fork_source: ForkSource,
) -> None:
    data = fork_source.data()
    record = load_deployment(31337, fork_source.deployments)
    assert data["vault"] == record.model_dump(mode="json")
    for asset in record.assets:
        assert asset.token == data["uniswap"]["tokens"][asset.symbol]["address"]
        assert asset.feed == data["feeds"][asset.symbol]


def test_the_fork_demo_tells_the_story_on_the_files_stack_and_deploys_no_mock(
    fork_source: ForkSource,
) -> None:
    source_block = fork_source.node.web3().eth.block_number
    done = demo(fork_source, fork_source.stack)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == DONE
    head = next(line for line in lines if line.startswith("2. anvil"))
    assert f"forking {fork_source.node.url}" in head and "nothing deployed" in head
    vault = fork_source.data()["vault"]["contracts"]
    for name in ("PriceBook", "Health4Verifier", "RiskVault", "Safe", "TimelockController"):
        assert vault[name] in head
    for address in every_address(fork_source.data()):
        assert address in done.stdout
    assert "mock USDC/WETH/WBTC + feeds" not in done.stdout
    assert "(anvil_setBalance)" in done.stdout and "minted by the mock USDC" in done.stdout
    assert any(line.startswith("8. keeper") for line in lines)  # liquidated on the fork
    assert fork_source.node.web3().eth.block_number == source_block  # the source is untouched


def test_the_fork_demo_deploys_a_vault_over_the_files_tokens_and_feeds_when_it_has_none(
    fork_source: ForkSource, tmp_path: Path
) -> None:
    data = fork_source.data() | {"vault": None}
    done = demo(fork_source, written(tmp_path, data))
    assert done.returncode == 0, done.stderr
    head = next(line for line in done.stdout.splitlines() if line.startswith("2. anvil"))
    assert "deployed over them on the fork (no mock token or feed)" in head
    assert fork_source.data()["vault"]["contracts"]["RiskVault"] not in head  # a new vault
    for address in every_address(data):
        assert address in done.stdout
    assert done.stdout.splitlines()[-1] == DONE


def _feed_is_a_token(data: dict[str, Any]) -> str:
    data["feeds"]["WETH"] = data["uniswap"]["tokens"]["USDC"]["address"]
    return (f"feeds.WETH = {data['feeds']['WETH']} is not a price feed (decimals()/"
            "latestRoundData() failed); found there: the ERC-20 'USDC' (6 decimals)")  # fmt: skip


def _no_code(data: dict[str, Any]) -> str:
    data["uniswap"]["tokens"]["WBTC"]["address"] = "0x000000000000000000000000000000000000dEaD"
    return ("uniswap.tokens.WBTC = 0x000000000000000000000000000000000000dEaD has no contract "
            "code on chain 31337")  # fmt: skip


def _missing(data: dict[str, Any]) -> str:
    del data["feeds"]["WBTC"]
    return "feeds.WBTC missing: the demo trades and lists USDC, WETH, WBTC"


@pytest.mark.parametrize("spoil", [_feed_is_a_token, _no_code, _missing],
                         ids=lambda f: f.__name__.strip("_"))  # fmt: skip
def test_a_wrong_or_missing_address_stops_the_fork_demo_with_exit_2_naming_its_key(
    fork_source: ForkSource, tmp_path: Path, spoil: Callable[[dict[str, Any]], str]
) -> None:
    data = fork_source.data()
    expected = spoil(data)
    path = written(tmp_path, data)
    done = demo(fork_source, path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"error: {path}: {expected}" in done.stderr
    assert "3. desk" not in done.stdout  # stopped before the story
