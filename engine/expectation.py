"""The verifier's own statement: what a counterparty expects a proof to prove.

An expectation file (TOML, YAML or JSON; paths relative to it) names the verifier's *own*
policy limits, prices, scenario set, α, L, E, the escrowed margin and the commitment it knows
(from the vault, or given by the book attester):

    statement = "attest"                 # health, limits or attest
    circuit = "attest4x20"               # default: the statement's default circuit
    commitment = "0x2f…"                 # the book the lender has been shown, by commitment
    margin = 250_000                     # escrowed margin, in units of the slot-0 asset
    assets = "assets.toml"               # slot order (slot 0 = margin asset)
    prices = "prices.toml"
    scenarios = "scenarios20.csv"        # attest only
    # verification_key = "vk.json"       # default: this machine's build of the circuit
    [limits] …  [attest] …  [health] …   # as in a `zkrisk prove --params` file

`expected_signals` builds the statement exactly as `zkrisk prove` does (`build_statement`), on
an empty book carrying that margin, and puts the known commitment in: every public signal is
computed by the same code as the prover's, and the book is never needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from zkrisk.prover.registry import CircuitSpec, get_circuit, load_registry

from .files import load_assets, load_model, load_prices, load_scenarios
from .paths import registry_path
from .prove_params import (
    DEFAULT_CIRCUITS,
    AttestParams,
    BindingParams,
    HealthParams,
    LimitsParams,
    ProveInputs,
    ProveParams,
    StatementKind,
    build_statement,
)
from .risk.models import ExactDecimal, Portfolio
from .signal_fields import Signal, named_signals

#: A placeholder owner for the empty book of limits / attest statements (no signal uses it).
_NOBODY = "0x" + "00" * 20


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


def parse_commitment(value: object) -> int:
    """A commitment written as 0x-hex or decimal (a string or an integer)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("a commitment is a 0x-hex or decimal string")
    try:
        number = value if isinstance(value, int) else int(value.strip(), 0)
    except ValueError:
        raise ValueError(f"commitment {value!r} is not 0x-hex or decimal") from None
    if number < 0:
        raise ValueError("a commitment is not negative")
    return number


class Expectation(_Frozen):
    """The statement a verifier relies on; relative paths are relative to the expectation file."""

    statement: StatementKind
    """What the proof must prove: health, limits or attest."""
    circuit: str | None = None
    """Registry circuit (default: health4, limits4 or attest4x20)."""
    commitment: int
    """The commitment of the book the verifier relies on (0x-hex), from the vault or attester."""
    margin: ExactDecimal = Field(default=Decimal(0), ge=0)
    """Margin escrowed in the vault, in units of the slot-0 asset (public on-chain)."""
    account: str | None = None
    """The desk's address: needed only for a health binding given as an action table."""
    assets: Path
    """The verifier's assets file, in slot order (slot 0 = margin asset)."""
    prices: Path
    """The prices (oracle snapshot) the verifier expects the statement at."""
    scenarios: Path | None = None
    """The verifier's scenario set (attest)."""
    verification_key: Path | None = None
    """snarkjs verification_key.json the verifier trusts (default: its own build of `circuit`)."""
    health: HealthParams | None = None
    """Expected health threshold, mode and binding (health)."""
    limits: LimitsParams | None = None
    """Expected notional caps, concentration and leverage limits (limits, attest)."""
    attest: AttestParams | None = None
    """Expected α, VaR limit and ES limit (attest)."""

    @field_validator("commitment", mode="before")
    @classmethod
    def _commitment(cls, value: object) -> int:
        return parse_commitment(value)

    @property
    def circuit_name(self) -> str:
        return self.circuit or DEFAULT_CIRCUITS[self.statement]

    def resolved(self, base: Path) -> Expectation:
        """A copy whose relative paths are anchored at `base`."""

        names = ("assets", "prices", "scenarios", "verification_key")
        paths: dict[str, Path] = {n: getattr(self, n) for n in names if getattr(self, n)}
        return self.model_copy(
            update={n: base / p for n, p in paths.items() if not p.is_absolute()}
        )


def load_expectation(path: str | Path) -> Expectation:
    """An expectation file, its paths resolved; InputError naming the file, field and line."""
    p = Path(path)
    return load_model(p, Expectation).resolved(p.parent)


@dataclass(frozen=True)
class ExpectedStatement:
    """The public signals a proof of the expected statement must carry, by name."""

    kind: StatementKind
    spec: CircuitSpec
    symbols: tuple[str, ...]
    signals: tuple[Signal, ...]
    scenarios_sha256: str | None


def _require_sections(expectation: Expectation) -> None:
    """Every number the statement needs is the verifier's own: no defaults, no prover values."""
    kind, missing = expectation.statement, []
    if kind is StatementKind.HEALTH and expectation.health is None:
        missing.append("a [health] table (threshold_bps, mode, binding)")
    if kind is not StatementKind.HEALTH and expectation.limits is None:
        missing.append("a [limits] table (notional_caps_usd, concentration_bps, leverage_bps)")
    if kind is StatementKind.ATTEST and expectation.attest is None:
        missing.append("an [attest] table (alpha_bps, var_limit_usd, es_limit_usd)")
    if kind is StatementKind.ATTEST and expectation.scenarios is None:
        missing.append("`scenarios` (your scenario set)")
    health = expectation.health
    if health and isinstance(health.binding, BindingParams) and expectation.account is None:
        missing.append("`account` (health.binding is an action table, derived per account)")
    if missing:
        raise ValueError(f"statement = {kind.value!r} needs {' and '.join(missing)}")


def expected_statement(expectation: Expectation) -> ExpectedStatement:
    """Recompute the public signals from the verifier's own files (ValueError/InputError)."""
    kind = expectation.statement
    _require_sections(expectation)
    spec = get_circuit(load_registry(registry_path()), expectation.circuit_name)
    assets = load_assets(expectation.assets)
    health = expectation.health
    book = Portfolio(
        account=expectation.account or _NOBODY,
        margin=expectation.margin,
        margin_symbol=assets[0].symbol if assets else None,
    )
    scenarios = None if expectation.scenarios is None else load_scenarios(expectation.scenarios)
    inputs = ProveInputs(
        book=book,
        snapshot=load_prices(expectation.prices),
        assets=assets,
        params=ProveParams(health=health, limits=expectation.limits, attest=expectation.attest),
        scenarios=scenarios,
        salt=0,
    )
    statement = build_statement(kind, spec, inputs)
    return ExpectedStatement(
        kind=kind,
        spec=spec,
        symbols=tuple(a.symbol for a in assets),
        signals=named_signals(statement, commitment=expectation.commitment),
        scenarios_sha256=None if scenarios is None else scenarios.content_hash,
    )
