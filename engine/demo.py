"""The walking-skeleton demo: a private book proven healthy and checked on a real Anvil node."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from zkrisk.prover import snarkjs_cli
from zkrisk.prover.artifacts import build
from zkrisk.prover.field import SNARK_SCALAR_FIELD
from zkrisk.prover.registry import get_circuit, load_registry
from zkrisk.prover.toolchain import check_all

from .chain.anvil import DEV_PRIVATE_KEYS, anvil
from .chain.client import ChainClient, TransactionReverted
from .chain.deploy import deploy_health
from .models import Asset, Portfolio, Position, PricePoint, PriceSnapshot
from .paths import registry_path, repo_root
from .statements.binding import Action, action_binding
from .statements.commitment import new_salt
from .statements.health import HealthMode, health_statement

CIRCUIT = "health4"
MIN_HF_BPS = 10_500  # withdrawals need HF ≥ 1.05

ASSETS = (
    Asset(symbol="USDC", decimals=6, liquidation_threshold_bps=9_000, collateral_factor_bps=8_500,
          price_source="chainlink:USDC/USD"),
    Asset(symbol="WETH", decimals=18, liquidation_threshold_bps=8_250, collateral_factor_bps=8_000,
          price_source="chainlink:ETH/USD"),
    Asset(symbol="WBTC", decimals=8, liquidation_threshold_bps=7_800, collateral_factor_bps=7_300,
          price_source="chainlink:BTC/USD"),
)  # fmt: skip


def demo_book(account: str) -> Portfolio:
    return Portfolio(
        account=account,
        positions=(
            Position(symbol="WBTC", quantity=Decimal("1.5")),
            Position(symbol="WETH", quantity=Decimal("-12")),  # borrowed ETH: debt
            Position(symbol="USDC", quantity=Decimal("20000")),
        ),
        margin=Decimal("5000"),
        margin_symbol="USDC",
    )


def demo_snapshot(now: int) -> PriceSnapshot:
    prices = {"USDC": "1.0001", "WETH": "3012.55", "WBTC": "61250.5"}
    return PriceSnapshot(
        prices={
            s: PricePoint(price=Decimal(p), timestamp=now, round_id=1) for s, p in prices.items()
        },
        snapshot_id=1,
        taken_at=now,
    )


def run_demo(say: Callable[[str], None] = print) -> None:
    """Build, prove, deploy and verify; print what happened. Leaves no process running."""
    repo = repo_root()
    say("zkrisk walking skeleton — private book → Groth16 proof → on-chain verifier (Anvil)")
    tools = check_all()
    say(f"  toolchain: node {tools['node']}, solc {tools['solc']}")
    started = time.perf_counter()
    artifacts = build(
        get_circuit(load_registry(registry_path()), CIRCUIT), repo, log=lambda s: say("  " + s)
    )
    meta = artifacts.meta
    insecure = " — DEV ptau, INSECURE: not for real funds" if artifacts.dev_ptau else ""
    say(f"1. circuit {CIRCUIT}: {meta['constraints']:,} constraints, ptau power "
        f"{meta['ptau']['power']} ({meta['ptau']['source']}){insecure} [{time.perf_counter() - started:.1f}s]")  # fmt: skip

    with anvil() as node:
        client = ChainClient.connect(node.url, DEV_PRIVATE_KEYS[0])
        deployment = deploy_health(client, artifacts)
        say(f"2. anvil on {node.url} (chain {client.chain_id}); verifier {deployment.verifier.address}, "
            f"gate {deployment.attestor.address}")  # fmt: skip

        book = demo_book(client.account.address)
        snapshot = demo_snapshot(int(time.time()))
        binding = action_binding(
            chain_id=client.chain_id, vault=deployment.attestor.address, account=book.account,
            action=Action.ATTEST, amount=0, nonce=0, snapshot_id=snapshot.snapshot_id,
        )  # fmt: skip
        statement = health_statement(
            book, snapshot, ASSETS, slots=artifacts.spec.params[0], salt=new_salt(),
            threshold_bps=MIN_HF_BPS, mode=HealthMode.AT_LEAST, binding=binding,
        )  # fmt: skip
        hf = Decimal(statement.weighted_collateral()) / Decimal(statement.debt_value() * 10_000)
        say(f"3. private book: {len(book.positions)} positions + {book.margin} USDC margin; "
            f"HF = {hf:.4f} ≥ {MIN_HF_BPS / 10_000} → the engine says the statement holds: {statement.holds()}")  # fmt: skip
        say(
            f"   commitment {hex(statement.commitment())[:18]}…  (Poseidon over book, salt, account)"
        )

        t0 = time.perf_counter()
        proof = snarkjs_cli.prove(artifacts, statement.signals())
        prove_s = time.perf_counter() - t0
        ok = snarkjs_cli.verify(artifacts.vkey, proof)
        say(
            f"4. Groth16 proof via snarkjs in {prove_s:.2f}s; snarkjs verify: {'OK' if ok else 'FAILED'}"
        )
        if not ok:
            raise RuntimeError("snarkjs rejected a proof the engine produced")

        forged = replace(proof, c=proof.a)
        tampered = list(proof.public_signals)
        tampered[2] = (tampered[2] + 1) % SNARK_SCALAR_FIELD  # claim more margin than proven
        attempts = (("a forged proof", forged), ("a tampered public input (margin + 1)",
                    proof.with_public_signals(tuple(tampered))))  # fmt: skip
        for label, bad in attempts:
            try:
                deployment.attest(bad)
            except TransactionReverted as exc:
                say(f"5. {label}: rejected on-chain ({exc.error})")
            else:
                raise RuntimeError(f"{label} was accepted on-chain")

        receipt = deployment.attest(proof)
        say(f"6. the real proof: attest() mined in block {receipt['blockNumber']}, "
            f"gas {receipt['gasUsed']:,} — verified on-chain")  # fmt: skip
        try:
            deployment.attest(proof)
        except TransactionReverted as exc:
            say(
                f"7. the same proof again: rejected ({exc.error}) — nonces, not proof bytes, stop replay"
            )
    say("done: anvil stopped, nothing left running.")
