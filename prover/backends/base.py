"""The one interface every proving backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import ClassVar, Self

from ..artifacts import CircuitArtifacts
from ..proof import Proof
from ..signals import Signals


class ProvingBackend(ABC):
    """`prove(artifacts, signals) -> Proof`; a context manager that releases what it keeps warm.

    Every backend's proofs verify under the same verification key and on-chain verifier; they
    differ only in speed and in what must be installed.
    """

    name: ClassVar[str]

    @abstractmethod
    def prove(self, artifacts: CircuitArtifacts, signals: Signals) -> Proof:
        """Witness + Groth16 proof. Raises WitnessError when the signals violate the circuit."""

    def close(self) -> None:  # noqa: B027 — an optional hook: not every backend keeps state
        """Stop helper processes and drop cached keys (a later prove() starts afresh)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
