"""The keeper's chain access against a real Anvil node: per-tick views that bypass web3's pipeline
but return exactly what web3 returns, per-account views read ahead in JSON-RPC batches (the same
answers, each prefetched one used once and only for its own arguments, every failure falling
back to the single view), transactions built from one batch of reads (as web3 builds them), and
a batch's records stored all or none."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from eth_typing import HexStr
from web3.exceptions import ContractLogicError

from zkrisk.engine.chain.vault import VaultClient
from zkrisk.engine.chain.vault_deploy import VaultStack, advance_time
from zkrisk.engine.chain.vault_statement import keeper_margin
from zkrisk.engine.keeper import rpc
from zkrisk.engine.keeper import tx as keeper_tx
from zkrisk.engine.keeper.store import PendingStore, PendingTx
from zkrisk.engine.keeper.vault_access import TickReads, VaultHandle, tick_reads
from zkrisk.engine.statements.binding import Action

from .conftest import Desks, SnapshotCall


def _eth_calls(reads: TickReads, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The single eth_call requests `reads` makes from now on (its fast path's)."""
    calls: list[Any] = []
    provider = reads.chain.w3.provider
    real = provider.make_request

    def counted(method: Any, params: Any) -> Any:
        if method == "eth_call":
            calls.append(params)
        return real(method, params)

    monkeypatch.setattr(provider, "make_request", counted)
    return calls


def _no_batches(handle: VaultHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*_args: Any, **_kwargs: Any) -> Any:
        raise ConnectionError("this node takes no JSON-RPC batches")

    monkeypatch.setattr(handle.client.chain.w3.provider, "make_batch_request", refused)


def _liquidation(reads: TickReads, account: str, snapshot_id: int) -> dict[str, Any]:
    escrow = reads.account_state(account).escrow
    return {"proven_margin": keeper_margin(escrow, reads.token_decimals()), "hf_below_bps": 9_500}


def _opened(desks: Desks, handle: VaultHandle) -> tuple[str, VaultClient, TickReads, int]:
    """A new desk's account, the keeper's vault client, a tick's reads and the latest snapshot."""
    vault = handle.client
    account = desks.open().portfolio.account
    return account, vault, tick_reads(vault), vault.latest_snapshot_id()


def test_tick_reads_views_return_what_web3_returns(
    desks: Desks, keeper_handle: VaultHandle
) -> None:
    account, vault, reads, snapshot_id = _opened(desks, keeper_handle)

    assert reads.account_state(account) == vault.account_state(account)
    assert reads.account_state(account).escrow > 0
    assert reads.proof_status(account) == vault.proof_status(account)
    args = (account, Action.LIQUIDATE, 0, snapshot_id, 0)
    bound = {"proven_margin": 10**12, "hf_below_bps": 9_500}
    assert reads.public_signals(*args, **bound) == vault.public_signals(*args, **bound)
    assert reads.chain_time() == reads.chain_time() <= vault.chain_time(), "once per tick"
    unknown = HexStr("0x" + "00" * 20)
    assert reads.account_state(unknown) == vault.account_state(unknown)


