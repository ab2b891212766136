"""`zkrisk prove` inputs: the public parameters of each statement (a params file) and the
statement built from a book, prices, assets and (for attestations) scenarios.

A params file (TOML, YAML or JSON) carries one table per statement; only the proven one is
needed:

    [health]                      # HF ≥ threshold (AT_LEAST) or HF < threshold (BELOW)
    threshold_bps = 10_500
    mode = "AT_LEAST"
    binding = 0                   # or a table: chain_id, vault, action, amount, nonce

    [limits]                      # also used by [attest]
    notional_caps_usd = { WETH = 2_000_000, WBTC = 2_000_000 }
    concentration_bps = 6_000
    leverage_bps = 40_000

    [attest]
    alpha_bps = 9_500
    var_limit_usd = 150_000
    es_limit_usd = 200_000

Slot i of the circuit is asset i of the assets file (slot 0 = the margin asset).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from zkrisk.prover.registry import CircuitSpec

from .files import load_model
from .proof_kinds import StatementKind as StatementKind
from .risk.models import Asset, Portfolio, PriceSnapshot, ScenarioSet, usd_to_loss
from .statements.attestation import AttestationStatement, attestation_statement
from .statements.binding import Action, action_binding
from .statements.health import HealthMode, HealthStatement, health_statement
from .statements.limits import LimitParams, LimitsStatement, limit_params, limits_statement

Statement = HealthStatement | LimitsStatement | AttestationStatement


#: The registry template each statement is proven with, and the default circuit.
TEMPLATES = {StatementKind.HEALTH: "Health", StatementKind.LIMITS: "Limits",
             StatementKind.ATTEST: "RiskAttestation"}  # fmt: skip
DEFAULT_CIRCUITS = {StatementKind.HEALTH: "health4", StatementKind.LIMITS: "limits4",
                    StatementKind.ATTEST: "attest4x20"}  # fmt: skip


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class BindingParams(_Frozen):
    """The action a health proof is bound to (as RiskVault derives it)."""

    chain_id: int = Field(gt=0)
    """EIP-155 chain id."""
    vault: str
    """The vault's address."""
    action: Literal["ATTEST", "WITHDRAW", "UPDATE_COMMITMENT", "LIQUIDATE"] = "ATTEST"
    """The action code."""
    amount: int = Field(default=0, ge=0)
    """Token units of the action (withdrawals), else 0."""
    nonce: int = Field(default=0, ge=0)
    """The account's vault nonce."""
    submitter: str | None = None
    """msg.sender of the transaction that uses the proof (a keeper for LIQUIDATE); default: the
    account itself."""


class HealthParams(_Frozen):
    """Public parameters of the Health statement."""

    threshold_bps: int = Field(default=10_000, ge=0, lt=1 << 16)
    """The HF threshold in bps (10_000 = 1.0)."""
    mode: Literal["AT_LEAST", "BELOW"] = "AT_LEAST"
    """AT_LEAST proves HF ≥ threshold (withdrawals), BELOW proves HF < threshold (liquidation)."""
    binding: int | BindingParams = 0
    """A field element, or the action to bind to (the snapshot id comes from the prices)."""


class LimitsParams(_Frozen):
    """Public limits (the Limits statement and the limits part of an attestation)."""

    notional_caps_usd: dict[str, Decimal] = Field(default_factory=dict)
    """Per-asset cap on |quantity|·price, USD; an asset without one is capped at 0."""
    concentration_bps: int = Field(ge=0)
    """Largest share of gross exposure one asset may hold."""
    leverage_bps: int = Field(ge=0)
    """gross ≤ leverage · equity."""


class AttestParams(_Frozen):
    """VaR / ES limits of a risk attestation over the scenario set."""

    alpha_bps: int = Field(gt=0, lt=10_000)
    """Confidence level α in bps."""
    var_limit_usd: Decimal = Field(ge=0)
    """Historical VaR_α must not exceed this, USD."""
    es_limit_usd: Decimal = Field(ge=0)
    """Historical ES_α must not exceed this, USD."""


class ProveParams(_Frozen):
    """A params file: one table per statement."""

    health: HealthParams | None = None
    """Parameters of `zkrisk prove health`."""
    limits: LimitsParams | None = None
    """Parameters of `zkrisk prove limits` (and of `attest`)."""
    attest: AttestParams | None = None
    """VaR / ES limits of `zkrisk prove attest`."""


