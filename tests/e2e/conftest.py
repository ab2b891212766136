"""A fork source for the fork-mode demo tests: an Anvil node holding a demo stack (tokens,
feeds, Uniswap pools, a vault behind a Safe and a timelock) made with
`zkrisk chain deploy --uniswap --addresses-out FILE`, as a user would make one."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from typer.testing import CliRunner

from zkrisk.engine.chain.anvil import (
    DEV_GUARDIAN,
    DEV_OWNERS,
    DEV_PRIVATE_KEYS,
    AnvilNode,
    start_anvil,
)
from zkrisk.engine.cli.main import app

ZKRISK = [sys.executable, "-m", "zkrisk.engine.cli"]


def dev_address(index: int) -> str:
    return str(Account.from_key(DEV_PRIVATE_KEYS[index]).address)


@dataclass(frozen=True)
class ForkSource:
    node: AnvilNode
    stack: Path
    """The stack's addresses file (with its vault)."""
    deployments: Path

    def data(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.stack.read_text())
        return loaded


def deploy_stack(url: str, out: Path, deployments: Path) -> None:
    """The user's command, run in this process (a subprocess would pay the CLI's start-up)."""
    owners = ",".join(dev_address(i) for i in DEV_OWNERS)
    done = CliRunner().invoke(app, [
        "chain", "deploy", "--rpc-url", url, "--dev-account", "0", "--uniswap", "--addresses-out",
        str(out), "--deployments", str(deployments), "--owners", owners,
        "--guardian", dev_address(DEV_GUARDIAN), "--delay", "3600",
    ])  # fmt: skip
    assert done.exit_code == 0, done.output


@pytest.fixture(scope="session")
def fork_source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkSource]:
    tmp = tmp_path_factory.mktemp("fork-source")
    node = start_anvil()
    try:
        deploy_stack(node.url, tmp / "stack.json", tmp / "deployments")
        yield ForkSource(node, tmp / "stack.json", tmp / "deployments")
    finally:
        node.stop()
