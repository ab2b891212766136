"""Real Health proofs for the forge tests, written to contracts/test/fixtures/vault.json.

The forge tests deploy the dev scenario (engine/chain/dev_scenario.py) with the vault created by
VAULT_DEPLOYER at nonce 0, so its address — bound into every proof — is known here without a
chain. Every proof is bound to its submitter (the desk for its own actions, the keeper for a
liquidation). The script the proofs follow: the desk deposits and commits its attested book at
snapshot 1 (CALM) with `updateBook` (nonce 0); then withdraws, updates to the rebalanced book,
re-proves, swaps in an empty book (attack 1), or re-proves at a calm snapshot 2 (after an outage,
a pause, or at a degraded snapshot); or, after a CRASH snapshot 2, a keeper liquidates at a
margin with a 1 % buffer (attack 4) proving HF < 1 or HF < 0.95 (attack 9).
The zkey is regenerated per machine, so fixtures are build outputs (gitignored), re-proved only
when the verification key, the scenario or this module change (`make contracts-test` runs it).
The attestations are signed here with a fixed, public test key, so the forge tests cross-check
the vault's EIP-712 digest against eth_account's.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

from zkrisk.prover import snarkjs_cli
from zkrisk.prover.artifacts import CircuitArtifacts

from ..audit_forge_fixtures import write_audit_fixtures
from ..paths import repo_root
from ..risk.fixed_point import PRICE_DECIMALS, QTY_DECIMALS, from_fixed, to_price
from ..risk.models import Portfolio, PricePoint, PriceSnapshot
from ..statements.binding import Action, action_binding
from ..statements.commitment import account_to_int
from ..statements.health import HealthMode, HealthStatement, health_statement
from ..statements.snapshot import snapshot_hash
from . import dev_scenario as ds
from .deploy import install_verifier
from .deployments import create_address
from .poseidon_contract import poseidon_contract
from .vault_types import feed_answer

FORGE_CHAIN_ID: Final = 31337  # forge's default chain id
FORGE_START: Final = 1_700_000_000  # the forge tests' first block timestamp
VAULT_DEPLOYER: Final = "0x0000000000000000000000000000000000d3C0De"
DESK: Final = "0x00000000000000000000000000000000De5c0001"
KEEPER: Final = "0x000000000000000000000000000000000000BEe9"
BENEFICIARY: Final = "0x000000000000000000000000000000000000be4E"
# A public test key (never holds value): the forge tests register its address as the attester.
ATTESTER_KEY: Final = int.from_bytes(keccak(b"zkrisk forge attester"), "big")
SALT: Final = 0x5A17_0F_F0_12E5  # fixed: fixtures are public test data
CALM_ID, CRASH_ID = 1, 2
LIQUIDATION_HF_BPS: Final = 10_000
FULL_LIQUIDATION_HF_BPS: Final = 9_500
KEEPER_BUFFER_PCT: Final = 1  # keepers prove at escrow + 1 % (rounded up)


def fixtures_path() -> Path:
    return repo_root() / "contracts" / "test" / "fixtures" / "vault.json"


def forge_vault_address() -> str:
    return create_address(VAULT_DEPLOYER, 0)


def _prices(prices: dict[str, Decimal]) -> list[int]:
    return [to_price(prices[a.symbol]) for a in ds.ASSETS]


def _padded(values: Sequence[int], slots: int) -> list[int]:
    return [*values, *([0] * (slots - len(values)))]


def margin_quantity(amount: int, *, round_up: bool) -> int:
    """Token units of the scenario's margin token → QTY fixed point, as RiskVault rounds."""
    decimals = ds.USDC.decimals
    if decimals <= QTY_DECIMALS:
        return amount * int(10 ** (QTY_DECIMALS - decimals))
    quotient, remainder = divmod(amount, int(10 ** (decimals - QTY_DECIMALS)))
    return quotient + (1 if round_up and remainder else 0)


