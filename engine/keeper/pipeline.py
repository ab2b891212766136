"""One tick's proof-path liquidations between their statement and their send.

Each statement goes to the prover as soon as it is built (`submit`), so a pool's workers prove
while the keeper is still reading the next accounts from the chain; proofs are taken in the
order they arrive (`take`) and handed out in groups of the batch size (`full_groups`, then the
last partial one with `rest`). A proof is accepted only if its public signals are the
statement's; a job's failure stays with its account.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.batch import Outcome, ProofStream

from ..chain.vault_statement import VaultAction
from ..statements.health import PUBLIC_SIGNALS
from .proving import ProvenAction


class WrongPublicSignals(RuntimeError):
    """The prover returned a proof of another statement."""


@dataclass(frozen=True)
class _InFlight:
    action: VaultAction
    public_signals: tuple[int, ...]
    submitted_at: float


@dataclass
class ProofPipeline:
    """Statements in flight on `stream`, proofs grouped by arrival (see the module docstring)."""

    stream: ProofStream
    artifacts: CircuitArtifacts
    batch_size: int
    _in_flight: dict[int, _InFlight] = field(default_factory=dict)
    _proven: list[ProvenAction] = field(default_factory=list)
    _next_tag: int = 0
    _last_arrival: float = 0.0

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def submit(self, action: VaultAction) -> None:
        signals = action.statement.signals()
        # The statement's public signals, from the signals just built (no second hashing).
        public = tuple(v for name in PUBLIC_SIGNALS if isinstance(v := signals[name], int))
        tag, self._next_tag = self._next_tag, self._next_tag + 1
        self._in_flight[tag] = _InFlight(action, public, time.perf_counter())
        self.stream.submit(tag, self.artifacts, signals)

    def take(
        self, outcomes: Sequence[Outcome]
    ) -> tuple[list[ProvenAction], list[tuple[VaultAction, Exception]]]:
        """File each outcome: (the proofs of their statements, now waiting for their group;
        the failures, the job's exception or WrongPublicSignals, with their actions)."""
        proven: list[ProvenAction] = []
        failed: list[tuple[VaultAction, Exception]] = []
        now = time.perf_counter()
        for tag, outcome in outcomes:
            job = self._in_flight.pop(tag, None)
            if job is None:
                continue  # not ours, or already filed: never two outcomes for one account
            if isinstance(outcome, Exception):
                failed.append((job.action, outcome))
                continue
            if tuple(outcome.public_signals) != job.public_signals:
                failed.append((job.action, WrongPublicSignals(
                    "the prover returned public signals that differ from the statement")))  # fmt: skip
                continue
            # Per proof, amortised: since the later of its submission and the previous proof.
            seconds = now - max(job.submitted_at, self._last_arrival)
            self._last_arrival = now
            proven.append(ProvenAction(job.action, outcome, seconds))
        self._proven += proven
        return proven, failed

    def full_groups(self) -> list[list[ProvenAction]]:
        """Every full group of `batch_size` proven actions, in arrival order (taken out)."""
        size = max(1, self.batch_size)
        cut = len(self._proven) - len(self._proven) % size
        groups = [self._proven[i : i + size] for i in range(0, cut, size)]
        del self._proven[:cut]
        return groups

    def rest(self) -> list[list[ProvenAction]]:
        """The last, partial group (once nothing is in flight), or nothing."""
        groups = self.full_groups()
        if self._proven:
            groups.append(self._proven)
            self._proven = []
        return groups

    def abandon(self) -> list[VaultAction]:
        """The actions still in flight (the stream failed as a whole): forgotten, returned."""
        actions = [job.action for job in self._in_flight.values()]
        self._in_flight.clear()
        return actions
