"""The keeper's batches (liquidateMany) against a real Anvil vault, with real proofs: one account of
the batch is front-run by another keeper between the proof and the send."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from eth_typing import HexStr
from eth_utils.address import to_checksum_address
from web3.logs import DISCARD

from zkrisk.engine.chain import dev_scenario as scenario
from zkrisk.engine.chain.anvil import DEV_PRIVATE_KEYS
from zkrisk.engine.chain.vault_deploy import VaultStack
from zkrisk.engine.chain.vault_statement import prepare_vault_action
from zkrisk.engine.keeper.books import BookFile
from zkrisk.engine.keeper.vault_access import VaultHandle, circuit_artifacts
from zkrisk.engine.statements.binding import Action
from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.backends import ProvingBackend
from zkrisk.prover.proof import Proof
from zkrisk.prover.signals import Signals

from .conftest import Desks, make_keeper, set_prices

RIVAL_KEY = DEV_PRIVATE_KEYS[6]


class HookAfterProofs(ProvingBackend):
    """The real backend; `hook` runs once, right after the `after`-th proof, i.e. after the
    keeper proved its batch and before it signs and sends it."""

    name: ClassVar[str] = "hook-after-proofs"

    def __init__(self, inner: ProvingBackend, after: int, hook: Callable[[], None]) -> None:
        self.inner, self.after, self.hook, self.proofs = inner, after, hook, 0

    def prove(self, artifacts: CircuitArtifacts, signals: Signals) -> Proof:
        proof = self.inner.prove(artifacts, signals)
        self.proofs += 1
        if self.proofs == self.after:
            self.hook()
        return proof


def rival_liquidates(
    stack: VaultStack, backend: ProvingBackend, book: BookFile
) -> Callable[[], None]:
    """Another keeper proves `book`'s liquidation at the latest snapshot and sends it."""
    rival = stack.client(stack.chain.with_key(RIVAL_KEY))
    artifacts = circuit_artifacts(stack.circuit)

    def liquidate() -> None:
        action = prepare_vault_action(rival, book=book.portfolio, assets=scenario.ASSETS,
                                      salt=book.salt, action=Action.LIQUIDATE)  # fmt: skip
        proof = backend.prove(artifacts, action.statement.signals())
        receipt = rival.liquidate(action.account, action.snapshot_id, action.proven_margin,
                                  action.hf_below_bps, proof)  # fmt: skip
        assert receipt["status"] == 1

    return liquidate


def test_keeper_batch_with_a_front_run_account_liquidates_the_others_once_and_resends_nothing(
    stack: VaultStack, desks: Desks, keeper_handle: VaultHandle, backend: ProvingBackend,
    tmp_path: Path,
) -> None:  # fmt: skip
    books = [desks.open() for _ in range(3)]
    victim = books[1]
    hooked = HookAfterProofs(backend, after=3, hook=rival_liquidates(stack, backend, victim))
    keeper, logged = make_keeper(keeper_handle, books, hooked, tmp_path / "k.sqlite", batch_size=3)
    me = to_checksum_address(keeper_handle.client.account)
    w3 = stack.chain.w3
    assert keeper.tick() == []  # calm prices: every book healthy
    set_prices(stack, scenario.CRASH)

    done = keeper.tick()

    accounts = [b.portfolio.account.lower() for b in books]
    others = {accounts[0], accounts[2]}
    problems = [e for e in logged.events() if e["level"] != "info"]
    assert hooked.proofs == 3, "the keeper proved all three before the rival landed"
    assert {d.account.lower() for d in done} == others, problems
    (batch_tx,) = {d.tx_hash for d in done}  # one liquidateMany for both
    receipt = w3.eth.get_transaction_receipt(HexStr(batch_tx))
    skipped = stack.vault.events.LiquidationSkipped().process_receipt(receipt, errors=DISCARD)
    assert [str(e["args"]["account"]).lower() for e in skipped] == [accounts[1]]
    records = {r.account: r for r in keeper.store.all()}
    assert {a: records[a].status for a in accounts} == {
        accounts[0]: "mined", accounts[1]: "reverted", accounts[2]: "mined"}  # fmt: skip
    assert {r.tx_hash for r in records.values()} == {batch_tx}, "one record per account, one tx"
    assert keeper.metrics.liquidations.labels(path="PROOF")._value.get() == 2
    assert keeper.metrics.errors.labels(kind="skipped")._value.get() == 1
    assert "liquidation_skipped_in_batch" in logged.names()

    sent = w3.eth.get_transaction_count(me)
    assert keeper.tick() == [] and keeper.tick() == []
    assert w3.eth.get_transaction_count(me) == sent, "nothing resent"
    assert len(keeper.store.all()) == 3
    chain_events = stack.vault.events.Liquidated().get_logs(from_block=0)
    by_account: dict[str, list[str]] = {}
    for event in chain_events:
        account = str(event["args"]["account"]).lower()
        if account in accounts:
            by_account.setdefault(account, []).append(str(event["args"]["keeper"]))
    rival = stack.chain.with_key(RIVAL_KEY).address
    assert by_account == {accounts[0]: [me], accounts[1]: [rival], accounts[2]: [me]}