def keeper_margin(escrow: int) -> int:
    """The keeper's provenMargin: escrow's QTY amount (rounded up) plus the buffer, rounded up."""
    exact = margin_quantity(escrow, round_up=True)
    return -(-exact * (100 + KEEPER_BUFFER_PCT) // 100)


def empty_book(account: str) -> Portfolio:
    """A book with no positions: HF = ∞ at any margin (the desk's swap of attack 1)."""
    return Portfolio(account=account, positions=())


@dataclass(frozen=True)
class ProofPlan:
    """One fixture proof: which book, which action, bound to whom, at which margin and threshold."""

    book_of: Callable[[str], Portfolio]
    action: Action
    amount: int
    nonce: int
    snapshot_id: int
    prices: dict[str, Decimal]
    margin: int  # QTY fixed point
    threshold_bps: int
    mode: HealthMode
    submitter: str


def _desk(
    book_of: Callable[[str], Portfolio], action: Action, *, nonce: int, snapshot_id: int = CALM_ID,
    amount: int = 0, threshold_bps: int | None = None,
) -> ProofPlan:  # fmt: skip
    left = ds.DEPOSIT - amount
    return ProofPlan(
        book_of, action, amount, nonce, snapshot_id, ds.CALM, margin_quantity(left, round_up=False),
        ds.POLICY.min_health_bps if threshold_bps is None else threshold_bps, HealthMode.AT_LEAST,
        DESK,
    )  # fmt: skip


def _keeper(*, nonce: int, escrow: int, hf_below_bps: int, margin: int | None = None) -> ProofPlan:
    return ProofPlan(
        ds.book, Action.LIQUIDATE, 0, nonce, CRASH_ID, ds.CRASH,
        keeper_margin(escrow) if margin is None else margin, hf_below_bps, HealthMode.BELOW, KEEPER,
    )  # fmt: skip


def proof_plans() -> dict[str, ProofPlan]:
    """name → plan of every proof the forge tests use."""
    u, w, a = Action.UPDATE_COMMITMENT, Action.WITHDRAW, Action.ATTEST
    degraded = ds.POLICY.degraded_min_health_bps
    after = ds.DEPOSIT - ds.WITHDRAW
    return {
        "update0": _desk(ds.book, u, nonce=0),
        "withdraw": _desk(ds.book, w, nonce=1, amount=ds.WITHDRAW),
        "update": _desk(ds.rebalanced_book, u, nonce=1),
        "prove": _desk(ds.book, a, nonce=1),
        "prove2": _desk(ds.book, a, nonce=1, snapshot_id=2),
        "proveDegraded2": _desk(ds.book, a, nonce=1, snapshot_id=2, threshold_bps=degraded),
        "withdraw2": _desk(ds.book, w, nonce=1, snapshot_id=2, amount=ds.WITHDRAW),
        "emptyUpdate": _desk(empty_book, u, nonce=1),
        "emptyWithdraw": _desk(empty_book, w, nonce=1, amount=ds.DEPOSIT),
        "liquidate": _keeper(nonce=1, escrow=ds.DEPOSIT, hf_below_bps=LIQUIDATION_HF_BPS),
        "liquidate95": _keeper(nonce=1, escrow=ds.DEPOSIT, hf_below_bps=FULL_LIQUIDATION_HF_BPS),
        "liquidateExact": _keeper(
            nonce=1,
            escrow=ds.DEPOSIT,
            hf_below_bps=LIQUIDATION_HF_BPS,
            margin=margin_quantity(ds.DEPOSIT, round_up=True),
        ),
        "liquidateAfterWithdraw": _keeper(nonce=2, escrow=after, hf_below_bps=LIQUIDATION_HF_BPS),
    }


def plan_statement(plan: ProofPlan, slots: int) -> HealthStatement:
    """The Health statement RiskVault checks for `plan` (the desk's account, bound to submitter)."""
    book = plan.book_of(DESK)
    snapshot = PriceSnapshot(
        prices={
            a.symbol: PricePoint(
                price=from_fixed(p, PRICE_DECIMALS), timestamp=0, round_id=plan.snapshot_id
            )
            for a, p in zip(ds.ASSETS, _prices(plan.prices), strict=True)
        },
        snapshot_id=plan.snapshot_id,
        taken_at=0,
    )
    binding = action_binding(
        chain_id=FORGE_CHAIN_ID, vault=forge_vault_address(), account=DESK, action=plan.action,
        amount=plan.amount, nonce=plan.nonce, snapshot_id=plan.snapshot_id,
        submitter=plan.submitter,
    )  # fmt: skip
    statement = health_statement(
        book, snapshot, ds.ASSETS, slots=slots, salt=SALT, threshold_bps=plan.threshold_bps,
        mode=plan.mode, binding=binding,
    )  # fmt: skip
    # The vault's margin is on-chain escrow (or the keeper's buffered margin), never the book's.
    return replace(statement, margin=plan.margin)


def scenario_statements(slots: int) -> dict[str, tuple[HealthStatement, ProofPlan]]:
    """name → (statement, plan) for every fixture proof; each statement must hold."""
    out: dict[str, tuple[HealthStatement, ProofPlan]] = {}
    for name, plan in proof_plans().items():
        statement = plan_statement(plan, slots)
        if not statement.holds():
            raise AssertionError(f"dev scenario broken: proof {name!r} does not hold")
        out[name] = (statement, plan)
    return out


def attestation(commitment: int, sequence: int, issued_at: int) -> dict[str, Any]:
    """A BookAttestation of the desk's book signed with ATTESTER_KEY, with its EIP-712 digest."""
    message = {"account": DESK, "commitment": commitment, "sequence": sequence,
               "issuedAt": issued_at}  # fmt: skip
    domain = {
        "name": "zkrisk RiskVault",
        "version": "2",
        "chainId": FORGE_CHAIN_ID,
        "verifyingContract": forge_vault_address(),
    }
    fields = [("account", "address"), ("commitment", "uint256"), ("sequence", "uint64"),
              ("issuedAt", "uint64")]  # fmt: skip
    typed = encode_typed_data(
        domain_data=domain,
        message_types={"BookAttestation": [{"name": n, "type": t} for n, t in fields]},
        message_data=message,
    )
    signed = Account.sign_message(typed, ATTESTER_KEY.to_bytes(32, "big"))
    return {
        "commitment": str(commitment), "sequence": sequence, "issuedAt": issued_at,
        "digest": "0x" + bytes(signed.message_hash).hex(), "signature": "0x" + bytes(signed.signature).hex(),
    }  # fmt: skip


def _scenario(slots: int) -> dict[str, Any]:
    """Everything but the proofs: deterministic, and part of the cache key."""
    lts = [a.liquidation_threshold_bps for a in ds.ASSETS]
    feed_decimals = [ds.FEED_DECIMALS[a.symbol] for a in ds.ASSETS]
    calm, crash = _prices(ds.CALM), _prices(ds.CRASH)
    statements = scenario_statements(slots)
    book_c = statements["update0"][0].commitment()
    rebalanced_c = statements["update"][0].commitment()
    empty_c = statements["emptyUpdate"][0].commitment()
    return {
        "circuitSlots": slots,
        "chainId": FORGE_CHAIN_ID,
        "start": FORGE_START,
        "vaultDeployer": VAULT_DEPLOYER,
        "vault": forge_vault_address(),
        "desk": DESK,
        "deskInt": str(account_to_int(DESK)),
        "keeper": KEEPER,
        "beneficiary": BENEFICIARY,
        "attester": Account.from_key(ATTESTER_KEY.to_bytes(32, "big")).address,
        "attesterKey": str(ATTESTER_KEY),
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
        "calm2SnapshotHash": str(snapshot_hash(2, _padded(calm, slots), _padded(lts, slots))),
        "deposit": str(ds.DEPOSIT),
        "withdraw": str(ds.WITHDRAW),
        "keeperMargin": str(keeper_margin(ds.DEPOSIT)),
        "keeperMarginAfterWithdraw": str(keeper_margin(ds.DEPOSIT - ds.WITHDRAW)),
        "policy": ds.POLICY.as_dict(),
        "priceBookMaxAge": ds.PRICE_BOOK_MAX_AGE,
        "commitment": str(book_c),
        "rebalancedCommitment": str(rebalanced_c),
        "emptyCommitment": str(empty_c),
        "attestations": {
            "book": attestation(book_c, 1, FORGE_START),
            "rebalanced": attestation(rebalanced_c, 2, FORGE_START),
            "empty": attestation(empty_c, 2, FORGE_START),
        },
    }  # fmt: skip


def _key(artifacts: CircuitArtifacts, scenario: dict[str, Any]) -> str:
    h = hashlib.sha256(artifacts.vkey.read_bytes())
    h.update(json.dumps(scenario, sort_keys=True).encode())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()[:24]


def write_forge_fixtures(
    artifacts: CircuitArtifacts, *, force: bool = False, log: Callable[[str], None] = print
) -> Path:
    """Install the verifier and (re)write the fixtures unless they are up to date (and the
    audit anchor's consistency-proof fixtures, `audit_forge_fixtures`)."""
    install_verifier(artifacts)
    log(f"audit fixtures → {write_audit_fixtures().relative_to(repo_root())}")
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
    for name, (statement, plan) in scenario_statements(slots).items():
        proof = snarkjs_cli.prove(artifacts, statement.signals())
        if proof.public_signals != statement.public_signals():
            raise RuntimeError(f"{name}: snarkjs public signals differ from the statement")
        words, public = proof.calldata()
        proofs[name] = {
            "proof": [str(w) for w in words],
            "public": [str(s) for s in public],
            "action": int(plan.action),
            "amount": str(plan.amount),
            "nonce": plan.nonce,
            "snapshotId": plan.snapshot_id,
            "submitter": plan.submitter,
            "margin": str(plan.margin),
            "thresholdBps": plan.threshold_bps,
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
