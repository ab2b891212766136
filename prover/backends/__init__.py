"""Proving backends behind one interface: `backend.prove(artifacts, signals) -> Proof`.

    multicore    zkrisk's own Groth16 prover (prover/multicore_rs, Rust) on every core — fastest
    native       groth16py (arkworks) proves from a C++ or warm-WASM witness, on one core
    worker       one warm Node process: WASM witness + snarkjs prove, curve and zkeys kept loaded
    snarkjs-cli  one snarkjs process per witness and per proof (the baseline)
    best         the fastest of these that can run here (the pool when $ZKRISK_PROVER_POOL is set)
    pool         `zkrisk prover worker` processes over NATS JetStream ($ZKRISK_PROVER_POOL)

`create_backend("best")` (or a name from CHOICES, or $ZKRISK_PROVER_BACKEND) returns one; use
it as a context manager so helper processes stop when you are done.
"""

from .base import ProvingBackend
from .factory import (
    BACKEND_NAMES,
    CHOICES,
    ENV_VAR,
    available_backends,
    best_backend_name,
    create_backend,
    unavailable_reason,
)
from .multicore import MulticoreBackend
from .native import NativeBackend
from .pool import POOL_ENV_VAR, PoolBackend
from .snarkjs_cli import SnarkjsCliBackend
from .worker import WorkerBackend

__all__ = [
    "BACKEND_NAMES",
    "CHOICES",
    "ENV_VAR",
    "POOL_ENV_VAR",
    "MulticoreBackend",
    "NativeBackend",
    "PoolBackend",
    "ProvingBackend",
    "SnarkjsCliBackend",
    "WorkerBackend",
    "available_backends",
    "best_backend_name",
    "create_backend",
    "unavailable_reason",
]
