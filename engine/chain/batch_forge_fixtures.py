"""Real Health proofs of a second desk for the forge tests of `liquidateMany`.

Written to contracts/test/fixtures/liquidate_many.json beside the Health fixtures
(forge_fixtures.py), for the same vault address, scenario, salt and attester key. DESK2 holds the
same book as the fixtures' desk (unhealthy at CRASH prices): it commits it at snapshot 1 with
`updateBook` (nonce 0, bound to DESK2), then after the CRASH snapshot 2 the keeper liquidates it
(nonce 1, margin escrow + 1 %, bound to the keeper) with a proof of HF < 1 or of HF < 0.95.
Together with vault.json's `liquidate` / `liquidate95` of the first desk, a batch of two.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from eth_account import Account
from eth_account.messages import encode_typed_data

from zkrisk.prover import snarkjs_cli
from zkrisk.prover.artifacts import CircuitArtifacts

from ..paths import repo_root
from ..risk.fixed_point import PRICE_DECIMALS, from_fixed, to_price
from ..risk.models import PricePoint, PriceSnapshot
from ..statements.binding import Action, action_binding
from ..statements.health import HealthMode, HealthStatement, health_statement
from . import dev_scenario as ds
from . import forge_fixtures as ff

DESK2: Final = "0x00000000000000000000000000000000De5c0002"


def fixtures_path() -> Path:
    return repo_root() / "contracts" / "test" / "fixtures" / "liquidate_many.json"


def proof_plans() -> dict[str, ff.ProofPlan]:
    """name → plan of DESK2's proofs (ProofPlan.book_of is applied to DESK2)."""
    keeper_margin = ff.keeper_margin(ds.DEPOSIT)
    desk_margin = ff.margin_quantity(ds.DEPOSIT, round_up=False)
    below = HealthMode.BELOW

    def keeper(hf_below_bps: int) -> ff.ProofPlan:
        return ff.ProofPlan(ds.book, Action.LIQUIDATE, 0, 1, ff.CRASH_ID, ds.CRASH, keeper_margin,
                            hf_below_bps, below, ff.KEEPER)  # fmt: skip

    update = ff.ProofPlan(
        ds.book, Action.UPDATE_COMMITMENT, 0, 0, ff.CALM_ID, ds.CALM, desk_margin,
        ds.POLICY.min_health_bps, HealthMode.AT_LEAST, DESK2,
    )  # fmt: skip
    return {
        "desk2Update0": update,
        "desk2Liquidate": keeper(ff.LIQUIDATION_HF_BPS),
        "desk2Liquidate95": keeper(ff.FULL_LIQUIDATION_HF_BPS),
    }


def plan_statement(plan: ff.ProofPlan, slots: int) -> HealthStatement:
    """The Health statement RiskVault checks for DESK2 under `plan`."""
    prices = {a.symbol: p for a, p in zip(ds.ASSETS, _fixed(plan.prices), strict=True)}
    snapshot = PriceSnapshot(
        prices={
            s: PricePoint(price=from_fixed(p, PRICE_DECIMALS), timestamp=0,
                          round_id=plan.snapshot_id)
            for s, p in prices.items()
        },
        snapshot_id=plan.snapshot_id,
        taken_at=0,
    )  # fmt: skip
    binding = action_binding(
        chain_id=ff.FORGE_CHAIN_ID, vault=ff.forge_vault_address(), account=DESK2,
        action=plan.action, amount=plan.amount, nonce=plan.nonce, snapshot_id=plan.snapshot_id,
        submitter=plan.submitter,
    )  # fmt: skip
    statement = health_statement(
        plan.book_of(DESK2), snapshot, ds.ASSETS, slots=slots, salt=ff.SALT,
        threshold_bps=plan.threshold_bps, mode=plan.mode, binding=binding,
    )  # fmt: skip
    return replace(statement, margin=plan.margin)


def _fixed(prices: dict[str, Decimal]) -> list[int]:
    return [to_price(prices[a.symbol]) for a in ds.ASSETS]


def attestation(commitment: int, sequence: int, issued_at: int) -> dict[str, Any]:
    """DESK2's BookAttestation signed with the fixtures' attester key."""
    message = {"account": DESK2, "commitment": commitment, "sequence": sequence,
               "issuedAt": issued_at}  # fmt: skip
    domain = {"name": "zkrisk RiskVault", "version": "2", "chainId": ff.FORGE_CHAIN_ID,
              "verifyingContract": ff.forge_vault_address()}  # fmt: skip
    fields = [("account", "address"), ("commitment", "uint256"), ("sequence", "uint64"),
              ("issuedAt", "uint64")]  # fmt: skip
    typed = encode_typed_data(
        domain_data=domain,
        message_types={"BookAttestation": [{"name": n, "type": t} for n, t in fields]},
        message_data=message,
    )
    signed = Account.sign_message(typed, ff.ATTESTER_KEY.to_bytes(32, "big"))
    return {"commitment": str(commitment), "sequence": sequence, "issuedAt": issued_at,
            "signature": "0x" + bytes(signed.signature).hex()}  # fmt: skip


def write_batch_fixtures(
    artifacts: CircuitArtifacts, *, force: bool = False, log: Callable[[str], None] = print
) -> Path:
    """(Re)write liquidate_many.json unless it is up to date (same vkey, scenario and module)."""
    slots = artifacts.spec.params[0]
    statements = {name: (plan_statement(plan, slots), plan) for name, plan in proof_plans().items()}
    for name, (statement, _plan) in statements.items():
        if not statement.holds():
            raise AssertionError(f"dev scenario broken: proof {name!r} does not hold")
    commitment = statements["desk2Update0"][0].commitment()
    scenario = {"desk2": DESK2, "commitment2": str(commitment), "vault": ff.forge_vault_address(),
                "attestation2": attestation(commitment, 1, ff.FORGE_START)}  # fmt: skip
    h = hashlib.sha256(artifacts.vkey.read_bytes())
    h.update(json.dumps(scenario, sort_keys=True).encode())
    h.update(Path(__file__).read_bytes())
    key = h.hexdigest()[:24]
    path = fixtures_path()
    if not force and path.is_file():
        try:
            if json.loads(path.read_text()).get("key") == key:
                log(f"liquidateMany fixtures up to date ({path.relative_to(repo_root())})")
                return path
        except json.JSONDecodeError:
            pass  # a broken file is simply regenerated
    started = time.perf_counter()
    proofs: dict[str, Any] = {}
    for name, (statement, plan) in statements.items():
        proof = snarkjs_cli.prove(artifacts, statement.signals())
        if proof.public_signals != statement.public_signals():
            raise RuntimeError(f"{name}: snarkjs public signals differ from the statement")
        words, _public = proof.calldata()
        proofs[name] = {"proof": [str(w) for w in words], "nonce": plan.nonce,
                        "submitter": plan.submitter, "margin": str(plan.margin)}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"key": key, **scenario, "proofs": proofs}, indent=1) + "\n")
    tmp.replace(path)
    log(f"liquidateMany fixtures: {len(proofs)} proofs in {time.perf_counter() - started:.1f}s "
        f"→ {path.relative_to(repo_root())}")  # fmt: skip
    return path