def load_params(path: str) -> ProveParams:
    return load_model(path, ProveParams)


@dataclass(frozen=True)
class ProveInputs:
    """Everything a statement is built from."""

    book: Portfolio
    snapshot: PriceSnapshot
    assets: tuple[Asset, ...]
    params: ProveParams
    scenarios: ScenarioSet | None
    salt: int


def check_circuit(kind: StatementKind, spec: CircuitSpec) -> None:
    if spec.template != TEMPLATES[kind]:
        raise ValueError(
            f"circuit {spec.name} is a {spec.template}; `prove {kind.value}` needs a "
            f"{TEMPLATES[kind]} circuit (e.g. {DEFAULT_CIRCUITS[kind]})"
        )


def _binding(value: int | BindingParams, account: str, snapshot_id: int) -> int:
    if isinstance(value, int):
        return value
    return action_binding(
        chain_id=value.chain_id, vault=value.vault, account=account,
        action=Action[value.action], amount=value.amount, nonce=value.nonce,
        snapshot_id=snapshot_id, submitter=value.submitter or account,
    )  # fmt: skip


def _limits(symbols: Sequence[str], slots: int, params: ProveParams, kind: str) -> LimitParams:
    if params.limits is None:
        raise ValueError(f"the params file has no [limits] table (needed by `prove {kind}`)")
    return limit_params(
        symbols, slots=slots, notional_caps_usd=params.limits.notional_caps_usd,
        concentration_bps=params.limits.concentration_bps,
        leverage_bps=params.limits.leverage_bps,
    )  # fmt: skip


def build_statement(kind: StatementKind, spec: CircuitSpec, inputs: ProveInputs) -> Statement:
    """The statement for circuit `spec`; ValueError naming what is missing or does not fit."""
    check_circuit(kind, spec)
    slots = spec.params[0]
    symbols = [a.symbol for a in inputs.assets]
    if len(symbols) > slots:
        raise ValueError(f"{len(symbols)} assets do not fit the {slots}-slot circuit {spec.name}")
    book, snapshot, params = inputs.book, inputs.snapshot, inputs.params
    if kind is StatementKind.HEALTH:
        health = params.health or HealthParams()
        return health_statement(
            book, snapshot, inputs.assets, slots=slots, salt=inputs.salt,
            threshold_bps=health.threshold_bps, mode=HealthMode[health.mode],
            binding=_binding(health.binding, book.account, snapshot.snapshot_id),
        )  # fmt: skip
    limits = _limits(symbols, slots, params, kind.value)
    if kind is StatementKind.LIMITS:
        return limits_statement(book, snapshot, symbols, slots=slots, salt=inputs.salt,
                                params=limits)  # fmt: skip
    if params.attest is None:
        raise ValueError("the params file has no [attest] table (needed by `prove attest`)")
    if inputs.scenarios is None:
        raise ValueError("`prove attest` needs --scenarios")
    k = spec.params[1]
    if len(inputs.scenarios.returns) != k:
        raise ValueError(
            f"{spec.name} proves over exactly {k} scenarios; the scenario set has "
            f"{len(inputs.scenarios.returns)}"
        )
    return attestation_statement(
        book, snapshot, inputs.scenarios, symbols, slots=slots, salt=inputs.salt, params=limits,
        alpha_bps=params.attest.alpha_bps,
        var_limit=usd_to_loss(params.attest.var_limit_usd, name="var_limit_usd"),
        es_limit=usd_to_loss(params.attest.es_limit_usd, name="es_limit_usd"),
    )  # fmt: skip


def breaches(statement: Statement) -> list[str]:
    """Why the engine says the statement does not hold (empty when it holds)."""
    if isinstance(statement, HealthStatement):
        if statement.holds():
            return []
        debt = statement.debt_value()
        hf = (
            "∞"
            if debt == 0
            else f"{Decimal(statement.weighted_collateral()) / (debt * 10_000):.4f}"
        )
        want = "≥" if statement.mode is HealthMode.AT_LEAST else "<"
        return [f"HF = {hf}, not {want} {Decimal(statement.threshold_bps) / 10_000}"]
    return statement.breaches()
