"""A deployment proves with the setup it was deployed with, whatever lands in the ptau cache.

Real Anvil, real proofs, real foreign ptau files (truncations of the shared dev ptau) planted
in the cache between `chain deploy` and `chain update-book` — the order in which the bug struck.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from tests.cli.test_chain import ASSETS, BOOK, DESK, SALT, run
from tests.prover.ptau_files import half_written, truncated_ptaus
from zkrisk.engine.chain.anvil import DEV_PRIVATE_KEYS, AnvilNode
from zkrisk.engine.chain.client import ChainClient, TransactionReverted
from zkrisk.engine.files import load_assets
from zkrisk.engine.keeper.books import load_book
from zkrisk.engine.keeper.proving import prove_action
from zkrisk.engine.keeper.vault_access import open_vault, slot_assets
from zkrisk.engine.statements.binding import Action
from zkrisk.prover.backends import create_backend


@pytest.fixture(scope="module")
def env(anvil_node: AnvilNode, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("pinned")
    (folder / "book.toml").write_text(BOOK)
    deployments = folder / "deployments"
    common = ["--rpc-url", anvil_node.url, "--deployments", str(deployments)]
    code, out, err = run("chain", "deploy", *common, "--dev-account", "0", "--json")
    assert code == 0, err
    admin = open_vault(ChainClient.connect(anvil_node.url, DEV_PRIVATE_KEYS[0]), deployments)
    admin.client.set_attester(DESK, Account.from_key(DEV_PRIVATE_KEYS[4]).address)  # no governance
    made = {"common": common, "deployed": json.loads(out), "folder": folder,
            "url": anvil_node.url, "record": deployments / "31337.json"}  # fmt: skip
    code, _, err = run("attest", "--book", str(folder / "book.toml"), "--account", DESK, "--salt",
                       SALT, "--sequence", "1", "--vault", made["deployed"]["RiskVault"],
                       "--rpc-url", anvil_node.url, "--out", str(folder / "att.json"),
                       env={"ZKRISK_ATTESTER_KEY": DEV_PRIVATE_KEYS[4]})  # fmt: skip
    assert code == 0, err
    return made


def chain(env: dict[str, Any], *args: str, account: int = 1) -> tuple[int, str, str]:
    return run("chain", *args, *env["common"], "--dev-account", str(account))


def book_args(env: dict[str, Any]) -> list[str]:
    return ["--book", str(env["folder"] / "book.toml"), "--assets", ASSETS]


def update_args(env: dict[str, Any]) -> list[str]:
    return ["update-book", str(env["folder"] / "att.json"), *book_args(env)]


def test_update_book_before_any_snapshot_exits_2_saying_to_take_one_first(
    env: dict[str, Any],
) -> None:
    code, _, err = chain(env, "deposit", "20000", "--mint")
    assert code == 0, err
    code, out, err = chain(env, *update_args(env))
    assert code == 2 and out == ""
    assert "no snapshot yet: run `zkrisk chain snapshot` first" in err
    assert "Traceback" not in err


def test_the_record_pins_the_zkey_and_verification_key_it_was_deployed_with(
    env: dict[str, Any], repo: Path
) -> None:
    record = json.loads(env["record"].read_text())
    setup = repo / record["setup"]
    for name, key in (("circuit.zkey", "zkey_sha256"), ("verification_key.json", "vkey_sha256")):
        assert record[key] == hashlib.sha256((setup / name).read_bytes()).hexdigest()
    assert env["deployed"]["zkey_sha256"] == record["zkey_sha256"]


def test_a_foreign_ptau_planted_in_the_cache_after_deploy_does_not_change_the_proving_key(
    env: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    (cache / "ptau").mkdir(parents=True)
    foreign = truncated_ptaus(tmp_path)
    shutil.copy(foreign[12], cache / "ptau" / "dev_pot12.ptau")  # another checkout's `make demo`
    half_written(foreign[13], cache / "ptau" / ".dev_pot13.4242_2.ptau")  # still being written
    monkeypatch.setenv("ZKRISK_CACHE", str(cache))
    assert chain(env, "snapshot", account=0)[0] == 0
    code, out, err = chain(env, *update_args(env), "--json")
    assert code == 0, err  # accepted on-chain: proven with the deployed zkey
    assert json.loads(out)["health_factor"] == "2.4500"


def test_update_book_for_a_deployment_made_with_another_zkey_refuses_and_names_the_fix(
    env: dict[str, Any], tmp_path: Path
) -> None:
    record = json.loads(env["record"].read_text())
    elsewhere = "ab" * 32  # a record written where another setup was deployed
    (tmp_path / "31337.json").write_text(json.dumps({**record, "zkey_sha256": elsewhere}))
    args = ["--rpc-url", env["url"], "--deployments", str(tmp_path), "--dev-account", "1"]
    code, out, err = run("chain", *update_args(env), *args)
    assert code == 2 and out == ""
    message = " ".join(err.split())
    assert (
        f"the zkey at hand ({record['setup']}/circuit.zkey, sha256 {record['zkey_sha256']})"
        in message
    )
    assert f"is not the one deployment {tmp_path / '31337.json'} was made with" in message
    assert f"zkey sha256 {elsewhere}" in message
    assert f"restore {record['setup']}/" in message and "redeploy" in message


def test_the_keeper_for_a_deployment_made_with_another_zkey_refuses_to_start(
    env: dict[str, Any], tmp_path: Path
) -> None:
    record = json.loads(env["record"].read_text())
    (tmp_path / "31337.json").write_text(json.dumps({**record, "vkey_sha256": "cd" * 32}))
    code, _, err = run("keeper", "--rpc-url", env["url"], "--deployments", str(tmp_path),
                       "--books", str(env["folder"] / "book.toml"), "--assets", ASSETS,
                       "--dev-account", "2", "--max-ticks", "1")  # fmt: skip
    assert code == 2
    assert "is not the one deployment" in " ".join(err.split())


def test_an_invalid_proof_hint_points_at_the_proving_key_not_at_re_reading_the_nonce(
    env: dict[str, Any],
) -> None:
    desk = ChainClient.connect(env["url"], DEV_PRIVATE_KEYS[1])
    handle = open_vault(desk, env["record"].parent)
    listed = slot_assets(handle.record, load_assets(Path(ASSETS)))
    with create_backend("best") as backend:
        proven = prove_action(handle.client, load_book(env["folder"] / "book.toml"), listed,
                              Action.WITHDRAW, handle.artifacts, backend, amount=10**6)  # fmt: skip
    forged = replace(proven.proof, c=proven.proof.a)  # public signals still match: precheck passes
    with pytest.raises(TransactionReverted) as raised:
        handle.client.withdraw(10**6, proven.action.snapshot_id, forged)
    assert raised.value.error == "RiskVault__InvalidProof"
    assert "re-read" not in str(raised.value)
    assert "zkey the deployment record pins" in str(raised.value)


def test_deploy_with_a_ptau_that_is_not_one_exits_2_naming_it(
    env: dict[str, Any], tmp_path: Path
) -> None:
    fake = tmp_path / "ceremony.ptau"
    fake.write_bytes(b"ptau")
    code, _, err = run("chain", "deploy", "--rpc-url", env["url"], "--deployments", str(tmp_path),
                       "--dev-account", "0", "--ptau", str(fake))  # fmt: skip
    assert code == 2 and f"{fake} is not a usable ptau" in " ".join(err.split())
