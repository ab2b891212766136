"""The Health statement for a vault action, assembled from chain state so callers never build the
binding, the margin or the threshold by hand.

`vault_health_statement` is the pure rule (mirrors RiskVault's derivation of the public inputs);
`prepare_vault_action` reads the nonce, escrow, policy and snapshot from the chain, applies it,
and cross-checks the result with `RiskVault.publicSignals` before anyone spends a second proving.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from eth_utils.address import to_checksum_address

from zkrisk.prover import snarkjs_cli
from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.proof import Proof

from ..risk.fixed_point import BPS_SCALE, PRICE_DECIMALS, QTY_DECIMALS, from_fixed
from ..risk.models import Asset, Portfolio, PricePoint, PriceSnapshot
from ..statements.binding import Action, action_binding
from ..statements.health import HealthMode, HealthStatement, health_statement
from .vault import BookOutOfDate, VaultClient, check_public_signals

LIQUIDATION_THRESHOLD_BPS = BPS_SCALE  # a proof of HF < 1 allows the close factor
FULL_LIQUIDATION_THRESHOLD_BPS = 9_500  # a proof of HF < 0.95 allows the whole escrow
KEEPER_MARGIN_BUFFER_BPS = 100  # keepers prove at escrow × 1.01: a dust deposit cannot stall them


class StatementDoesNotHold(ValueError):
    """The engine says the book does not satisfy the statement: no proof exists for it."""


def margin_quantity(amount: int, token_decimals: int, *, round_up: bool) -> int:
    """Token units → QTY fixed point, rounded as the vault does (against the prover)."""
    if amount < 0:
        raise ValueError(f"amount {amount} is negative")
    if token_decimals <= QTY_DECIMALS:
        return amount * int(10 ** (QTY_DECIMALS - token_decimals))
    quotient, remainder = divmod(amount, int(10 ** (token_decimals - QTY_DECIMALS)))
    return quotient + (1 if round_up and remainder else 0)


def keeper_margin(escrow: int, token_decimals: int) -> int:
    """The margin a keeper proves HF < t at: escrow × (1 + 1 %) rounded up, in QTY fixed point.

    HF is monotone in margin, so HF < t at a larger margin implies HF < t at the real one; the
    vault only requires provenMargin ≥ qty(escrow, roundUp). The buffer means a deposit of dust
    between proving and mining does not void the keeper's proof (attack 4), while a deposit that
    truly restores HF ≥ 1 lifts escrow above any margin at which HF < 1 was provable.
    """
    buffered = -(-escrow * (BPS_SCALE + KEEPER_MARGIN_BUFFER_BPS) // BPS_SCALE)
    return margin_quantity(buffered, token_decimals, round_up=True)


@dataclass(frozen=True)
class VaultAction:
    """A vault action and the statement a proof for it must prove."""

    action: Action
    account: str
    amount: int
    snapshot_id: int
    nonce: int
    statement: HealthStatement
    submitter: str = ""
    """msg.sender of the transaction that will use the proof (bound into it)."""

    @property
    def proven_margin(self) -> int:
        """The margin the proof is for (a liquidation passes it to the vault)."""
        return self.statement.margin

    @property
    def hf_below_bps(self) -> int:
        """The HF a liquidation proof is below (10_000 or 9_500)."""
        return self.statement.threshold_bps

    def prove(self, artifacts: CircuitArtifacts) -> Proof:
        """Groth16 proof via the snarkjs CLI; its public signals are checked against the statement."""
        proof = snarkjs_cli.prove(artifacts, self.statement.signals())
        if proof.public_signals != self.statement.public_signals():
            raise RuntimeError("snarkjs returned public signals that differ from the statement")
        return proof


def vault_health_statement(
    *,
    book: Portfolio,
    assets: Sequence[Asset],
    slots: int,
    salt: int,
    action: Action,
    amount: int,
    nonce: int,
    snapshot_id: int,
    prices: Sequence[int],
    escrow: int,
    token_decimals: int,
    min_health_bps: int,
    chain_id: int,
    vault: str,
    submitter: str,
    hf_below_bps: int = LIQUIDATION_THRESHOLD_BPS,
    proven_margin: int | None = None,
) -> HealthStatement:
    """The statement RiskVault checks for `action` on `book.account` sent by `submitter`
    (pure; no chain access).

    WITHDRAW proves HF ≥ min_health_bps with margin = escrow − amount (rounded down);
    UPDATE_COMMITMENT (updateBook, also the first commit) and ATTEST (proveHealth) the same with
    margin = escrow; LIQUIDATE proves HF < hf_below_bps (1.0 or 0.95) at `proven_margin`
    (default: `keeper_margin(escrow)`). `min_health_bps` is the policy's minimum for the
    snapshot (its degraded minimum at a degraded snapshot). `prices` are the snapshot's 8-decimal
    prices in slot order (at least len(assets) of them).
    """
    if action is Action.WITHDRAW:
        if not 0 < amount <= escrow:
            raise ValueError(f"withdrawal of {amount} with {escrow} escrowed")
        margin = margin_quantity(escrow - amount, token_decimals, round_up=False)
        mode, threshold = HealthMode.AT_LEAST, min_health_bps
    elif action in (Action.UPDATE_COMMITMENT, Action.ATTEST):
        margin = margin_quantity(escrow, token_decimals, round_up=False)
        mode, threshold = HealthMode.AT_LEAST, min_health_bps
    elif action is Action.LIQUIDATE:
        if hf_below_bps not in (LIQUIDATION_THRESHOLD_BPS, FULL_LIQUIDATION_THRESHOLD_BPS):
            raise ValueError(f"keepers prove HF < 1.0 or HF < 0.95, not < {hf_below_bps} bps")
        floor = margin_quantity(escrow, token_decimals, round_up=True)
        margin = keeper_margin(escrow, token_decimals) if proven_margin is None else proven_margin
        if margin < floor:
            raise ValueError(f"proven margin {margin} is below the escrow's {floor} (QTY)")
        mode, threshold = HealthMode.BELOW, hf_below_bps
    else:
        raise ValueError(f"the vault gates no {action.name} action")
    if action is not Action.WITHDRAW and amount != 0:
        raise ValueError(f"{action.name} binds amount 0, not {amount}")
    if len(prices) < len(assets):
        raise ValueError(f"{len(prices)} prices for {len(assets)} assets")
    snapshot = PriceSnapshot(
        prices={
            a.symbol: PricePoint(
                price=from_fixed(p, PRICE_DECIMALS), timestamp=0, round_id=snapshot_id
            )
            for a, p in zip(assets, prices, strict=False)
        },
        snapshot_id=snapshot_id,
        taken_at=0,
    )
    binding = action_binding(
        chain_id=chain_id, vault=vault, account=book.account, action=action,
        amount=amount, nonce=nonce, snapshot_id=snapshot_id, submitter=submitter,
    )  # fmt: skip
    statement = health_statement(
        book, snapshot, assets, slots=slots, salt=salt, threshold_bps=threshold,
        mode=mode, binding=binding,
    )  # fmt: skip
    # The vault's margin is on-chain escrow, never the portfolio's own figure.
    return replace(statement, margin=margin)


def health_factor(statement: HealthStatement) -> Decimal | None:
    """HF of a statement's book (None without debt)."""
    debt = statement.debt_value()
    if debt == 0:
        return None
    return Decimal(statement.weighted_collateral()) / Decimal(debt * BPS_SCALE)


