"""zkrisk risk engine: the domain, the pipeline and everything that runs it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .attestation_verifier import verify_attestation

__all__ = ["verify_attestation"]


def __getattr__(name: str) -> Any:
    # Lazy: `import zkrisk.engine` stays light (the verifier pulls in py_ecc and the prover).
    # The module is not named verify_attestation: importing it would shadow this function.
    if name == "verify_attestation":
        from .attestation_verifier import verify_attestation

        return verify_attestation
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
