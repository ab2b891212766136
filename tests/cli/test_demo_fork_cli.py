"""The fork demo's input errors through Typer's runner: refused with exit 2 and a line naming the
problem before any node starts (tests/e2e/test_demo_fork.py runs the fork demo itself)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from zkrisk.engine.cli.main import app

NOWHERE = "http://127.0.0.1:9"  # nothing listens there: these runs must stop before using it


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stderr


def test_addresses_without_a_fork_url_exit_2_asking_for_one(tmp_path: Path) -> None:
    path = tmp_path / "stack.json"
    path.write_text("{}")
    code, err = run("demo", "--addresses", str(path))
    assert code == 2
    assert f"--addresses {path} names contracts on the chain the demo forks: add --fork-url" in err


def test_a_missing_addresses_file_exits_2_saying_how_to_write_one(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.json"
    code, err = run("demo", "--fork-url", NOWHERE, "--addresses", str(path))
    assert code == 2
    assert f"no addresses file at {path}: write one with `zkrisk chain deploy --uniswap " \
           f"--addresses-out {path}`" in err  # fmt: skip


def test_an_addresses_file_without_feeds_exits_2_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "stack.json"
    uniswap = {"chain_id": 31337, "factory": "0x1", "router": "0x2", "weth": "0x3",
               "tokens": {}, "pairs": {}}  # fmt: skip
    path.write_text(json.dumps({"uniswap": uniswap, "vault": None, "extra": 1}))
    code, err = run("demo", "--fork-url", NOWHERE, "--addresses", str(path))
    assert code == 2
    assert f"{path}: feeds: Field required; extra: Extra inputs are not permitted" in err


def test_chain_deploy_with_addresses_out_but_no_uniswap_exits_2(tmp_path: Path) -> None:
    code, err = run("chain", "deploy", "--rpc-url", NOWHERE, "--dev-account", "0",
                    "--addresses-out", str(tmp_path / "stack.json"))  # fmt: skip
    assert code == 2
    assert "--addresses-out writes the stack's Uniswap pools too: add --uniswap" in err
