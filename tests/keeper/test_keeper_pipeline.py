"""The keeper's pipelined proving against a real Anvil vault with real proofs: each statement is
handed to the prover as soon as it is built, proofs are taken in the order they arrive, groups of
`batch_size` are sent as they fill, and one job's failure stays with its account."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from zkrisk.engine.chain import dev_scenario as scenario
from zkrisk.engine.chain.vault_deploy import VaultStack
from zkrisk.engine.keeper.vault_access import VaultHandle
from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.backends import ProvingBackend
from zkrisk.prover.batch import Outcome
from zkrisk.prover.proof import Proof
from zkrisk.prover.signals import Signals

from .conftest import Desks, make_keeper, set_prices
from .test_keeper import liquidated_events

#: Rewrites the outcomes of all submitted jobs (in submission order) into the arrival order.
Script = Callable[[list[tuple[int, Proof]]], list[Outcome]]


class ScriptedStream:
    """Proves every submitted job with the real backend once the keeper waits, then delivers
    the outcomes one at a time in the order (and with the faults) `script` says."""

    def __init__(self, backend: ProvingBackend, script: Script) -> None:
        self.backend, self.script = backend, script
        self.jobs: list[tuple[int, CircuitArtifacts, Signals]] = []
        self.arrivals: list[Outcome] | None = None

    def submit(self, tag: int, artifacts: CircuitArtifacts, signals: Signals) -> None:
        self.jobs.append((tag, artifacts, signals))

    def ready(self) -> list[Outcome]:
        return []

    def wait(self) -> list[Outcome]:
        if self.arrivals is None:
            proved = [(tag, self.backend.prove(a, s)) for tag, a, s in self.jobs]
            self.arrivals = self.script(proved)
        return [self.arrivals.pop(0)] if self.arrivals else []

    def close(self) -> None:
        pass


class ScriptedBackend(ProvingBackend):
    """A streaming backend (like the pool): the streams of the first two ticks (calm, crash)
    follow `script`, later ones deliver in submission order without faults."""

    name: ClassVar[str] = "scripted"

    def __init__(self, inner: ProvingBackend, script: Script) -> None:
        self.inner, self.script, self.streams = inner, script, 0

    def prove(self, artifacts: CircuitArtifacts, signals: Signals) -> Proof:
        return self.inner.prove(artifacts, signals)

    def stream(self) -> ScriptedStream:
        self.streams += 1
        script: Script = self.script if self.streams <= 2 else (lambda proved: list(proved))
        return ScriptedStream(self.inner, script)


def test_keeper_when_proofs_arrive_out_of_order_then_groups_follow_arrival_and_each_is_sent_once(
    stack: VaultStack, desks: Desks, keeper_handle: VaultHandle, backend: ProvingBackend,
    tmp_path: Path,
) -> None:  # fmt: skip
    books = [desks.open() for _ in range(3)]
    scripted = ScriptedBackend(backend, lambda proved: list(reversed(proved)))
    keeper, logged = make_keeper(
        keeper_handle, books, scripted, tmp_path / "k.sqlite", batch_size=2
    )
    assert keeper.tick() == []  # calm prices: every book healthy, nothing submitted
    set_prices(stack, scenario.CRASH)

    done = keeper.tick()

    accounts = [b.portfolio.account.lower() for b in books]
    problems = [e for e in logged.events() if e["level"] != "info"]
    tx_of = {d.account.lower(): d.tx_hash for d in done}
    assert set(tx_of) == set(accounts), problems
    # Arrival order 3, 2, 1: the first full group is (3, 2), the last account goes alone.
    assert tx_of[accounts[2]] == tx_of[accounts[1]] != tx_of[accounts[0]]
    proved = [e["account"].lower() for e in logged.events() if e["event"] == "proved"]
    assert proved == list(reversed(accounts))
    assert all(len(liquidated_events(stack, a)) == 1 for a in accounts)
    assert keeper.tick() == [] and len(keeper.store.all()) == 3, "nothing sent twice"


def test_keeper_when_one_job_fails_mid_stream_then_the_others_are_sent_and_it_is_retried(
    stack: VaultStack, desks: Desks, keeper_handle: VaultHandle, backend: ProvingBackend,
    tmp_path: Path,
) -> None:  # fmt: skip
    books = [desks.open() for _ in range(3)]

    def second_fails(proved: list[tuple[int, Proof]]) -> list[Outcome]:
        (t0, p0), (t1, _), (t2, p2) = proved
        return [(t0, p0), (t1, ConnectionResetError("the worker's connection dropped")), (t2, p2)]

    scripted = ScriptedBackend(backend, second_fails)
    keeper, logged = make_keeper(
        keeper_handle, books, scripted, tmp_path / "k.sqlite", batch_size=3
    )
    assert keeper.tick() == []
    set_prices(stack, scenario.CRASH)

    first = keeper.tick()

    accounts = [b.portfolio.account.lower() for b in books]
    assert {d.account.lower() for d in first} == {accounts[0], accounts[2]}
    assert len({d.tx_hash for d in first}) == 1, "the two proven ones share one liquidateMany"
    errors = [e for e in logged.events() if e["event"] == "account_error"]
    assert [(e["account"].lower(), e["remedy"]) for e in errors] == [(accounts[1], "retry")]
    second = keeper.tick()  # a retryable failure: the account is looked at again next tick
    assert [d.account.lower() for d in second] == [accounts[1]]
    assert all(len(liquidated_events(stack, a)) == 1 for a in accounts)


def test_keeper_when_the_prover_returns_a_proof_of_another_statement_then_that_account_waits(
    stack: VaultStack, desks: Desks, keeper_handle: VaultHandle, backend: ProvingBackend,
    tmp_path: Path,
) -> None:  # fmt: skip
    books = [desks.open() for _ in range(2)]

    def first_gets_the_seconds(proved: list[tuple[int, Proof]]) -> list[Outcome]:
        (t0, _), (t1, p1) = proved
        return [(t0, p1), (t1, p1)]

    scripted = ScriptedBackend(backend, first_gets_the_seconds)
    keeper, logged = make_keeper(
        keeper_handle, books, scripted, tmp_path / "k.sqlite", batch_size=2
    )
    assert keeper.tick() == []
    set_prices(stack, scenario.CRASH)

    done = keeper.tick()

    accounts = [b.portfolio.account.lower() for b in books]
    assert [d.account.lower() for d in done] == [accounts[1]]
    (alert,) = [e for e in logged.events() if e["event"] == "alert"]
    assert alert["account"].lower() == accounts[0]
    assert "public signals that differ from the statement" in alert["error"]
    assert liquidated_events(stack, accounts[0]) == []
