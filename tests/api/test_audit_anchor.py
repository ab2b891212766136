"""The audit log anchored on a real Anvil node: checkpoints land in AuditAnchor with their
consistency proofs, the contract refuses any that do not extend the anchored log, and
`zkrisk audit prove-inclusion / verify --rpc --anchor` check the log against them."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zkrisk.engine.api.config import AuditAnchorConfig, read_secrets
from zkrisk.engine.api.schemas import KillSwitchRequest
from zkrisk.engine.api.service import RiskService
from zkrisk.engine.audit import AuditLog
from zkrisk.engine.chain.anvil import DEV_PRIVATE_KEYS, AnvilNode
from zkrisk.engine.chain.audit_anchor import AnchorSender, AuditAnchor
from zkrisk.engine.chain.client import ChainClient, TransactionReverted
from zkrisk.engine.cli.audit import read_checkpoints
from zkrisk.engine.cli.main import app
from zkrisk.engine.files import InputError

from .server_fixtures import SIGNER_KEY, TOKEN, config_for, desk_folder

runner = CliRunner()
GAS_BUDGET = 80_000  # the target for one mined checkpoint


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def deploy_anchor(anvil_node: AnvilNode, **kwargs: int) -> AuditAnchor:
    admin = ChainClient.connect(anvil_node.url, DEV_PRIVATE_KEYS[0])
    writer = admin.with_key(DEV_PRIVATE_KEYS[1])
    deployed = AuditAnchor.deploy(admin, writer=writer.account.address, **kwargs)
    return AuditAnchor.at(writer, deployed.address)


@pytest.fixture
def anchor(anvil_node: AnvilNode) -> AuditAnchor:
    return deploy_anchor(anvil_node)


def wait_until(done: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.fixture
def anchored_log(tmp_path: Path, anchor: AuditAnchor) -> Path:
    """30 entries, checkpoints at 10, 20, 30, each anchored by the sender thread."""
    path = tmp_path / "audit.sqlite"
    sender = AnchorSender(anchor)
    log = AuditLog(path, checkpoint_every=10, checkpoint_seconds=None,
                   on_checkpoint=sender.submit_checkpoint)  # fmt: skip
    sender.attach(log)
    for n in range(1, 31):
        log.append("check", f"o-{n}", "APPROVE", "{}", "{}")
        if n % 10 == 0:  # a newer checkpoint supersedes an unsent one: wait for each here
            wait_until(lambda n=n: sender.sent >= n // 10)
    sender.close()
    log.close()
    assert sender.sent == 3
    return path


def test_checkpoints_land_on_chain_and_inclusion_verifies_against_the_anchored_root(
    anchored_log: Path, anchor: AuditAnchor, anvil_node: AnvilNode
) -> None:
    local = read_checkpoints(anchored_log)
    assert [(a.size, a.root) for a in anchor.history()] == [(c.size, c.root) for c in local]
    latest = anchor.latest()
    assert (latest.size, latest.root) == (30, local[-1].root)
    db = sqlite3.connect(anchored_log)
    recorded = db.execute("SELECT size, block FROM audit_anchor ORDER BY size").fetchall()
    db.close()
    assert recorded == [(a.size, a.block) for a in anchor.history()]
    code, out, _ = run("audit", "prove-inclusion", "7", "--log", str(anchored_log),
                       "--rpc", anvil_node.url, "--anchor", anchor.address)  # fmt: skip
    assert code == 0
    assert f"OK: entry seq 7 is included under the root anchored at {anchor.address} (size 30)" \
        in out  # fmt: skip
    code, out, _ = run("audit", "verify", str(anchored_log), "--rpc", anvil_node.url,
                       "--anchor", anchor.address)  # fmt: skip
    assert code == 0
    assert f"3 anchored at {anchor.address}, every one reproduced" in out


def test_a_root_that_does_not_extend_the_anchored_log_is_refused_on_chain(
    anchored_log: Path, anchor: AuditAnchor
) -> None:
    log = AuditLog(anchored_log, checkpoint_every=1000, checkpoint_seconds=None)
    for i in range(10):
        log.append("check", f"late-{i}", "APPROVE", "{}", "{}")
    honest = log.checkpoint()
    assert honest is not None and honest.size == 40
    proof = log.consistency_proof(30, 40)
    log.close()
    for root, path in ((b"\x13" * 32, proof), (honest.root, []), (honest.root, proof[::-1])):
        with pytest.raises(TransactionReverted, match="AuditAnchor__NotConsistent"):
            anchor.checkpoint(40, root, path)
    anchor.checkpoint(40, honest.root, proof)  # the log's own proof
    assert anchor.latest().size == 40


def test_a_wrong_first_anchored_root_is_named_by_verify_and_prove_inclusion(
    anchored_log: Path, anvil_node: AnvilNode
) -> None:
    log = AuditLog(anchored_log, checkpoint_every=1000, checkpoint_seconds=None)
    for i in range(10):
        log.append("check", f"late-{i}", "APPROVE", "{}", "{}")
    log.close()
    # The one checkpoint no proof guards: the first (from size 0), on a fresh anchor.
    anchor = deploy_anchor(anvil_node)
    anchor.checkpoint(40, b"\x13" * 32)  # the writer anchors a root the log does not have
    code, _, err = run("audit", "prove-inclusion", "7", "--log", str(anchored_log),
                       "--rpc", anvil_node.url, "--anchor", anchor.address)  # fmt: skip
    assert code == 1
    assert f"entry seq 7 is NOT included under the root anchored at {anchor.address} " \
        "(size 40)" in err  # fmt: skip
    code, _, err = run("audit", "verify", str(anchored_log), "--rpc", anvil_node.url,
                       "--anchor", anchor.address)  # fmt: skip
    assert code == 1
    assert "forked history: the anchored checkpoint at size 40" in err
    assert "the anchored checkpoint at size 40 (block" in err and "has root 1313131313131313" in err


def test_an_anchored_checkpoint_beyond_the_log_names_the_truncation(
    anchored_log: Path, anvil_node: AnvilNode
) -> None:
    anchor = deploy_anchor(anvil_node)
    anchor.checkpoint(31, b"\x01" * 32)
    code, _, err = run("audit", "verify", str(anchored_log), "--rpc", anvil_node.url,
                       "--anchor", anchor.address)  # fmt: skip
    assert code == 1
    assert "the anchored checkpoint at size 31" in err and "(truncated)" in err
    code, _, err = run("audit", "prove-inclusion", "7", "--log", str(anchored_log),
                       "--rpc", anvil_node.url, "--anchor", anchor.address)  # fmt: skip
    assert code == 2
    assert "covers 31 entries but" in err and "holds 30: entries were dropped" in err


def test_a_checkpoint_more_than_max_step_past_the_anchor_is_refused(
    anvil_node: AnvilNode,
) -> None:
    anchor = deploy_anchor(anvil_node, max_step=25)
    assert anchor.max_step() == 25
    with pytest.raises(TransactionReverted, match="AuditAnchor__StepTooLarge"):
        anchor.checkpoint(2**64 - 1, b"\x01" * 32)
    anchor.checkpoint(25, b"\x01" * 32)


def test_a_sender_behind_by_more_than_max_step_anchors_the_checkpoints_between_first(
    tmp_path: Path, anvil_node: AnvilNode
) -> None:
    anchor = deploy_anchor(anvil_node, max_step=25)
    log = AuditLog(tmp_path / "audit.sqlite", checkpoint_every=10, checkpoint_seconds=None)
    for n in range(1, 61):
        log.append("check", f"o-{n}", "APPROVE", "{}", "{}")
    sender = AnchorSender(anchor)
    sender.attach(log)
    latest = log.checkpoint()
    assert latest is not None
    sender.submit_checkpoint(latest)  # 60 entries past the anchor's 0: two steps first
    wait_until(lambda: sender.sent >= 3)
    sender.close()
    local = {c.size: c.root for c in log.checkpoints()}
    log.close()
    assert [(a.size, a.root) for a in anchor.history()] == [(s, local[s]) for s in (20, 40, 60)]


def test_an_address_without_a_contract_is_refused(anvil_node: AnvilNode) -> None:
    with pytest.raises(
        ValueError, match="no contract at 0x0000000000000000000000000000000000000011"
    ):
        AuditAnchor.reader(anvil_node.url, "0x" + "00" * 19 + "11")


def test_only_the_writer_checkpoints_and_sizes_only_grow(anchor: AuditAnchor) -> None:
    stranger = AuditAnchor.at(anchor.client.with_key(DEV_PRIVATE_KEYS[2]), anchor.address)
    with pytest.raises(TransactionReverted, match="AccessControlUnauthorizedAccount"):
        stranger.checkpoint(1, b"\x01" * 32)
    anchor.checkpoint(5, b"\x05" * 32)
    with pytest.raises(TransactionReverted, match="AuditAnchor__SizeNotIncreasing"):
        anchor.checkpoint(5, b"\x06" * 32)


def test_a_mined_checkpoint_with_its_proof_costs_at_most_80000_gas(
    tmp_path: Path, anchor: AuditAnchor
) -> None:
    log = AuditLog(tmp_path / "audit.sqlite", checkpoint_every=500, checkpoint_seconds=None)
    for n in range(1, 2_001):
        log.append("check", f"o-{n}", "APPROVE", '{"order":1}', '{"decision_id":1}')
    gas, before = [], 0
    for c in log.checkpoints():  # 500, 1000, 1500, 2000: the first from 0, fresh slots
        gas.append(
            anchor.checkpoint(c.size, c.root, log.consistency_proof(before, c.size))["gasUsed"]
        )
        before = c.size
    log.close()
    assert len(gas) == 4 and max(gas) <= GAS_BUDGET


def test_prove_inclusion_needs_both_rpc_and_anchor(anchored_log: Path) -> None:
    code, _, err = run("audit", "prove-inclusion", "7", "--log", str(anchored_log),
                       "--rpc", "http://127.0.0.1:1")  # fmt: skip
    assert code == 2
    assert "give both --rpc and --anchor" in err


def test_the_risk_service_anchors_its_audit_checkpoints(
    tmp_path: Path, anchor: AuditAnchor, anvil_node: AnvilNode
) -> None:
    config = config_for(desk_folder(tmp_path), audit_checkpoint_every=2,
                        audit_anchor=AuditAnchorConfig(rpc_url=anvil_node.url,
                                                       address=anchor.address))  # fmt: skip
    env = {"ZKRISK_SIGNER_KEY": SIGNER_KEY, "ZKRISK_KILLSWITCH_TOKEN": TOKEN,
           "ZKRISK_ANCHOR_KEY": DEV_PRIVATE_KEYS[1]}  # fmt: skip
    service = RiskService.from_config(config, read_secrets(config, env))
    for engaged in (True, False, True):
        service.set_kill_switch(KillSwitchRequest(engaged=engaged, reason="drill"), "ops")
    service.close()  # checkpoints at 2 (anchored by the thread) and 3 (at shutdown)
    latest = anchor.latest()
    assert (latest.size, latest.root) == (3, read_checkpoints(config.audit_db)[-1].root)
    code, _, _ = run("audit", "verify", str(config.audit_db), "--rpc", anvil_node.url,
                     "--anchor", anchor.address)  # fmt: skip
    assert code == 0


def test_an_anchor_configured_without_its_key_refuses_to_start(tmp_path: Path) -> None:
    config = config_for(desk_folder(tmp_path), audit_anchor=AuditAnchorConfig(
        rpc_url="http://127.0.0.1:1", address="0x" + "11" * 20))  # fmt: skip
    with pytest.raises(InputError, match="ZKRISK_ANCHOR_KEY: must hold the audit anchor key"):
        read_secrets(config, {"ZKRISK_SIGNER_KEY": SIGNER_KEY, "ZKRISK_KILLSWITCH_TOKEN": TOKEN})


def test_a_sender_whose_anchor_holds_another_logs_root_names_the_fork_and_sends_nothing(
    tmp_path: Path, anvil_node: AnvilNode, caplog: pytest.LogCaptureFixture
) -> None:
    anchor = deploy_anchor(anvil_node)
    anchor.checkpoint(10, b"\x13" * 32)  # a leaked key's first checkpoint
    log = AuditLog(tmp_path / "audit.sqlite", checkpoint_every=10, checkpoint_seconds=None)
    for n in range(1, 21):
        log.append("check", f"o-{n}", "APPROVE", "{}", "{}")
    sender = AnchorSender(anchor)
    sender.attach(log)
    latest = log.checkpoint()
    assert latest is not None
    sender.submit_checkpoint(latest)
    sender.close()
    log.close()
    assert sender.sent == 0 and anchor.latest().size == 10
    assert "the checkpoint anchored at size 10 (root 1313131313131313…) is not one of this " \
        "log's: the anchored history forked" in caplog.text  # fmt: skip


def test_a_sender_whose_anchor_is_ahead_of_the_log_names_it_and_sends_nothing(
    anchored_log: Path, anchor: AuditAnchor, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    older = AuditLog(tmp_path / "restored.sqlite", checkpoint_every=10, checkpoint_seconds=None)
    for n in range(1, 21):  # a log restored from a copy older than what was anchored (30)
        older.append("check", f"o-{n}", "APPROVE", "{}", "{}")
    sender = AnchorSender(anchor)
    sender.attach(older)
    latest = older.checkpoint()
    assert latest is not None
    sender.submit_checkpoint(latest)
    sender.close()
    older.close()
    assert sender.sent == 0 and anchor.latest().size == 30
    assert "the AuditAnchor already holds size 30" in caplog.text
    assert "not this log's checkpoint at size 20" in caplog.text
