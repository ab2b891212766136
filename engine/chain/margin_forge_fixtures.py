"""Real PortfolioMargin(4, 8) proofs for the forge tests of margin-gated withdrawals.

Written to contracts/test/fixtures/margin.json beside the Health fixtures (forge_fixtures.py),
for the same desk, book commitment (the Health fixtures' book on the same 4 slots and salt) and
vault address. The clearing side publishes two risk-array sets for the dev scenario's slots
(USDC, WETH, WBTC, empty) over span_scenarios(steps=1): LOOSE (epoch 1; scan ranges 5 %) and STRICT
(epoch 2; 25 %), with USDC valued at COLLATERAL_VALUE; each set's entries and key (its name in
Margin4x8ArraysVerifier, which the tests fold them into) are in the file. The desk's book
(+1.5 WBTC against −12 WETH) needs 2,700 USD under LOOSE (BTC and ETH down 5 %) and 13,500 under STRICT: the
10,000-USDC withdrawal (9,500 USD left) holds under LOOSE, not under STRICT, which a 5,000
withdrawal passes; withdrawing everything holds under neither. Every proof is bound
(action WITHDRAW, nonce 1 — the desk's first action after `updateBook`; 0 for the stranger) with the arrays' epoch in
the binding's snapshot-id place, as RiskVault.withdrawWithMarginProof derives it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from zkrisk.prover import snarkjs_cli
from zkrisk.prover.artifacts import CircuitArtifacts

from ..paths import repo_root
from ..risk.margin.scenarios import linear_value, risk_array, span_scenarios
from ..statements.binding import Action, action_binding
from ..statements.book_slots import BookSlots
from ..statements.portfolio_margin import PortfolioMarginStatement
from . import dev_scenario as ds
from . import forge_fixtures as ff
from .deploy import install_verifier
from .margin_verifier import fold_arguments, install_margin_verifier, vault_public_signals

CIRCUIT: Final = "margin4x8"
COLLATERAL_VALUE: Final = 95_000_000  # USDC at 0.95 USD (a 5 % haircut), PRICE fixed point
STRANGER: Final = "0x0000000000000000000000000000000000005742"  # the forge tests' stranger


@dataclass(frozen=True)
class MarginPlan:
    """One fixture proof: whose book, which arrays (and epoch), which withdrawal, by whom."""

    arrays: str  # "loose" | "strict"
    epoch: int
    amount: int  # token units
    margin_left: int  # token units the proof's marginHeld values (honest: deposit − amount)
    account: str  # the account the binding names (and the submitter)
    nonce: int = 1  # the desk's first action after updateBook


def _arrays(eth_scan: float, btc_scan: float) -> tuple[tuple[int, ...], ...]:
    grid = span_scenarios(steps=1)
    return (
        risk_array(linear_value, 1.0, 0.05, 0.01, 0.0, grid),
        risk_array(linear_value, 3_000.0, 0.65, 3_000.0 * eth_scan, 0.05, grid),
        risk_array(linear_value, 60_000.0, 0.55, 60_000.0 * btc_scan, 0.05, grid),
        (0,) * len(grid),
    )


ARRAYS: Final = {"loose": _arrays(0.05, 0.05), "strict": _arrays(0.25, 0.25)}
MINIMUMS: Final = (0, 0, 0, 0)


def margin_plans() -> dict[str, MarginPlan]:
    """name → plan of every margin proof the forge tests use."""
    w, half = ds.WITHDRAW, ds.WITHDRAW // 2
    return {
        "marginWithdraw": MarginPlan("loose", 1, w, ds.DEPOSIT - w, ff.DESK),
        # withdraws everything but proves the escrow before the withdrawal (the wrong marginHeld)
        "marginAtEscrow": MarginPlan("loose", 1, ds.DEPOSIT, ds.DEPOSIT, ff.DESK),
        # the old, looser arrays bound to the new epoch (the desk picks the old hash)
        "marginOldArrays": MarginPlan("loose", 2, w, ds.DEPOSIT - w, ff.DESK),
        "marginStrict": MarginPlan("strict", 2, half, ds.DEPOSIT - half, ff.DESK),
        # the desk's book, bound to the stranger's withdrawal (another account uses the proof)
        "marginForStranger": MarginPlan("loose", 1, w, ds.DEPOSIT - w, STRANGER, nonce=0),
    }


def desk_book() -> BookSlots:
    """The Health fixtures' committed book on the same slots and salt: the same commitment."""
    health = ff.plan_statement(ff.proof_plans()["update0"], 4)
    book = BookSlots(account=health.account, salt=health.salt,
                     long=health.collateral, short=health.debt)  # fmt: skip
    if book.commitment() != health.commitment():
        raise AssertionError("margin fixtures: the book's commitment differs from Health's")
    return book


