"""The baseline backend: one snarkjs CLI process for the witness and one for the proof."""

from __future__ import annotations

from ..artifacts import CircuitArtifacts
from ..proof import Proof
from ..signals import Signals
from ..snarkjs_cli import prove
from .base import ProvingBackend


class SnarkjsCliBackend(ProvingBackend):
    """Slow (Node start-up, curve and zkey load on every call) but needs nothing running."""

    name = "snarkjs-cli"

    def prove(self, artifacts: CircuitArtifacts, signals: Signals) -> Proof:
        return prove(artifacts, signals)
