"""`signer.toml`: what the signer will sign, for whom, and where it learns that trading halted.

Relative paths are relative to the file. The bearer token is not in the file: `token_env` names
the environment variable holding it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..api.config import SigningConfig, checked_address, lowered_addresses
from ..chain.uniswap_deploy import UniswapAddresses, load_addresses
from ..files import InputError, read_document, validate
from ..risk.policy import PolicyIssue
from .call_rules import CallRule
from .relay import RelayMethod


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{value!r}: give an http:// or https:// URL")
    return value


class RelayPolicy(BaseModel):
    """`[relay]`: the private-submission service `broadcast` sends through first."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    url: str
    """The relay's JSON-RPC endpoint (e.g. https://rpc.flashbots.net)."""
    method: RelayMethod = "eth_sendPrivateTransaction"
    """`eth_sendPrivateTransaction` (private until mined or `max_blocks_ahead` passed) or
    `eth_sendBundle` (a one-transaction bundle for the next block; needs `public_rpc_url`)."""
    fallback: Literal["public", "none"] = "none"
    """When the relay refuses or cannot be reached: `public` sends to `public_rpc_url` (the
    public mempool sees it), `none` replies with the relay's error (nothing public)."""
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    """How long a relay call may take (the signer serves one request at a time)."""
    max_blocks_ahead: int = Field(default=25, ge=1)
    """eth_sendPrivateTransaction's maxBlockNumber: this many blocks after the latest (sent only
    when `public_rpc_url` tells the latest block)."""

    _url = field_validator("url")(_http_url)


class SignerPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    approver: str
    """The risk service's approval address: approvals recovering to any other are refused."""
    approval_domain: SigningConfig
    """`[approval_domain]`: the EIP-712 domain the risk service signs under (its `[signing]`)."""
    wallets: tuple[str, ...] = Field(min_length=1)
    """Trader wallets allowed to trade (each needs its keystore); others are refused."""
    venue: str = "uniswap"
    """The approval's `counterparty` must be this venue."""
    uniswap_addresses: Path
    """The venue's deployment (router, tokens, pairs; the JSON `--addresses` file)."""
    nonce_db: Path = Path("zkrisk-signer.sqlite")
    """SQLite file of every approval nonce used (survives restarts: a nonce signs once)."""
    max_gas: int = Field(default=500_000, ge=21_000)
    """Largest gas limit signed."""
    max_fee_per_gas_wei: int = Field(default=500 * 10**9, ge=1)
    """Largest maxFeePerGas signed."""
    max_deadline_seconds: int = Field(default=600, ge=1)
    """A swap's router deadline may lie at most this far after now."""
    rate_limit_count: int = Field(default=60, ge=1)
    """Signatures per wallet per `rate_limit_seconds`; more are refused."""
    rate_limit_seconds: float = Field(default=60.0, gt=0)
    halt_file: Path | None = None
    """While this file exists, trading is HALTED: everything is refused."""
    risk_service_url: str | None = None
    """The risk service (http://host:port): its /healthz is asked before every signature; HALTED,
    the kill switch engaged or no answer (fail closed) refuse."""
    token_env: str = "ZKRISK_SIGNER_TOKEN"
    """Environment variable holding the API's bearer token (≥ 16 characters)."""
    host: str = "127.0.0.1"
    port: int = Field(default=8790, ge=0, le=65_535)
    """TCP port on `host` (0 picks a free one; the listening line says which)."""
    relay: RelayPolicy | None = None
    """`[relay]`: where `broadcast` sends first; without it, `public_rpc_url` only."""
    public_rpc_url: str | None = None
    """The public node (JSON-RPC): `broadcast`'s route without a relay or with fallback
    `public`, the latest block for the relay call, and after a restart the check whether a
    signed-not-recorded transaction was already sent. None and no relay: broadcast is refused."""
    calls: tuple[CallRule, ...] = ()
    """`[[calls]]`: transactions that are not trades (a keeper's, a desk's) a wallet may have
    signed without an approval (engine/signer/call_rules.py); the cancel self-transfer needs none."""
    deployment: Path | None = None
    """The vault stack's deployment record (build/deployments/<chainId>.json, or a stack
    addresses file) that contract names in `[[calls]]` resolve against."""

    @field_validator("approver")
    @classmethod
    def _address(cls, value: str) -> str:
        return checked_address(value)

    @field_validator("wallets")
    @classmethod
    def _wallets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return lowered_addresses(value)

    @field_validator("host")
    @classmethod
    def _loopback(cls, value: str) -> str:
        if value not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError(f"{value!r}: the signer listens on loopback only (127.0.0.1)")
        return value

    @model_validator(mode="after")
    def _halt_source(self) -> SignerPolicy:
        if self.halt_file is None and self.risk_service_url is None:
            raise ValueError("name where HALTED is read: halt_file, risk_service_url or both")
        return self

    @field_validator("public_rpc_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)

    @model_validator(mode="after")
    def _routes(self) -> SignerPolicy:
        needs = self.relay is not None and (self.relay.fallback == "public"
                                            or self.relay.method == "eth_sendBundle")  # fmt: skip
        if needs and self.public_rpc_url is None:
            raise ValueError("relay: fallback = \"public\" and method = \"eth_sendBundle\" need "
                             "public_rpc_url (the public node's JSON-RPC URL)")  # fmt: skip
        return self

    def resolved(self, base: Path) -> SignerPolicy:
        def fix(p: Path) -> Path:
            return p if p.is_absolute() else (base / p).resolve()

        return self.model_copy(update={
            "uniswap_addresses": fix(self.uniswap_addresses), "nonce_db": fix(self.nonce_db),
            "halt_file": None if self.halt_file is None else fix(self.halt_file),
            "deployment": None if self.deployment is None else fix(self.deployment),
            "calls": tuple(rule.resolved(base) for rule in self.calls)})  # fmt: skip


def load_signer_policy(path: Path) -> tuple[SignerPolicy, UniswapAddresses]:
    data, lines = read_document(path)
    policy = validate(data, lines, SignerPolicy, str(path)).resolved(path.resolve().parent)
    try:
        addresses = load_addresses(policy.uniswap_addresses)
    except (FileNotFoundError, ValueError) as exc:
        raise InputError(str(path), [PolicyIssue("uniswap_addresses", lines.get(("uniswap_addresses",)), str(exc))]) from None  # fmt: skip
    if addresses.chain_id != policy.approval_domain.chain_id:
        raise InputError(str(path), [PolicyIssue("approval_domain.chain_id", None,
            f"{policy.approval_domain.chain_id} but the venue is on chain {addresses.chain_id}")])  # fmt: skip
    return policy, addresses
