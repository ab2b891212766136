"""Circuit inputs as Python values, and their JSON form for the witness calculators."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeAlias

#: One input signal: a field element, or a (nested) array of them for array inputs.
SignalValue: TypeAlias = int | Sequence["SignalValue"]
Signals: TypeAlias = Mapping[str, SignalValue]
JsonSignal: TypeAlias = str | list["JsonSignal"]


def _encode(value: SignalValue) -> JsonSignal:
    if isinstance(value, bool | str | bytes) or not isinstance(value, int | Sequence):
        raise TypeError(f"a signal value must be an int or a list of them, not {value!r}")
    if isinstance(value, int):
        return str(value)  # decimal strings: JSON numbers lose precision above 2^53
    return [_encode(v) for v in value]


def signals_json(signals: Signals) -> dict[str, JsonSignal]:
    """{name: decimal string | nested lists of them}, the input format of snarkjs and circom."""
    return {name: _encode(value) for name, value in signals.items()}