def prepare_vault_action(
    vault: VaultClient,
    *,
    book: Portfolio,
    assets: Sequence[Asset],
    salt: int,
    action: Action,
    amount: int = 0,
    snapshot_id: int | None = None,
    commitment: int | None = None,
    submitter: str | None = None,
) -> VaultAction:
    """Read the chain and build the statement for `action` on `book.account` (the desk's own
    account, or the account a keeper liquidates), sent by `submitter` (default: the client's
    signer). `snapshot_id` defaults to the latest. UPDATE_COMMITMENT proves the book of the
    attestation about to be committed (`commitment`); every other action must open the vault's
    current attested commitment (else BookOutOfDate). A liquidation proves HF < 0.95 when it
    holds (the whole escrow may go), else HF < 1. Raises StatementDoesNotHold when the engine
    says the book fails it, and ProofMismatch if the vault would derive different public inputs.
    """
    account = to_checksum_address(book.account)  # Portfolio stores it lower case
    sender = to_checksum_address(submitter or vault.account)
    snap = vault.snapshot(snapshot_id)
    for i, asset in enumerate(assets):
        listed = snap.liquidation_thresholds[i] if i < len(snap.liquidation_thresholds) else None
        if listed != asset.liquidation_threshold_bps:
            raise ValueError(
                f"slot {i} ({asset.symbol}): liquidation threshold {asset.liquidation_threshold_bps} "
                f"bps off-chain but {listed} in snapshot {snap.snapshot_id}; list assets in the "
                "price book's slot order with its thresholds"
            )
    state = vault.account_state(account)
    policy = vault.policy()
    min_health = policy.degraded_min_health_bps if snap.degraded else policy.min_health_bps

    def build(hf_below_bps: int = LIQUIDATION_THRESHOLD_BPS) -> HealthStatement:
        return vault_health_statement(
            book=book, assets=assets, slots=vault.slots(), salt=salt, action=action,
            amount=amount, nonce=state.nonce, snapshot_id=snap.snapshot_id, prices=snap.prices,
            escrow=state.escrow, token_decimals=vault.token_decimals(), min_health_bps=min_health,
            chain_id=vault.chain.chain_id, vault=vault.address, submitter=sender,
            hf_below_bps=hf_below_bps,
        )  # fmt: skip

    statement = build()
    if action is Action.LIQUIDATE:
        deep = build(FULL_LIQUIDATION_THRESHOLD_BPS)
        statement = deep if deep.holds() else statement
    if statement.snapshot_hash() != snap.hash:
        raise RuntimeError(
            f"snapshot {snap.snapshot_id}: engine hash {statement.snapshot_hash():#x} differs from "
            f"the price book's {snap.hash:#x} — engine and contract disagree on the encoding"
        )
    opens = statement.commitment()
    wanted = commitment if action is Action.UPDATE_COMMITMENT else state.commitment
    if action is not Action.UPDATE_COMMITMENT and state.commitment == 0:
        raise ValueError(
            f"{account} has no attested book in the vault yet: commit one first "
            "(`zkrisk chain update-book` with the attester's signed attestation)"
        )
    if wanted is not None and opens != wanted:
        raise BookOutOfDate(
            f"the book opens commitment {opens:#x} but the vault {'is about to get' if commitment else 'holds'} "
            f"{wanted:#x} for {account}: use the book (and salt) the attester signed last"
        )
    if not statement.holds():
        hf = health_factor(statement)
        shown = "∞" if hf is None else f"{hf:.4f}"
        want = "≥" if statement.mode is HealthMode.AT_LEAST else "<"
        raise StatementDoesNotHold(
            f"{action.name} for {account}: HF = {shown} at snapshot {snap.snapshot_id}, "
            f"not {want} {statement.threshold_bps / BPS_SCALE}; no proof exists"
        )
    expected = vault.public_signals(
        account, action, amount, snap.snapshot_id, opens if action is Action.UPDATE_COMMITMENT else 0,
        submitter=sender, proven_margin=statement.margin if action is Action.LIQUIDATE else 0,
        hf_below_bps=statement.threshold_bps if action is Action.LIQUIDATE else 0,
    )  # fmt: skip
    check_public_signals(statement.public_signals(), expected)
    return VaultAction(action, account, amount, snap.snapshot_id, state.nonce, statement, sender)