def test_prefetched_views_are_what_web3_returns_and_no_single_view_is_made(
    desks: Desks, keeper_handle: VaultHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = [desks.open().portfolio.account for _ in range(2)]
    vault = keeper_handle.client
    snapshot_id = vault.latest_snapshot_id()
    reads = tick_reads(vault)
    reads.token_decimals()  # a per-tick read of its own
    calls = _eth_calls(reads, monkeypatch)

    reads.prefetch([*accounts, "0x" + "00" * 20], snapshot_id)  # and one without an account

    for account in accounts:
        args = (account, Action.LIQUIDATE, 0, snapshot_id, 0)
        bound = _liquidation(reads, account, snapshot_id)
        assert reads.account_state(account) == vault.account_state(account)
        assert reads.proof_status(account) == vault.proof_status(account)
        assert reads.public_signals(*args, **bound) == vault.public_signals(*args, **bound)
        deep = {**bound, "hf_below_bps": 10_000}
        assert reads.public_signals(*args, **deep) == vault.public_signals(*args, **deep)
    assert calls == [], "every view came from the two batches"


def test_a_prefetched_public_signals_answers_only_its_own_arguments(
    desks: Desks, keeper_handle: VaultHandle
) -> None:
    account, vault, reads, snapshot_id = _opened(desks, keeper_handle)
    reads.prefetch([account], snapshot_id)
    args = (account, Action.LIQUIDATE, 0, snapshot_id, 0)
    other = {**_liquidation(reads, account, snapshot_id), "proven_margin": 10**12}

    assert reads.public_signals(*args, **other) == vault.public_signals(*args, **other)


def test_a_prefetched_proof_status_answers_once_then_the_vault_is_asked_again(
    stack: VaultStack, desks: Desks, keeper_handle: VaultHandle
) -> None:
    account, vault, reads, snapshot_id = _opened(desks, keeper_handle)
    reads.prefetch([account], snapshot_id)
    fresh, deadline = vault.proof_status(account)
    assert not fresh
    advance_time(stack.chain, deadline - vault.chain_time() + 1)  # the proof is now too old

    assert reads.proof_status(account) == (False, deadline)  # read with the account's state
    assert reads.proof_status(account) == vault.proof_status(account) == (True, deadline)


def test_without_json_rpc_batches_every_view_is_read_on_its_own(
    desks: Desks, keeper_handle: VaultHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    account, vault, reads, snapshot_id = _opened(desks, keeper_handle)
    _no_batches(keeper_handle, monkeypatch)
    reads.prefetch([account], snapshot_id)  # never raises: nothing read ahead
    calls = _eth_calls(reads, monkeypatch)

    args = (account, Action.LIQUIDATE, 0, snapshot_id, 0)
    bound = _liquidation(reads, account, snapshot_id)
    assert reads.account_state(account) == vault.account_state(account)
    assert reads.proof_status(account) == vault.proof_status(account)
    assert reads.public_signals(*args, **bound) == vault.public_signals(*args, **bound)
    assert len(calls) >= 3, "each read made on its own"


def test_a_view_that_reverts_in_a_batch_is_none_and_the_others_are_answered(
    keeper_handle: VaultHandle,
) -> None:
    vault = keeper_handle.client
    reads = tick_reads(vault)
    account = vault.account
    me = vault.chain.address
    bad = (account, 99, 0, 1, 0, me, 0, 0)  # no Action 99: the enum conversion reverts
    with pytest.raises(ContractLogicError):
        vault.vault.functions.publicSignals(*bad).call()

    answers = reads.chain.views([(vault.vault, "proofStatus", (account,)),  # type: ignore[attr-defined]
                                 (vault.vault, "publicSignals", bad),
                                 (vault.vault, "accountState", (account,))])  # fmt: skip

    assert answers[0] == (list(vault.vault.functions.proofStatus(account).call()),)
    assert answers[1] is None
    assert answers[2] == (vault.vault.functions.accountState(account).call(),)


def test_the_transaction_is_what_web3_builds_but_for_the_gas(
    snapshot_call: SnapshotCall, keeper_handle: VaultHandle
) -> None:
    chain, fn = snapshot_call
    made = keeper_tx._unsigned(chain, fn)
    nonce = chain.w3.eth.get_transaction_count(chain.address, "pending")
    web3s = dict(fn.build_transaction({"from": chain.address, "nonce": nonce, "gas": 0}))

    assert made is not None and made == web3s


def test_calldata_is_what_web3_encodes_for_a_liquidate_many(keeper_handle: VaultHandle) -> None:
    vault = keeper_handle.client.vault
    item = (keeper_handle.client.account, 3, 2**200, 7, 10**20, 9_500, list(range(1, 9)))
    fn = vault.functions.liquidateMany([item, item])

    assert keeper_tx._calldata(fn) == fn._encode_transaction_data()


def test_without_json_rpc_batches_web3_builds_the_transaction_and_it_mines(
    snapshot_call: SnapshotCall, keeper_handle: VaultHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain, fn = snapshot_call
    _no_batches(keeper_handle, monkeypatch)
    assert keeper_tx._unsigned(chain, fn) is None

    signed = keeper_tx.build_signed(chain, fn)

    tx_hash = chain.w3.eth.send_raw_transaction(signed.raw_transaction)
    assert chain.w3.eth.wait_for_transaction_receipt(tx_hash)["status"] == 1


def _pending(account: str, nonce: int = 1) -> PendingTx:
    return PendingTx(account, nonce, "PROOF", 1, "0x" + "ab" * 32, b"\x02raw", "pending")


def test_a_batch_is_recorded_all_or_none(tmp_path: Path) -> None:
    store = PendingStore(tmp_path / "k.sqlite")
    store.record(_pending("0xbb"))  # a live liquidation of the second account
    batch = [_pending("0xaa"), _pending("0xbb"), _pending("0xcc")]

    with pytest.raises(sqlite3.IntegrityError):
        store.record_many(batch)

    assert [p.account for p in store.all()] == ["0xbb"], "none of the batch was recorded"
    store.record_many([_pending("0xaa"), _pending("0xcc")])
    assert sorted(p.account for p in store.open()) == ["0xaa", "0xbb", "0xcc"]


class _Provider:
    """A node that answers a batch as given (Anvil always sets the ids: this misbehaving node
    cannot be made from it, so it is a stand-in, for this one function only)."""

    def __init__(self, responses: list[dict[str, Any]]) -> None:
        self.responses = responses

    def make_batch_request(self, _requests: Any) -> list[dict[str, Any]]:
        return self.responses


class _Node:
    def __init__(self, responses: list[dict[str, Any]]) -> None:
        self.provider = _Provider(responses)


@pytest.mark.parametrize(
    "responses",
    [
        [{"jsonrpc": "2.0", "result": "0x2"}, {"jsonrpc": "2.0", "id": 1, "result": "0x1"}],
        [
            {"jsonrpc": "2.0", "id": 1, "result": "0x2"},
            {"jsonrpc": "2.0", "id": 1, "result": "0x1"},
        ],
        [{"jsonrpc": "2.0", "id": 1, "result": "0x1"}],
    ],
    ids=["an-id-missing", "an-id-twice", "one-answer-short"],
)
def test_a_batch_whose_answers_cannot_be_matched_to_its_requests_answers_none(
    responses: list[dict[str, Any]],
) -> None:
    calls: list[rpc.Call] = [("eth_chainId", []), ("eth_blockNumber", [])]
    node: Any = _Node(responses)
    assert rpc.batch(node, calls) == [None, None]

    matched = [
        {"jsonrpc": "2.0", "id": 1, "result": "0x1"},
        {"jsonrpc": "2.0", "id": 2, "result": "0x2"},
    ]
    node = _Node(matched)
    assert rpc.batch(node, calls) == ["0x1", "0x2"]  # the same batch, its answers matched
