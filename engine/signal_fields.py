"""A statement's public signals by name, and the domain field each one comes from.

The layout (which signal is where) is the statement builders'; this module only walks it, so a
verifier can say *which* of its own fields a proof disagrees with ("limits.leverage_bps"),
not just "signal 13 differs".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .prove_params import Statement
from .risk import fixed_point as fp
from .statements.attestation import PUBLIC_SIGNALS as ATTEST_PUBLIC
from .statements.attestation import AttestationStatement
from .statements.health import PUBLIC_SIGNALS as HEALTH_PUBLIC
from .statements.health import HealthStatement
from .statements.limits import PUBLIC_SIGNALS as LIMITS_PUBLIC


@dataclass(frozen=True)
class Signal:
    """One public signal: the circuit input it belongs to, its array indices and its value."""

    input: str
    index: tuple[int, ...]
    value: int

    @property
    def label(self) -> str:
        return self.input + "".join(f"[{i}]" for i in self.index)


def public_inputs(statement: Statement) -> tuple[dict[str, object], Sequence[str]]:
    """The statement's public inputs by name and their declaration order."""
    if isinstance(statement, HealthStatement):
        return dict(zip(HEALTH_PUBLIC, statement.public_signals(), strict=True)), HEALTH_PUBLIC
    order = ATTEST_PUBLIC if isinstance(statement, AttestationStatement) else LIMITS_PUBLIC
    return dict(statement.public_inputs()), order


def named_signals(statement: Statement, *, commitment: int | None = None) -> tuple[Signal, ...]:
    """The ordered public signals, each with its name; `commitment` replaces the book's own.

    A verifier has no book, only the commitment it knows: it builds the statement on an empty
    book and puts that commitment in — every other signal is computed as the prover computes it.
    """
    inputs, order = public_inputs(statement)
    if commitment is not None:
        inputs["commitment"] = commitment
    out: list[Signal] = []

    def walk(name: str, value: object, index: tuple[int, ...]) -> None:
        if isinstance(value, int):
            out.append(Signal(name, index, value))
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                walk(name, item, (*index, i))
        else:
            raise TypeError(f"public input {name} of type {type(value).__name__}")

    for name in order:
        walk(name, inputs[name], ())
    return tuple(out)


def _scaled(decimals: int) -> Callable[[int], str]:
    return lambda v: f"{fp.from_fixed(v, decimals).normalize():f}"


_HEX: Callable[[int], str] = lambda v: f"{v:#x}"  # noqa: E731
_INT: Callable[[int], str] = str

#: Circuit input → (the expectation's field, how its value reads). `{symbol}` is the slot's asset.
FIELDS: Mapping[str, tuple[str, Callable[[int], str]]] = {
    "commitment": ("commitment", _HEX),
    "snapshotHash": ("prices (snapshot hash: snapshot_id, prices, liquidation thresholds)", _HEX),
    "margin": ("margin", _scaled(fp.QTY_DECIMALS)),
    "thresholdMode": ("health.threshold_bps / health.mode", _INT),
    "binding": ("health.binding", _HEX),
    "price": ("prices.{symbol}", _scaled(fp.PRICE_DECIMALS)),
    "notionalCap": ("limits.notional_caps_usd.{symbol}", _scaled(fp.VALUE_DECIMALS)),
    "concentrationBps": ("limits.concentration_bps", _INT),
    "leverageBps": ("limits.leverage_bps", _INT),
    "alphaBps": ("attest.alpha_bps", _INT),
    "varLimit": ("attest.var_limit_usd", _scaled(fp.LOSS_DECIMALS)),
    "esLimit": ("attest.es_limit_usd", _scaled(fp.LOSS_DECIMALS)),
    "returns": ("scenarios", _INT),
}


def field_of(signal: Signal, symbols: Sequence[str]) -> str:
    """The expectation's field a signal comes from, e.g. `prices.WETH` for price[1]."""
    name, _ = FIELDS.get(signal.input, (signal.label, _INT))
    if "{symbol}" not in name:
        return name
    slot = signal.index[0]
    return name.format(symbol=symbols[slot] if slot < len(symbols) else f"slot{slot}")


def reads(signal: Signal, value: int) -> str:
    """`value` of this signal's input in domain units (USD, bps, hex)."""
    _, show = FIELDS.get(signal.input, ("", _INT))
    return show(value)


def threshold_mode_fields(expected: int, proven: int) -> list[str]:
    """Which of threshold and mode differ in a Health thresholdMode signal."""
    low = (1 << fp.BPS_BITS) - 1
    fields = []
    if expected & low != proven & low:
        fields.append("health.threshold_bps")
    if expected >> fp.BPS_BITS != proven >> fp.BPS_BITS:
        fields.append("health.mode")
    return fields
