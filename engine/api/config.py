"""The risk service's configuration: one frozen model read from a TOML / YAML / JSON file.

Secrets never live in the file: it names the environment variables that hold the approval
signing key and the kill-switch token, and the service refuses to start without them. Order
checks need an API key; the file holds only each key's sha256 (`zkrisk serve --hash-key`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..files import InputError, read_document, validate
from ..risk.models import TradingState
from ..risk.policy import PolicyIssue

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def checked_address(value: str) -> str:
    """`value` if it is a 0x-prefixed 20-byte hex address, else ValueError saying so."""
    if not _ADDRESS.match(value):
        raise ValueError(f"{value!r} is not a 0x-prefixed 20-byte hex address")
    return value


def lowered_addresses(values: tuple[str, ...]) -> tuple[str, ...]:
    """Each of `values` checked (`checked_address`) and lower-cased, for comparing."""
    return tuple(checked_address(v).lower() for v in values)


_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
MIN_TOKEN_LENGTH = 16


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class SigningConfig(_Frozen):
    """The EIP-712 domain approvals are signed under (what a verifying contract checks)."""

    name: str = "zkrisk"
    """EIP-712 domain name."""
    version: str = "2"
    """EIP-712 domain version; bump it when the OrderApproval struct changes."""
    chain_id: int = Field(default=31337, ge=1)
    """Chain id of the contract or venue that checks approvals (31337 = Anvil)."""
    verifying_contract: str = "0x0000000000000000000000000000000000000000"
    """Address of the contract that checks approvals; approvals for another address fail."""
    approval_ttl_seconds: int = Field(default=60, ge=1, le=86_400)
    """An approval expires this long after the check (the `expiry` field)."""

    @field_validator("verifying_contract")
    @classmethod
    def _address(cls, value: str) -> str:
        return checked_address(value)


class ApiKeyConfig(_Frozen):
    """One client allowed to check orders: its name and the sha256 of its key."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    """Desk or client the key belongs to (recorded with each of its decisions)."""
    sha256: str
    """Lower-case hex sha256 of the key (`zkrisk serve --hash-key` prints it); never the key."""
    accounts: tuple[str, ...] = ()
    """Books (0x addresses) this key may check orders against; empty: every book served."""

    @field_validator("sha256")
    @classmethod
    def _digest(cls, value: str) -> str:
        if not _SHA256.match(value):
            raise ValueError(
                f"{value!r} is not a lower-case hex sha256; make one with "
                '`printf %s "$KEY" | zkrisk serve --hash-key`'
            )
        return value

    @field_validator("accounts")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return lowered_addresses(value)


class DashboardConfig(_Frozen):
    """What the dashboard at `/` watches: a paper-trading run (`zkrisk run`) and its limits."""

    run_config: Path
    """The run config (`zkrisk run --config ...`) whose journal, policy and breakers it shows."""
    journal: Path | None = None
    """The run's journal, when it is not the one the run config names."""
    vault_min_health_factor_bps: int | None = Field(default=None, ge=1)
    """The vault's minimum health factor, bps, shown (labelled as configured) beside the policy's
    when no vault is read on-chain, or while it has never answered (optional)."""
    rpc_url: str | None = None
    """JSON-RPC endpoint of the chain holding `vault` (both or neither)."""
    vault: str | None = None
    """A RiskVault whose policy's minHealthBps / degradedMinHealthBps are shown (read every 30 s)."""
    keeper_metrics_url: str | None = None
    """A keeper's Prometheus metrics (`zkrisk keeper --health-port P`: http://127.0.0.1:P/metrics),
    scraped for proof latency p50 / p95 and the prove queue."""
    refresh_ms: int = Field(default=250, ge=50, le=1_000)
    """How often, at most, a changed state is pushed to open dashboards."""

    @field_validator("vault")
    @classmethod
    def _vault(cls, value: str | None) -> str | None:
        if value is not None and not _ADDRESS.match(value):
            raise ValueError("must be a 0x-prefixed 20-byte hex address")
        return value

    @model_validator(mode="after")
    def _vault_and_rpc(self) -> DashboardConfig:
        if (self.rpc_url is None) != (self.vault is None):
            raise ValueError("rpc_url and vault go together: give both to read the vault's "
                             "minimum on-chain, or neither")  # fmt: skip
        return self

    def resolved(self, base: Path) -> DashboardConfig:
        def fix(p: Path) -> Path:
            return p if p.is_absolute() else (base / p).resolve()

        journal = None if self.journal is None else fix(self.journal)
        return self.model_copy(update={"run_config": fix(self.run_config), "journal": journal})


