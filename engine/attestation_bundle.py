"""The attestation bundle: the one file `zkrisk prove` hands a counterparty.

It carries the Groth16 proof and its public signals, the circuit and the sha256 of the
verification key it was made for, and the statement in domain terms (commitment, prices,
limits, α, L, E, the scenario set by hash) — the *prover's claim*, for people to read. A
verifier never trusts that claim: it recomputes the public signals from its own expectation
(`verify_attestation`) and checks the proof under its own key.

Format (JSON, versioned by `format`; numbers in domain units are decimal strings):

    {"format": "zkrisk/attestation-bundle/v1", "circuit": {"name", "template", "params"},
     "vkey_sha256": "…", "dev_ptau": true, "warning": "DEV ptau: …",
     "statement": {"kind", "commitment", "margin", "margin_symbol", "assets", "snapshot",
                   "health" | "limits" [+ "attest", "scenarios"]},
     "proof": {snarkjs proof.json}, "public_signals": ["…", …]}
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.proof import Proof
from zkrisk.prover.registry import CircuitSpec

from .files import load_model
from .prove_params import (
    AttestParams,
    HealthParams,
    LimitsParams,
    ProveInputs,
    Statement,
    StatementKind,
)
from .signal_fields import named_signals

FORMAT = "zkrisk/attestation-bundle/v1"

DEV_WARNING = (
    "DEV ptau: {name} was set up from a development powers-of-tau whose toxic waste is known — "
    "anyone can forge its proofs. Fine for tests and demos, NOT for real funds."
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class CircuitId(_Frozen):
    """Which registered circuit the proof is for."""

    name: str
    """Registry name, e.g. limits4."""
    template: str
    """Circom template, e.g. Limits."""
    params: tuple[int, ...]
    """Template parameters (slots, scenarios)."""

    @classmethod
    def of(cls, spec: CircuitSpec) -> CircuitId:
        return cls(name=spec.name, template=spec.template, params=spec.params)


class SnapshotClaim(_Frozen):
    """The oracle snapshot the statement is at."""

    snapshot_id: int = Field(ge=0)
    """The snapshot's id (hashed into health statements)."""
    taken_at: int = Field(ge=0)
    """When it was taken (unix seconds)."""
    prices_usd: dict[str, Decimal]
    """USD price of every slot asset."""


class ScenarioClaim(_Frozen):
    """The scenario set, named by the sha256 of its canonical encoding (ScenarioSet)."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """sha256 hex of `ScenarioSet.canonical_encoding()`."""
    count: int = Field(gt=0)
    """Number of scenarios K."""
    symbols: tuple[str, ...]
    """Column order of the set."""


class StatementClaim(_Frozen):
    """What the prover says it proved, in domain terms (informative; never trusted)."""

    kind: StatementKind
    """health, limits or attest."""
    commitment: str = Field(pattern=r"^0x[0-9a-f]+$")
    """The book's commitment (hex)."""
    margin: Decimal = Field(ge=0)
    """Escrowed margin, in units of `margin_symbol`."""
    margin_symbol: str
    """The margin asset (slot 0)."""
    assets: tuple[str, ...]
    """Slot order of the circuit's assets."""
    snapshot: SnapshotClaim
    """Prices the statement is at."""
    health: HealthParams | None = None
    """Health threshold, mode and binding (health)."""
    liquidation_thresholds_bps: dict[str, int] | None = None
    """Liquidation threshold per slot asset (health: hashed with the prices)."""
    limits: LimitsParams | None = None
    """Notional caps, concentration and leverage limits (limits, attest)."""
    attest: AttestParams | None = None
    """α, VaR limit L and ES limit E (attest)."""
    scenarios: ScenarioClaim | None = None
    """The scenario set (attest)."""


def _ints(values: tuple[str, ...] | list[str]) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in values)
    except ValueError:
        raise ValueError("public signals must be decimal integer strings") from None


