"""A real `zkrisk signer serve` process: what it refuses (with the reason), what it signs, and
that a nonce signs once, across restarts and a SIGKILL between signing and replying."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account

from zkrisk.engine.chain.anvil import AnvilNode
from zkrisk.engine.chain.client import ChainClient
from zkrisk.engine.chain.uniswap_deploy import deploy_uniswap
from zkrisk.engine.signer.checks import Refusal, SignRequest, UnsignedTransaction
from zkrisk.engine.signer.halt import HaltSource
from zkrisk.engine.signer.policy import load_signer_policy
from zkrisk.engine.signer.server import SignedTransaction, Signer

from .support import (
    FAKE_VENUE,
    NOW,
    TRADER,
    TRADER_KEY,
    SignerProcess,
    approve,
    request,
    signer_process,
    swap_data,
    transaction,
    write_setup,
)

V = FAKE_VENUE
DATA = swap_data(V, deadline=NOW + 3600)
"""Built once at import: its deadline must stay inside the signer's window (write_setup:
max_deadline_seconds 2 h) however late in the run the tests come."""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("signer")
    write_setup(path, V, max_gas=400_000)
    return path


@pytest.fixture(scope="module")
def signer(folder: Path) -> Iterator[SignerProcess]:
    with signer_process(folder) as running:
        yield running


_nonce = iter(range(1_000, 10_000))


def refusal(signer: SignerProcess, body: dict[str, Any]) -> str:
    response = signer.sign(body)
    assert response.status_code == 403, response.text
    return str(response.json()["refused"])


def test_an_approved_transaction_is_signed_as_exactly_that_transaction(
    signer: SignerProcess,
) -> None:
    tx = transaction(V, DATA)
    response = signer.sign(request(approve(V, DATA, nonce=next(_nonce)), tx))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["replayed"] is False and body["wallet"] == TRADER
    expected = Account.sign_transaction(
        UnsignedTransaction.model_validate(tx).for_signing(), TRADER_KEY
    )
    assert body["raw_transaction"] == "0x" + bytes(expected.raw_transaction).hex()


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("unapproved", "NO_TRANSACTION_APPROVED"),
        ("calldata", "CALLDATA_NOT_APPROVED"),
        ("amount", "WRONG_AMOUNT"),
        ("min_out", "WRONG_MIN_OUT"),
        ("target", "WRONG_TARGET"),
        ("chain", "WRONG_CHAIN"),
        ("gas", "GAS_LIMIT"),
        ("expired", "EXPIRED"),
        ("other_key", "NOT_APPROVER"),
        ("wallet", "WALLET_NOT_ALLOWED"),
        ("recipient", "WRONG_RECIPIENT"),
        ("deadline", "WRONG_DEADLINE"),
        ("value", "WRONG_VALUE"),
    ],
)
def test_a_transaction_its_approval_does_not_cover_is_refused_with_the_reason(
    signer: SignerProcess, case: str, code: str
) -> None:
    n = next(_nonce)
    approval, tx = approve(V, DATA, nonce=n), transaction(V, DATA)
    other = "0x" + "77" * 20
    if case == "unapproved":
        approval = approve(V, DATA, nonce=n, covered=False)
    elif case == "calldata":
        tx = transaction(V, swap_data(V, bound=500_001))
    elif case in ("amount", "min_out", "recipient", "deadline"):
        data = {"amount": swap_data(V, exact=6 * 10**17), "min_out": swap_data(V, bound=499_999),
                "recipient": swap_data(V, to=other),
                "deadline": swap_data(V, deadline=NOW + 3 * 3600)}[case]  # fmt: skip
        approval, tx = (
            approve(V, data, nonce=n),
            transaction(V, data),
        )  # approved, but not the order
    elif case == "target":
        tx = transaction(V, DATA, to=other)
    elif case == "chain":
        tx = transaction(V, DATA, chainId=1)
    elif case == "gas":
        tx = transaction(V, DATA, gas=400_001)
    elif case == "expired":
        approval = approve(V, DATA, nonce=n, expiry=NOW - 1)
    elif case == "other_key":
        approval = approve(V, DATA, nonce=n, key="0x" + "6f" * 32)
    elif case == "wallet":
        approval = approve(V, DATA, nonce=n, wallet=other)
    elif case == "value":
        tx = transaction(V, DATA, value=1)
    assert refusal(signer, request(approval, tx)) == code


def test_a_replayed_approval_is_refused_also_after_a_restart(folder: Path) -> None:
    n = next(_nonce)
    first, second = transaction(V, DATA), transaction(V, DATA, nonce=1)
    with signer_process(folder) as running:
        assert running.sign(request(approve(V, DATA, nonce=n), first)).status_code == 200
        assert refusal(running, request(approve(V, DATA, nonce=n), second)) == "REPLAYED"
    with signer_process(folder) as restarted:
        assert refusal(restarted, request(approve(V, DATA, nonce=n), second)) == "REPLAYED"


def test_every_request_while_halted_is_refused(signer: SignerProcess, folder: Path) -> None:
    (folder / "HALTED").touch()
    try:
        body = request(approve(V, DATA, nonce=next(_nonce)), transaction(V, DATA))
        assert refusal(signer, body) == "HALTED"
    finally:
        (folder / "HALTED").unlink()
    assert signer.sign(body).status_code == 200


def test_a_request_without_the_token_is_refused(signer: SignerProcess) -> None:
    body = request(approve(V, DATA, nonce=next(_nonce)), transaction(V, DATA))
    assert signer.sign(body, token="wrong-token-0123456789").status_code == 401


def test_a_wallet_over_its_rate_is_refused_also_after_a_restart(tmp_path: Path) -> None:
    config, _, _ = write_setup(tmp_path, V, rate_limit_count=2)

    def signer() -> Signer:  # in-process: the rate count is the nonce file's, as in the server
        policy, venue = load_signer_policy(config)
        keys = {TRADER.lower(): bytes.fromhex(TRADER_KEY[2:])}
        return Signer(policy, venue, keys, HaltSource(policy.halt_file, None))

    def sign(running: Signer, n: int) -> object:
        body = request(approve(V, DATA, nonce=n), transaction(V, DATA, nonce=n))
        return running.sign(SignRequest.model_validate(body))

    first = signer()
    assert all(isinstance(sign(first, n), SignedTransaction) for n in (1, 2))
    refused = sign(first, 3)
    assert isinstance(refused, Refusal) and refused.code == "RATE_LIMITED"
    first.close()
    restarted = signer()
    refused = sign(restarted, 4)
    restarted.close()
    assert isinstance(refused, Refusal) and refused.code == "RATE_LIMITED"


def test_a_sigkill_between_signing_and_replying_loses_nothing_and_signs_nothing_twice(
    tmp_path: Path,
) -> None:
    write_setup(tmp_path, V)
    tx = transaction(V, DATA)
    body = request(approve(V, DATA, nonce=5), tx)
    with signer_process(tmp_path, crash_at="signer.before_reply") as crashing:
        with pytest.raises(httpx.TransportError):  # the reply never comes
            crashing.sign(body)
        assert crashing.process.wait(timeout=10) == -9
    with signer_process(tmp_path) as restarted:
        retry = restarted.sign(body)  # the same request: the same bytes, nothing new signed
        assert retry.status_code == 200 and retry.json()["replayed"] is True
        expected = Account.sign_transaction(
            UnsignedTransaction.model_validate(tx).for_signing(), TRADER_KEY
        )
        assert retry.json()["tx_hash"] == "0x" + bytes(expected.hash).hex()
        other = request(approve(V, DATA, nonce=5), transaction(V, DATA, nonce=9))
        assert refusal(restarted, other) == "REPLAYED"


def test_an_approved_swap_signed_by_the_signer_mines_on_anvil(
    anvil_node: AnvilNode, tmp_path: Path
) -> None:
    from zkrisk.engine.chain.anvil import DEV_PRIVATE_KEYS

    uni = deploy_uniswap(ChainClient.connect(anvil_node.url, DEV_PRIVATE_KEYS[0]))
    venue = uni.addresses
    trader = ChainClient.connect(anvil_node.url, TRADER_KEY)
    uni.mint("WETH", TRADER, __import__("decimal").Decimal(1))
    weth = trader.w3.eth.contract(address=uni.tokens["WETH"].address, abi=uni.tokens["WETH"].abi)
    trader.transact(weth.functions.approve(uni.router.address, 2**256 - 1))
    w3 = trader.w3
    now = int(w3.eth.get_block("latest")["timestamp"])
    data = swap_data(venue, deadline=now + 300)
    write_setup(tmp_path, venue)
    tx = transaction(venue, data, nonce=w3.eth.get_transaction_count(TRADER),
                     maxFeePerGas=2 * int(w3.eth.get_block("latest")["baseFeePerGas"]) + 10**9)  # fmt: skip
    with signer_process(tmp_path) as running:
        response = running.sign(request(approve(venue, data, nonce=1), tx))
    assert response.status_code == 200, response.text
    tx_hash = w3.eth.send_raw_transaction(bytes.fromhex(response.json()["raw_transaction"][2:]))
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10)
    assert receipt["status"] == 1
    assert weth.functions.balanceOf(TRADER).call() == 5 * 10**17


def test_a_malformed_request_is_refused_naming_what_is_wrong(signer: SignerProcess) -> None:
    tx = transaction(V, DATA, to="not an address")
    response = signer.sign(request(approve(V, DATA, nonce=next(_nonce)), tx))
    assert response.status_code == 422
    assert any(line.startswith("transaction.to:") for line in response.json()["detail"])


def test_a_fee_bump_of_a_signed_transaction_is_signed_as_its_replacement_and_nothing_else(
    signer: SignerProcess,
) -> None:
    approval = approve(V, DATA, nonce=next(_nonce))
    first = signer.sign(request(approval, transaction(V, DATA)))
    assert first.status_code == 200 and first.json()["replacement"] is False
    bumped = transaction(V, DATA, maxFeePerGas=12 * 10**9, maxPriorityFeePerGas=2 * 10**9)
    replacement = signer.sign(request(approval, bumped))
    assert replacement.status_code == 200 and replacement.json()["replacement"] is True
    assert replacement.json()["tx_hash"] != first.json()["tx_hash"]
    for other in (transaction(V, DATA, gas=300_001), transaction(V, DATA, nonce=1)):
        assert refusal(signer, request(approval, other)) == "REPLAYED"