def margin_held(token_units: int) -> int:
    """RiskVault's marginHeld: QTY(escrow left, rounded down) · collateral value (VALUE scale)."""
    return ff.margin_quantity(token_units, round_up=False) * COLLATERAL_VALUE


def plan_statement(plan: MarginPlan) -> PortfolioMarginStatement:
    binding = action_binding(
        chain_id=ff.FORGE_CHAIN_ID, vault=ff.forge_vault_address(), account=plan.account,
        action=Action.WITHDRAW, amount=plan.amount, nonce=plan.nonce, snapshot_id=plan.epoch,
        submitter=plan.account,
    )  # fmt: skip
    return PortfolioMarginStatement(
        book=desk_book(), arrays=ARRAYS[plan.arrays], minimums=MINIMUMS,
        margin_held=margin_held(plan.margin_left), binding=binding,
    )  # fmt: skip


def _scenario(artifacts: CircuitArtifacts) -> dict[str, Any]:
    loose = PortfolioMarginStatement(
        book=desk_book(), arrays=ARRAYS["loose"], minimums=MINIMUMS, margin_held=0, binding=0
    )
    strict = PortfolioMarginStatement(
        book=desk_book(), arrays=ARRAYS["strict"], minimums=MINIMUMS, margin_held=0, binding=0
    )
    if strict.requirement() <= margin_held(ds.DEPOSIT - ds.WITHDRAW):
        raise AssertionError("margin fixtures: the strict arrays must refuse the 10,000 withdrawal")
    return {
        "circuit": CIRCUIT,
        "collateralValue": COLLATERAL_VALUE,
        # the arrays' keys in Margin4x8ArraysVerifier, and what `fold` takes for them
        "looseHash": str(vault_public_signals(loose)[1]),
        "strictHash": str(vault_public_signals(strict)[1]),
        "looseEntries": [str(v) for v in fold_arguments(artifacts, loose)[0]],
        "strictEntries": [str(v) for v in fold_arguments(artifacts, strict)[0]],
        "bases": [str(v) for v in fold_arguments(artifacts, loose)[1]],
        "requirementLoose": str(loose.requirement()),
        "requirementStrict": str(strict.requirement()),
        "commitment": str(desk_book().commitment()),
        "stranger": STRANGER,
    }


def fixtures_path() -> Path:
    return repo_root() / "contracts" / "test" / "fixtures" / "margin.json"


def write_margin_fixtures(
    artifacts: CircuitArtifacts, *, force: bool = False, log: Callable[[str], None] = print
) -> Path:
    """Install the margin verifiers (snarkjs' stock one, for the equivalence tests, and the
    folded one the vault gates on) and (re)write margin.json unless it is up to date."""
    install_verifier(artifacts)
    install_margin_verifier(artifacts)
    scenario = _scenario(artifacts)
    h = hashlib.sha256(artifacts.vkey.read_bytes())
    h.update(json.dumps(scenario, sort_keys=True).encode())
    h.update(Path(__file__).read_bytes())
    key = h.hexdigest()[:24]
    path = fixtures_path()
    if not force and path.is_file():
        try:
            if json.loads(path.read_text()).get("key") == key:
                log(f"margin fixtures up to date ({path.relative_to(repo_root())})")
                return path
        except json.JSONDecodeError:
            pass  # a broken file is simply regenerated
    started = time.perf_counter()
    proofs: dict[str, Any] = {}
    for name, plan in margin_plans().items():
        statement = plan_statement(plan)
        if not statement.holds():
            raise AssertionError(f"margin fixtures broken: proof {name!r} does not hold")
        proof = snarkjs_cli.prove(artifacts, statement.signals())
        if proof.public_signals != statement.public_signals():
            raise RuntimeError(f"{name}: snarkjs public signals differ from the statement")
        words, public = proof.calldata()
        proofs[name] = {
            "proof": [str(w) for w in words], "public": [str(s) for s in public],
            "vaultPublic": [str(s) for s in vault_public_signals(statement)],
            "amount": str(plan.amount), "epoch": plan.epoch, "account": plan.account,
            "nonce": plan.nonce,
        }  # fmt: skip
    data = {"key": key, "devPtau": artifacts.dev_ptau, **scenario, "proofs": proofs}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(path)
    log(f"margin fixtures: {len(proofs)} proofs in {time.perf_counter() - started:.1f}s → "
        f"{path.relative_to(repo_root())}")  # fmt: skip
    return path