class AttestationBundle(_Frozen):
    """A proof a counterparty can take away and check against its own statement."""

    format: Literal["zkrisk/attestation-bundle/v1"]
    """Bundle format and version."""
    circuit: CircuitId
    """The circuit the proof is for."""
    vkey_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """sha256 of the verification key's canonical JSON (sorted keys, no spaces)."""
    dev_ptau: bool
    """The key was set up from a development ptau (forgeable: tests and demos only)."""
    warning: str | None = None
    """Shown to whoever verifies (the dev-ptau warning)."""
    statement: StatementClaim
    """The prover's claim in domain terms."""
    proof: dict[str, Any]
    """snarkjs Groth16 proof (pi_a, pi_b, pi_c)."""
    public_signals: tuple[str, ...] = Field(min_length=1)
    """The proof's public signals, decimal strings in circuit order (snarkjs public.json)."""

    @model_validator(mode="before")
    @classmethod
    def _known_format(cls, data: Any) -> Any:
        # Another version's fields mean something else: say so instead of listing them all.
        if isinstance(data, dict) and "pi_a" in data and "format" not in data:
            raise ValueError(
                "a snarkjs proof.json, not an attestation bundle: verify the bundle.json "
                "`zkrisk prove` wrote beside it (or this file with --trust-public-signals)"
            )
        found = data.get("format") if isinstance(data, dict) else None
        if found is not None and found != FORMAT:
            raise ValueError(f"format {found!r} is not one this zkrisk reads ({FORMAT})")
        return data

    @field_validator("public_signals")
    @classmethod
    def _decimal_ints(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        _ints(value)
        return value

    @field_validator("proof")
    @classmethod
    def _snarkjs_proof(cls, value: dict[str, Any]) -> dict[str, Any]:
        Proof.from_snarkjs(value, [])  # ValueError naming pi_a / pi_b / pi_c when malformed
        return value

    def groth16(self) -> Proof:
        """The proof with the public signals it carries."""
        return Proof.from_snarkjs(self.proof, list(self.public_signals))

    def signals(self) -> tuple[int, ...]:
        return _ints(self.public_signals)

    def to_json(self) -> str:
        return (
            json.dumps(
                self.model_dump(mode="json", exclude_none=True), indent=1, ensure_ascii=False
            )
            + "\n"
        )

    def save(self, path: Path) -> Path:
        path.write_text(self.to_json())
        return path


def load_bundle(path: str | Path) -> AttestationBundle:
    """A bundle file; InputError naming the file and every field that is wrong."""
    return load_model(path, AttestationBundle)


def vkey_sha256(vkey: Path | dict[str, Any]) -> str:
    """sha256 of a snarkjs verification key's canonical JSON: the same key always hashes equal."""
    data = json.loads(vkey.read_text()) if isinstance(vkey, Path) else vkey
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def statement_claim(kind: StatementKind, inputs: ProveInputs, commitment: int) -> StatementClaim:
    """The domain form of what `zkrisk prove` proved from `inputs`."""
    symbols = tuple(a.symbol for a in inputs.assets)
    snapshot = SnapshotClaim(
        snapshot_id=inputs.snapshot.snapshot_id,
        taken_at=inputs.snapshot.taken_at,
        prices_usd={s: inputs.snapshot.prices[s].price for s in symbols},
    )
    claim: dict[str, Any] = {}
    if kind is StatementKind.HEALTH:
        claim["health"] = inputs.params.health or HealthParams()
        claim["liquidation_thresholds_bps"] = {
            a.symbol: a.liquidation_threshold_bps for a in inputs.assets
        }
    else:
        claim["limits"] = inputs.params.limits
    if kind is StatementKind.ATTEST and inputs.scenarios is not None:
        claim["attest"] = inputs.params.attest
        claim["scenarios"] = ScenarioClaim(
            sha256=inputs.scenarios.content_hash,
            count=len(inputs.scenarios.returns),
            symbols=inputs.scenarios.symbols,
        )
    return StatementClaim(
        kind=kind,
        commitment=f"{commitment:#x}",
        margin=inputs.book.margin,
        margin_symbol=inputs.book.margin_symbol or symbols[0],
        assets=symbols,
        snapshot=snapshot,
        **claim,
    )


def make_bundle(
    kind: StatementKind,
    inputs: ProveInputs,
    statement: Statement,
    artifacts: CircuitArtifacts,
    proof: Proof,
) -> AttestationBundle:
    """The bundle of the proof `zkrisk prove` made of `statement`, built from `inputs`."""
    snarkjs_proof, public = proof.to_snarkjs()
    (commitment,) = [s.value for s in named_signals(statement) if s.input == "commitment"]
    name = artifacts.spec.name
    return AttestationBundle(
        format=FORMAT,
        circuit=CircuitId.of(artifacts.spec),
        vkey_sha256=vkey_sha256(artifacts.vkey),
        dev_ptau=artifacts.dev_ptau,
        warning=DEV_WARNING.format(name=name) if artifacts.dev_ptau else None,
        statement=statement_claim(kind, inputs, commitment),
        proof=snarkjs_proof,
        public_signals=tuple(public),
    )