class AuditAnchorConfig(_Frozen):
    """`[audit_anchor]`: the AuditAnchor contract the audit log's checkpoints are sent to."""

    rpc_url: str
    """JSON-RPC endpoint of the chain holding the contract."""
    address: str
    """The AuditAnchor contract; the anchor key must hold its WRITER_ROLE."""
    key_env: str = "ZKRISK_ANCHOR_KEY"
    """Environment variable holding the anchor key (32-byte hex) that sends the checkpoints."""

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        if not _ADDRESS.match(value):
            raise ValueError("must be a 0x-prefixed 20-byte hex address")
        return value


class ServeConfig(_Frozen):
    """Everything `zkrisk serve` needs; relative paths are relative to the config file."""

    policy_file: Path
    """Risk policy (TOML or YAML) every check applies."""
    assets_file: Path
    """Assets and their lending parameters."""
    prices_file: Path
    """Reference prices (an oracle snapshot); re-read when the file changes."""
    portfolio_files: Annotated[tuple[Path, ...], Field(min_length=1)]
    """The desks' books, one file per account; re-read when a file changes."""
    scenarios_file: Path | None = None
    """Scenario set for the post-trade VaR / ES rules (without one, every order is refused)."""
    audit_db: Path = Path("zkrisk-audit.sqlite")
    """Append-only SQLite audit log of every decision and kill-switch change."""
    audit_checkpoint_every: int = Field(default=1000, ge=1)
    """Entries between two checkpoints (tree size, RFC 6962 root) of the audit log."""
    audit_checkpoint_seconds: float = Field(default=60.0, gt=0)
    """Seconds between two checkpoints while entries arrive (and one at shutdown)."""
    audit_anchor: AuditAnchorConfig | None = None
    """`[audit_anchor]`: also anchor every checkpoint on-chain (none: local checkpoints only)."""
    state_db: Path = Path("zkrisk-state.sqlite")
    """SQLite file of what survives a restart: approvals by client order id and rate windows."""
    api_keys: Annotated[tuple[ApiKeyConfig, ...], Field(min_length=1)]
    """Clients allowed to check orders (`[[api_keys]]` tables); at least one."""
    max_body_bytes: int = Field(default=16_384, ge=1_024, le=1_048_576)
    """Largest request body accepted (413 beyond); a check request is a few hundred bytes."""
    max_json_depth: int = Field(default=8, ge=2, le=64)
    """Deepest JSON nesting accepted (422 beyond); a check request nests 2 levels."""
    host: str = "127.0.0.1"
    """Interface to listen on."""
    port: int = Field(default=8787, ge=0, le=65_535)
    """TCP port (0 picks a free one)."""
    trading_state: TradingState = TradingState.ACTIVE
    """Desk state at start: ACTIVE, REDUCING (only position-shrinking orders) or HALTED."""
    signing: SigningConfig = SigningConfig()
    """EIP-712 domain of the approvals."""
    trader_wallets: tuple[str, ...] = ()
    """Wallets an order check's `transaction` may come from (the approval then covers it); a
    transaction from any other is refused (WALLET_NOT_ALLOWED). Empty: no check may carry one."""
    signer_key_env: str = "ZKRISK_SIGNER_KEY"
    """Environment variable holding the approval signing key (32-byte hex)."""
    kill_switch_token_env: str = "ZKRISK_KILLSWITCH_TOKEN"
    """Environment variable holding the kill-switch bearer token (≥ 16 characters)."""
    reload_interval_seconds: float = Field(default=1.0, ge=0)
    """How often, at most, the price and portfolio files are checked for changes."""
    replay_now: int | None = Field(default=None, ge=0)
    """Freeze the clock at this unix time to replay a recorded snapshot (demos, tests only)."""
    access_log: bool = False
    """uvicorn's per-request access log (every decision is in the audit log anyway)."""
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    """Log level of the service and uvicorn."""
    dashboard: DashboardConfig | None = None
    """`[dashboard]`: the paper-trading run the dashboard at `/` shows (without it the page
    shows the service's own kill switch and audit log only)."""

    @field_validator("trader_wallets")
    @classmethod
    def _wallets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return lowered_addresses(value)

    @model_validator(mode="after")
    def _distinct_env(self) -> Self:
        if self.signer_key_env == self.kill_switch_token_env:
            raise ValueError("signer_key_env and kill_switch_token_env must differ")
        names = [k.name for k in self.api_keys]
        if len(set(names)) != len(names):
            raise ValueError(f"api_keys: names must be distinct, got {names}")
        if len({k.sha256 for k in self.api_keys}) != len(names):
            raise ValueError("api_keys: two clients share one key hash; give each its own key")
        return self

    def resolved(self, base: Path) -> ServeConfig:
        """A copy whose relative paths are anchored at `base`."""

        def fix(p: Path) -> Path:
            return p if p.is_absolute() else (base / p).resolve()

        return self.model_copy(
            update={
                "policy_file": fix(self.policy_file),
                "assets_file": fix(self.assets_file),
                "prices_file": fix(self.prices_file),
                "portfolio_files": tuple(fix(p) for p in self.portfolio_files),
                "scenarios_file": None if self.scenarios_file is None else fix(self.scenarios_file),
                "audit_db": fix(self.audit_db),
                "state_db": fix(self.state_db),
                "dashboard": None if self.dashboard is None else self.dashboard.resolved(base),
            }
        )


