"""Prove a vault action from chain state: the statement RiskVault will check, then a proof."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.backends import ProvingBackend
from zkrisk.prover.proof import Proof

from ..chain.vault import VaultClient
from ..chain.vault_statement import VaultAction, health_factor, prepare_vault_action
from ..risk.models import Asset
from ..statements.binding import Action
from .books import BookFile


@dataclass(frozen=True)
class ProvenAction:
    """A vault action with its proof and how long proving took."""

    action: VaultAction
    proof: Proof
    prove_seconds: float

    @property
    def health_factor(self) -> str:
        hf = health_factor(self.action.statement)
        return "inf" if hf is None else f"{hf:.4f}"


def prove_action(
    vault: VaultClient,
    book: BookFile,
    assets: Sequence[Asset],
    action: Action,
    artifacts: CircuitArtifacts,
    backend: ProvingBackend,
    *,
    amount: int = 0,
    snapshot_id: int | None = None,
    commitment: int | None = None,
) -> ProvenAction:
    """Read the chain, build the statement (StatementDoesNotHold if the book fails it), prove.

    The proof is bound to `vault`'s signer as the submitter; UPDATE_COMMITMENT proves the book
    of the attestation about to be committed (`commitment`)."""
    prepared = prepare_vault_action(
        vault, book=book.portfolio, assets=assets, salt=book.salt, action=action, amount=amount,
        snapshot_id=snapshot_id, commitment=commitment,
    )  # fmt: skip
    started = time.perf_counter()
    proof = backend.prove(artifacts, prepared.statement.signals())
    seconds = time.perf_counter() - started
    if proof.public_signals != prepared.statement.public_signals():
        raise RuntimeError("the prover returned public signals that differ from the statement")
    return ProvenAction(prepared, proof, seconds)
