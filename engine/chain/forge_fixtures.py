"""Real Health proofs for the forge tests, written to contracts/test/fixtures/vault.json.

The forge tests deploy the dev scenario (engine/chain/dev_scenario.py) with the vault created by
VAULT_DEPLOYER at nonce 0, so its address — bound into every proof — is known here without a
chain. The proofs follow one script: deposit, commit at snapshot 1 (CALM), then either withdraw,
update the commitment or (after a CRASH snapshot 2) be liquidated; plus withdraw-then-liquidate.
The zkey is regenerated per machine, so fixtures are build outputs (gitignored), re-proved only
when the verification key, the scenario or this module change (`make contracts-test` runs it).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from zkrisk.prover import snarkjs_cli
from zkrisk.prover.artifacts import CircuitArtifacts

from ..fixed_point import to_price
from ..models import Portfolio
from ..paths import repo_root
from ..statements.binding import Action
from ..statements.commitment import account_to_int
from ..statements.health import HealthStatement
from ..statements.snapshot import snapshot_hash
from . import dev_scenario as ds
from .deploy import install_verifier
from .deployments import create_address
from .poseidon_contract import poseidon_contract
from .vault_statement import vault_health_statement
from .vault_types import feed_answer

FORGE_CHAIN_ID: Final = 31337  # forge's default chain id
VAULT_DEPLOYER: Final = "0x0000000000000000000000000000000000d3C0De"
DESK: Final = "0x00000000000000000000000000000000De5c0001"
KEEPER: Final = "0x000000000000000000000000000000000000BEe9"
BENEFICIARY: Final = "0x000000000000000000000000000000000000be4E"
SALT: Final = 0x5A17_0F_F0_12E5  # fixed: fixtures are public test data
CALM_ID, CRASH_ID = 1, 2


def fixtures_path() -> Path:
    return repo_root() / "contracts" / "test" / "fixtures" / "vault.json"


def forge_vault_address() -> str:
    return create_address(VAULT_DEPLOYER, 0)


def _prices(prices: dict[str, Decimal]) -> list[int]:
    return [to_price(prices[a.symbol]) for a in ds.ASSETS]


def _padded(values: Sequence[int], slots: int) -> list[int]:
    return [*values, *([0] * (slots - len(values)))]


def _statement(
    slots: int, *, book_of: Callable[[str], Portfolio], action: Action, amount: int, nonce: int,
    snapshot_id: int, prices: dict[str, Decimal], escrow: int,
) -> HealthStatement:  # fmt: skip
    statement = vault_health_statement(
        book=book_of(DESK), assets=ds.ASSETS, slots=slots, salt=SALT, action=action,
        amount=amount, nonce=nonce, snapshot_id=snapshot_id, prices=_prices(prices),
        escrow=escrow, token_decimals=ds.USDC.decimals, min_health_bps=ds.POLICY.min_health_bps,
        chain_id=FORGE_CHAIN_ID, vault=forge_vault_address(),
    )  # fmt: skip
    if not statement.holds():
        raise AssertionError(f"dev scenario broken: {action.name} at nonce {nonce} does not hold")
    return statement


def scenario_statements(slots: int) -> dict[str, tuple[HealthStatement, Action, int, int]]:
    """name → (statement, action, amount, nonce) for every proof the forge tests use."""
    after = ds.DEPOSIT - ds.WITHDRAW
    plan: dict[
        str, tuple[Callable[[str], Portfolio], Action, int, int, int, dict[str, Decimal], int]
    ] = {
        "commit": (ds.book, Action.UPDATE_COMMITMENT, 0, 0, CALM_ID, ds.CALM, ds.DEPOSIT),
        "withdraw": (ds.book, Action.WITHDRAW, ds.WITHDRAW, 1, CALM_ID, ds.CALM, ds.DEPOSIT),
        "update": (
            ds.rebalanced_book,
            Action.UPDATE_COMMITMENT,
            0,
            1,
            CALM_ID,
            ds.CALM,
            ds.DEPOSIT,
        ),
        "liquidate": (ds.book, Action.LIQUIDATE, 0, 1, CRASH_ID, ds.CRASH, ds.DEPOSIT),
        "liquidateAfterWithdraw": (ds.book, Action.LIQUIDATE, 0, 2, CRASH_ID, ds.CRASH, after),
    }
    out: dict[str, tuple[HealthStatement, Action, int, int]] = {}
    for name, (book_of, action, amount, nonce, sid, prices, escrow) in plan.items():
        statement = _statement(
            slots, book_of=book_of, action=action, amount=amount, nonce=nonce,
            snapshot_id=sid, prices=prices, escrow=escrow,
        )  # fmt: skip
        out[name] = (statement, action, amount, nonce)
    return out


def _scenario(slots: int) -> dict[str, Any]:
    """Everything but the proofs: deterministic, and part of the cache key."""
    lts = [a.liquidation_threshold_bps for a in ds.ASSETS]
    feed_decimals = [ds.FEED_DECIMALS[a.symbol] for a in ds.ASSETS]
    policy = ds.POLICY
    calm, crash = _prices(ds.CALM), _prices(ds.CRASH)
    statements = scenario_statements(slots)
    return {
        "circuitSlots": slots,
        "chainId": FORGE_CHAIN_ID,
        "vaultDeployer": VAULT_DEPLOYER,
        "vault": forge_vault_address(),
        "desk": DESK,
        "deskInt": str(account_to_int(DESK)),
        "keeper": KEEPER,
        "beneficiary": BENEFICIARY,
        "poseidon5": poseidon_contract(5).bytecode,
        "tokenDecimals": ds.USDC.decimals,
        "feedDecimals": feed_decimals,
        "lts": lts,
        "calmAnswers": [str(feed_answer(ds.CALM[a.symbol], d)) for a, d in zip(ds.ASSETS, feed_decimals, strict=True)],
        "crashAnswers": [str(feed_answer(ds.CRASH[a.symbol], d)) for a, d in zip(ds.ASSETS, feed_decimals, strict=True)],
        "calmPrices": [str(p) for p in calm],
        "crashPrices": [str(p) for p in crash],
        "calmSnapshotHash": str(snapshot_hash(CALM_ID, _padded(calm, slots), _padded(lts, slots))),
        "crashSnapshotHash": str(snapshot_hash(CRASH_ID, _padded(crash, slots), _padded(lts, slots))),
        "deposit": str(ds.DEPOSIT),
        "withdraw": str(ds.WITHDRAW),
        "minHealthBps": policy.min_health_bps,
        "closeFactorBps": policy.close_factor_bps,
        "liquidationBonusBps": policy.liquidation_bonus_bps,
        "maxPriceAge": policy.max_price_age,
        "maxProofAge": policy.max_proof_age,
        "liquidationCooldown": policy.liquidation_cooldown,
        "priceBookMaxAge": ds.PRICE_BOOK_MAX_AGE,
        "commitment": str(statements["commit"][0].commitment()),
        "rebalancedCommitment": str(statements["update"][0].commitment()),
    }  # fmt: skip


def _key(artifacts: CircuitArtifacts, scenario: dict[str, Any]) -> str:
    h = hashlib.sha256(artifacts.vkey.read_bytes())
    h.update(json.dumps(scenario, sort_keys=True).encode())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()[:24]


def write_forge_fixtures(
    artifacts: CircuitArtifacts, *, force: bool = False, log: Callable[[str], None] = print
) -> Path:
    """Install the verifier and (re)write the fixtures unless they are up to date."""
    install_verifier(artifacts)
    slots = artifacts.spec.params[0]
    scenario = _scenario(slots)
    key = _key(artifacts, scenario)
    path = fixtures_path()
    if not force and path.is_file():
        try:
            if json.loads(path.read_text()).get("key") == key:
                log(f"forge fixtures up to date ({path.relative_to(repo_root())})")
                return path
        except json.JSONDecodeError:
            pass  # a broken file is simply regenerated
    started = time.perf_counter()
    proofs: dict[str, Any] = {}
    for name, (statement, action, amount, nonce) in scenario_statements(slots).items():
        proof = snarkjs_cli.prove(artifacts, statement.signals())
        if proof.public_signals != statement.public_signals():
            raise RuntimeError(f"{name}: snarkjs public signals differ from the statement")
        words, public = proof.calldata()
        proofs[name] = {
            "proof": [str(w) for w in words],
            "public": [str(s) for s in public],
            "action": int(action),
            "amount": str(amount),
            "nonce": nonce,
            "snapshotId": statement.snapshot_id,
        }
    data = {"key": key, "circuit": artifacts.spec.name, "devPtau": artifacts.dev_ptau,
            **scenario, "proofs": proofs}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(path)
    log(
        f"forge fixtures: {len(proofs)} proofs in {time.perf_counter() - started:.1f}s → "
        f"{path.relative_to(repo_root())}"
    )
    return path
