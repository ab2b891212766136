"""Proof jobs and their results as data: the statement hash, and the JSON that crosses NATS.

Pure: nothing here touches the network. A job is (circuit, verification-key hash, signals,
priority); its id is the *statement hash*, sha256 over the circuit name, the key hash and the
canonical signals, so the same statement submitted twice (by a retrying keeper, or by two
keepers) is one job, proved once. The key hash is of the verification key: it is what a proof
is checked against, and a worker whose key differs cannot produce a proof the client accepts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..proof import Proof
from ..signals import JsonSignal, Signals, SignalValue, signals_json


class Priority(StrEnum):
    """Workers take every waiting `high` job before any `normal` one (liquidations go high)."""

    HIGH = "high"
    NORMAL = "normal"


#: The order in which a worker looks for its next job.
PRIORITY_ORDER = (Priority.HIGH, Priority.NORMAL)


class MalformedMessage(ValueError):
    """A job or result on the wire is not what this module writes; says which field is wrong."""


def canonical_json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def key_hash(vkey: Path) -> str:
    """sha256 of the verification key's canonical JSON (whitespace and key order do not count)."""
    return hashlib.sha256(canonical_json(json.loads(vkey.read_text()))).hexdigest()


def statement_hash(circuit: str, key: str, signals: dict[str, JsonSignal]) -> str:
    """The job id: which statement, proved under which key. Hex, usable as a NATS KV key."""
    body = canonical_json({"circuit": circuit, "key": key, "signals": signals})
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class ProofJob:
    """One statement to prove. `submitted_at` is the submitter's wall clock (for queue wait)."""

    circuit: str
    key: str
    signals: dict[str, JsonSignal]
    priority: Priority
    submitted_at: float

    @classmethod
    def new(
        cls, circuit: str, key: str, signals: Signals, priority: Priority, submitted_at: float
    ) -> ProofJob:
        return cls(circuit, key, signals_json(signals), priority, submitted_at)

    def decoded_signals(self) -> dict[str, SignalValue]:
        """The signals as ints again; MalformedMessage for anything but decimal strings."""
        return {name: _decode(value, name) for name, value in self.signals.items()}

    @property
    def job_id(self) -> str:
        return statement_hash(self.circuit, self.key, self.signals)

    def to_bytes(self) -> bytes:
        return canonical_json(
            {"job_id": self.job_id, "circuit": self.circuit, "key": self.key,
             "signals": self.signals, "priority": self.priority.value,
             "submitted_at": self.submitted_at}
        )  # fmt: skip

    @classmethod
    def from_bytes(cls, data: bytes) -> ProofJob:
        """Parse and check a job; MalformedMessage when its id is not its statement's hash."""
        raw = _object(data, "job")
        try:
            job = cls(
                str(raw["circuit"]), str(raw["key"]), dict(raw["signals"]),
                Priority(raw["priority"]), float(raw["submitted_at"]),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedMessage(f"job field missing or invalid: {exc!r}") from None
        job.decoded_signals()  # fails here, not in a worker's prover
        if raw.get("job_id") != job.job_id:
            raise MalformedMessage(
                f"job id {raw.get('job_id')!r} is not the hash of its statement ({job.job_id})"
            )
        return job


@dataclass(frozen=True)
class Timings:
    """Where the time went, in milliseconds, as the worker measured it."""

    queue_wait_ms: float  # submitted_at → the worker started (two clocks when two machines)
    witness_ms: float | None  # None when the backend does witness and proof in one call
    prove_ms: float


@dataclass(frozen=True)
class ProofResult:
    """What a worker writes back under the job id: a proof, or why the job cannot be proved."""

    job_id: str
    worker: str
    delivery: int  # 1 for the first delivery of the job, 2 after one redelivery, …
    proof: Proof | None
    error: str | None  # e.g. the witness error for signals that violate the circuit
    error_kind: str | None  # the exception type: WitnessError, ProverError, MalformedMessage, …
    timings: Timings | None

    @property
    def ok(self) -> bool:
        return self.proof is not None

    def to_bytes(self) -> bytes:
        proof = None
        if self.proof is not None:
            words, public = self.proof.calldata()
            proof = {"words": [str(w) for w in words], "public": [str(p) for p in public]}
        timings = None if self.timings is None else self.timings.__dict__
        return canonical_json(
            {"job_id": self.job_id, "worker": self.worker, "delivery": self.delivery,
             "proof": proof, "error": self.error, "error_kind": self.error_kind,
             "timings": timings}
        )  # fmt: skip

    @classmethod
    def from_bytes(cls, data: bytes) -> ProofResult:
        raw = _object(data, "result")
        try:
            proof = None
            if raw["proof"] is not None:
                words = [int(w) for w in raw["proof"]["words"]]
                proof = Proof.from_calldata(words, [int(p) for p in raw["proof"]["public"]])
            t = raw["timings"]
            timings = None if t is None else Timings(
                float(t["queue_wait_ms"]),
                None if t["witness_ms"] is None else float(t["witness_ms"]),
                float(t["prove_ms"]),
            )  # fmt: skip
            return cls(
                str(raw["job_id"]), str(raw["worker"]), int(raw["delivery"]), proof,
                None if raw["error"] is None else str(raw["error"]),
                None if raw["error_kind"] is None else str(raw["error_kind"]), timings,
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedMessage(f"result field missing or invalid: {exc!r}") from None


def _decode(value: object, name: str) -> SignalValue:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    if isinstance(value, list):
        return [_decode(v, name) for v in value]
    raise MalformedMessage(f"signal {name!r}: {value!r} is not a decimal string or a list of them")


def _object(data: bytes, what: str) -> dict[str, Any]:
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedMessage(f"{what} is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise MalformedMessage(f"{what} is not a JSON object")
    return raw