@dataclass(frozen=True, slots=True)
class Secrets:
    """The service's secrets, read from the environment at start."""

    signer_key: str
    kill_switch_token: str
    anchor_key: str | None = None
    """The audit anchor's writer key, when `[audit_anchor]` is configured."""

    def __repr__(self) -> str:  # never print a secret by accident
        return "Secrets(<redacted>)"


def load_serve_config(path: str | Path) -> ServeConfig:
    p = Path(path)
    data, lines = read_document(p)
    return validate(data, lines, ServeConfig, str(p)).resolved(p.resolve().parent)


def read_secrets(config: ServeConfig, env: dict[str, str] | None = None) -> Secrets:
    """The signing key and kill-switch token from the environment; InputError when unusable."""
    source = os.environ if env is None else env
    key = source.get(config.signer_key_env, "").strip()
    token = source.get(config.kill_switch_token_env, "")
    problems = []
    if not _KEY.match(key):
        problems.append(PolicyIssue(config.signer_key_env, None,
                                    "must hold the approval signing key as 32-byte hex"))  # fmt: skip
    if len(token) < MIN_TOKEN_LENGTH:
        problems.append(PolicyIssue(config.kill_switch_token_env, None,
                                    f"must hold the kill-switch token (≥ {MIN_TOKEN_LENGTH} characters)"))  # fmt: skip
    anchor_key = None
    if config.audit_anchor is not None:
        anchor_key = source.get(config.audit_anchor.key_env, "").strip()
        if not _KEY.match(anchor_key):
            problems.append(PolicyIssue(config.audit_anchor.key_env, None,
                                        "must hold the audit anchor key as 32-byte hex"))  # fmt: skip
        anchor_key = anchor_key if anchor_key.startswith("0x") else "0x" + anchor_key
    if problems:
        raise InputError("environment", problems)
    return Secrets(signer_key=key if key.startswith("0x") else "0x" + key, kill_switch_token=token,
                   anchor_key=anchor_key)  # fmt: skip
