"""Backends by name, as a config file or a CLI flag gives them, and which one is fastest here."""

from __future__ import annotations

import os
from collections.abc import Callable

from .. import multicore_binary
from ..backend_names import BACKEND_NAMES as BACKEND_NAMES
from ..backend_names import CHOICES as CHOICES
from ..errors import BackendUnavailable
from ..toolchain import ToolchainError, node, tool_command
from .base import ProvingBackend
from .multicore import MulticoreBackend
from .native import NativeBackend, groth16py_missing
from .pool import POOL_ENV_VAR, PoolBackend
from .snarkjs_cli import SnarkjsCliBackend
from .worker import WorkerBackend

#: Environment variable naming the backend when the caller does not.
ENV_VAR = "ZKRISK_PROVER_BACKEND"


def _node_missing() -> str | None:
    try:
        node()
        tool_command("snarkjs")
    except ToolchainError as exc:
        return str(exc)
    return None


def _pool_missing() -> str | None:
    if os.environ.get(POOL_ENV_VAR):
        return None
    return (
        f"no prover pool is configured: set {POOL_ENV_VAR}=nats://HOST:PORT "
        "(the NATS server that `zkrisk prover worker --nats URL` processes serve)"
    )


_MISSING: dict[str, Callable[[], str | None]] = {
    "snarkjs-cli": _node_missing,
    "worker": _node_missing,
    # These provers need a witness: C++ when built, else the worker's WASM (so Node too).
    "multicore": lambda: multicore_binary.missing() or _node_missing(),
    "native": lambda: groth16py_missing() or _node_missing(),
    "pool": _pool_missing,
}
_CONSTRUCTORS: dict[str, Callable[[], ProvingBackend]] = {
    "snarkjs-cli": SnarkjsCliBackend,
    "worker": WorkerBackend,
    "multicore": MulticoreBackend,
    "native": NativeBackend,
}


def unavailable_reason(name: str) -> str | None:
    """Why backend `name` cannot run here (with the install command), or None if it can."""
    if name not in _MISSING:
        raise ValueError(f"unknown prover backend {name!r}; choose one of {', '.join(CHOICES)}")
    return _MISSING[name]()


def available_backends() -> list[str]:
    """The backends that can run here, fastest first."""
    return [name for name in BACKEND_NAMES if unavailable_reason(name) is None]


def best_backend_name() -> str:
    """The fastest backend that can run here."""
    available = available_backends()
    if not available:
        reasons = "; ".join(f"{n}: {unavailable_reason(n)}" for n in BACKEND_NAMES)
        raise BackendUnavailable(f"no prover backend can run here: {reasons}")
    return available[0]


def create_backend(name: str | None = None) -> ProvingBackend:
    """The backend called `name` (one of CHOICES); default: $ZKRISK_PROVER_BACKEND, else best.

    "best" is the prover pool when $ZKRISK_PROVER_POOL names one (prove through the pool when
    it is configured, locally otherwise)."""
    chosen = (name or os.environ.get(ENV_VAR) or "best").strip().lower()
    if chosen == "best" and os.environ.get(POOL_ENV_VAR):
        chosen = "pool"
    if chosen == "pool":
        reason = _pool_missing()
        if reason is not None:
            raise BackendUnavailable(f"prover backend 'pool' cannot run here: {reason}")
        return PoolBackend(os.environ[POOL_ENV_VAR].strip())
    if chosen == "best":
        chosen = best_backend_name()
    reason = unavailable_reason(chosen)
    if reason is not None:
        raise BackendUnavailable(f"prover backend {chosen!r} cannot run here: {reason}")
    return _CONSTRUCTORS[chosen]()
