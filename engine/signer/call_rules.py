"""`[[calls]]` in signer.toml: the transactions that are not trades a wallet may have signed.

A keeper's liquidations and snapshots, a desk's deposit / updateBook / proveHealth / withdraw,
an ERC-20 approve to the vault: no risk-service approval covers them, so each must match a rule
naming the wallet, the contract, the functions and, where an argument decides who gains, what
that argument must be. `engine/signer/calls.py` compiles the rules against their ABIs and
checks a transaction against them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..api.config import lowered_addresses

WALLET: str = "wallet"
"""An `args` value meaning "the signing wallet itself"."""


class CallRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    wallets: tuple[str, ...] = Field(min_length=1)
    """Wallets this rule lets sign (each needs its keystore)."""
    contract: str = Field(min_length=1)
    """The target: a 0x address, or a name: in `deployment` a contract ("RiskVault",
    "PriceBook") or a listed asset's symbol (its ERC-20); in the venue's addresses "router" or a
    token's symbol."""
    functions: tuple[str, ...] = Field(min_length=1)
    """Function names allowed (every overload of each); the calldata must decode exactly."""
    abi: Path | None = None
    """JSON ABI of the contract (a list, or an artefact with an "abi" key). Default: the
    shipped ABI of the named contract (RiskVault, PriceBook, the router; ERC20 for a token)."""
    args: dict[str, str] = {}
    """Argument name → what it must be: "wallet", a name as in `contract`, or a 0x address.
    An `approve` must pin its `spender`; inputs named to / recipient / receiver default to
    "wallet"."""
    max_value_wei: int = Field(default=0, ge=0)
    """Largest ETH value the transaction may carry."""

    @field_validator("wallets")
    @classmethod
    def _wallets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return lowered_addresses(value)

    def resolved(self, base: Path) -> CallRule:
        if self.abi is None or self.abi.is_absolute():
            return self
        return self.model_copy(update={"abi": (base / self.abi).resolve()})
