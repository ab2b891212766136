"""Walking skeleton: Health(4) witness and proof through the snarkjs CLI, and on-chain gas."""

from __future__ import annotations

import tempfile
from pathlib import Path

from zkrisk.engine.chain.anvil import DEV_PRIVATE_KEYS, anvil
from zkrisk.engine.chain.client import ChainClient
from zkrisk.engine.chain.deploy import deploy_health
from zkrisk.engine.demo import ASSETS, demo_book, demo_snapshot
from zkrisk.engine.paths import registry_path, repo_root
from zkrisk.engine.statements.binding import Action, action_binding
from zkrisk.engine.statements.commitment import new_salt
from zkrisk.engine.statements.health import HealthMode, health_statement
from zkrisk.prover import snarkjs_cli
from zkrisk.prover.artifacts import build
from zkrisk.prover.registry import load_registry

from .common import Metric, median_ms, metric

RUNS = 5


def run() -> dict[str, Metric]:
    artifacts = build(load_registry(registry_path())["health4"], repo_root(), log=lambda _l: None)
    with anvil() as node:
        client = ChainClient.connect(node.url, DEV_PRIVATE_KEYS[0])
        deployment = deploy_health(client, artifacts)
        book, snapshot = demo_book(client.account.address), demo_snapshot(1_700_000_000)
        binding = action_binding(
            chain_id=client.chain_id, vault=deployment.attestor.address, account=book.account,
            action=Action.ATTEST, amount=0, nonce=0, snapshot_id=snapshot.snapshot_id,
            submitter=book.account,
        )  # fmt: skip
        statement = health_statement(
            book, snapshot, ASSETS, slots=4, salt=new_salt(), threshold_bps=10_500,
            mode=HealthMode.AT_LEAST, binding=binding,
        )  # fmt: skip
        signals = statement.signals()
        with tempfile.TemporaryDirectory() as tmp:
            wtns = Path(tmp) / "w.wtns"
            witness_ms = median_ms(
                lambda: snarkjs_cli.calculate_witness(artifacts.compiled, signals, wtns), RUNS
            )
            prove_ms = median_ms(lambda: snarkjs_cli.prove_witness(artifacts, wtns), RUNS)
            proof = snarkjs_cli.prove_witness(artifacts, wtns)
        gas = deployment.attest(proof)["gasUsed"]
    cli = "snarkjs CLI (one node process per call)"
    return {
        "skeleton_witness_ms": metric(witness_ms, "ms", RUNS, f"Health(4) witness, {cli}, median"),
        "skeleton_prove_ms": metric(
            prove_ms, "ms", RUNS, f"Health(4) groth16 prove, {cli}, median"
        ),
        "skeleton_verify_onchain_gas": metric(
            gas, "gas", 1, "mined HealthAttestor.attest tx (verify + binding store + event), Anvil"
        ),
    }
