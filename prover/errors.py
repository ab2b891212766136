"""What can go wrong while proving, as exception types a caller can tell apart."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class ProverError(RuntimeError):
    """Proving failed for a reason other than the inputs (a crashed worker, a broken artefact)."""


class BackendUnavailable(ProverError):
    """A proving backend cannot run on this machine; the message says what to install."""


class WorkerCrashed(ProverError):
    """The warm Node worker died or stopped answering mid-request; the next request restarts it."""


@dataclass(frozen=True)
class ConstraintFailure:
    """Where the witness calculator stopped: the innermost failing template and its callers."""

    template: str  # template (or function) name without circom's instance suffix
    line: int  # line in `file` of the failing assert / `===`
    file: Path | None  # the .circom file defining `template`, when found
    source: str | None  # the text of that line
    callers: tuple[tuple[str, int], ...]  # (template, line) from the inner caller outwards
    #: components that may have failed: exactly one when the generator names it (C++), or
    #: every instance of an array of components when it does not (WASM)
    instances: tuple[str, ...]
    signals: tuple[str, ...]  # full signal names (from the .sym file) that the line involves


class WitnessError(ValueError):
    """The inputs do not satisfy the circuit (an assert or `===` failed, or an input is malformed).

    The message names the failing template, its source line and the signals involved (from the
    circuit's .sym file) instead of the witness calculator's raw stack trace, which stays
    available in `raw`; `failure` holds the same facts as data.
    """

    def __init__(
        self, message: str, *, raw: str = "", failure: ConstraintFailure | None = None
    ) -> None:
        super().__init__(message)
        self.raw = raw
        self.failure = failure
