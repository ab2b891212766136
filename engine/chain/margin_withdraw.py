"""Margin-gated vault actions from files: publish risk arrays, prove a margin withdrawal.

The book's slots are the vault's asset slots (the Health layout its commitment was made on),
so the same attested commitment opens both statements; the risk-array file must give an array
for every slot's asset. The circuit is the registry's PortfolioMargin(slots, scenarios).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from web3.types import TxReceipt

from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.backends import ProvingBackend
from zkrisk.prover.proof import Proof

from ..risk.fixed_point import to_price
from ..risk.margin.arrays import RiskArraySet
from ..risk.models import Portfolio
from ..statements.portfolio_margin import PortfolioMarginStatement, portfolio_margin_statement
from .margin_verifier import arrays_key, fold_arguments
from .vault import BookOutOfDate, ProofMismatch, VaultClient
from .vault_statement import StatementDoesNotHold


class MarginStatementDoesNotHold(StatementDoesNotHold):
    """The book's SPAN requirement exceeds the margin the vault would hold after the action."""


def margin_circuit_name(slots: int, scenarios: int) -> str:
    return f"margin{slots}x{scenarios}"


def slot_statement(
    portfolio: Portfolio,
    arrays: RiskArraySet,
    symbols: Sequence[str],
    *,
    salt: int,
    margin_held: int = 0,
    binding: int = 0,
) -> PortfolioMarginStatement:
    """The statement on the vault's slots (`symbols`; an empty slot is flat with a zero array)."""
    named = [s for s in symbols if s]
    built = portfolio_margin_statement(portfolio, arrays, named, slots=len(symbols), salt=salt,
                                       binding=binding)  # fmt: skip
    return replace(built, margin_held=margin_held)


def collateral_value(arrays: RiskArraySet, margin_symbol: str) -> int:
    """The file's [collateral] USD value of the vault's margin token, PRICE fixed point."""
    if margin_symbol not in arrays.collateral:
        raise ValueError(f"the risk-array file has no [collateral] value for {margin_symbol}, the "
                         "vault's margin token: add it with its USD value per unit")  # fmt: skip
    return to_price(arrays.collateral[margin_symbol])


def publish_risk_arrays(
    publisher: VaultClient,
    artifacts: CircuitArtifacts,
    statement: PortfolioMarginStatement,
    value: int,
) -> tuple[int, TxReceipt, TxReceipt]:
    """Fold the arrays into the vault's margin verifier, then put them in force (the publisher
    holds RISK_ARRAYS_ROLE). Returns (key, fold receipt, publish receipt)."""
    verifier = publisher.chain.call(publisher.vault.functions.marginVerifier())
    if int(verifier, 16) == 0:
        raise ValueError("the vault's margin gate is off (setMarginGate): there is no verifier "
                         "to fold the arrays into")  # fmt: skip
    key = arrays_key(statement)
    folded = publisher.fold_risk_arrays(verifier, *fold_arguments(artifacts, statement))
    return key, folded, publisher.publish_risk_arrays(key, value)


def prove_margin_withdrawal(
    vault: VaultClient,
    portfolio: Portfolio,
    arrays: RiskArraySet,
    symbols: Sequence[str],
    *,
    salt: int,
    amount: int,
    artifacts: CircuitArtifacts,
    backend: ProvingBackend,
) -> tuple[PortfolioMarginStatement, Proof]:
    """Prove requirement ≤ the escrow left after withdrawing `amount`, with every public input
    read from the vault (marginPublicSignals); refuses a book or arrays the vault does not hold."""
    commitment, key, held, binding = vault.margin_public_signals(vault.account, amount)
    statement = slot_statement(portfolio, arrays, symbols, salt=salt, margin_held=held,
                               binding=binding)  # fmt: skip
    if statement.book.commitment() != commitment:
        raise BookOutOfDate("the book does not open the vault's attested commitment: use the book "
                         "(and salt) the attester signed last")  # fmt: skip
    if arrays_key(statement) != key:
        raise ProofMismatch("the risk-array file is not the set in force in the vault (another "
                         "key): use the file the clearing side published last")  # fmt: skip
    if not statement.holds():
        raise MarginStatementDoesNotHold(
            f"requirement {statement.requirement()} exceeds the margin held after the "
            f"withdrawal, {held} (USD at VALUE scale): withdraw less"
        )
    return statement, backend.prove(artifacts, statement.signals())
