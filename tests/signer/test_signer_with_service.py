"""The signer beside a real risk service (uvicorn on loopback): an order checked together with
its transaction gets an approval the signer signs; the service's kill switch, or no answer from
the service, halts the signer. The signer runs in-process here, on the service's replayed clock
(the example snapshot's time); `test_signer_process.py` runs it as its own process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from tests.api.server_fixtures import NOW, Running, config_for, desk_folder, order, running_server
from zkrisk.engine.api.config import SigningConfig
from zkrisk.engine.signer.checks import Refusal, SignRequest
from zkrisk.engine.signer.halt import HaltSource
from zkrisk.engine.signer.policy import SignerPolicy
from zkrisk.engine.signer.server import SignedTransaction, Signer

from .support import FAKE_VENUE, SERVICE_KEY, TRADER, TRADER_KEY, swap_data, transaction

V = FAKE_VENUE
# BUY 10 WETH for at most 10 · 3015 USDC: the example order, as a router swap.
DATA = swap_data(V, side="BUY", exact=10 * 10**18, bound=30_150 * 10**6, deadline=NOW + 300)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Running]:
    folder = desk_folder(tmp_path, {'"uniswap-v3"]': '"uniswap-v3", "uniswap"]'})
    with running_server(config_for(folder, trader_wallets=(TRADER,))) as running:
        yield running


@contextmanager
def signer_for(service_url: str, folder: Path) -> Iterator[Signer]:
    policy = SignerPolicy(approver=Account.from_key(SERVICE_KEY).address,
                          approval_domain=SigningConfig(), wallets=(TRADER,),
                          uniswap_addresses=folder / "unused.json", nonce_db=folder / "n.sqlite",
                          risk_service_url=service_url)  # fmt: skip
    signer = Signer(policy, V, {TRADER.lower(): bytes.fromhex(TRADER_KEY[2:])},
                    HaltSource(None, service_url), clock=lambda: float(NOW))  # fmt: skip
    try:
        yield signer
    finally:
        signer.close()


def approved(service: Running, coid: str, data: str = DATA) -> dict[str, Any]:
    tx = {"wallet": TRADER, "to": V.router, "value": 0, "data": data}
    response = service.check(order(client_order_id=coid, counterparty="uniswap"), transaction=tx)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def sign(signer: Signer, approval: dict[str, Any], nonce: int = 0) -> SignedTransaction | Refusal:
    return signer.sign(SignRequest.model_validate(
        {"approval": approval, "transaction": transaction(V, DATA, nonce=nonce)}))  # fmt: skip


def test_an_order_checked_with_its_transaction_gets_an_approval_the_signer_signs(
    service: Running, tmp_path: Path
) -> None:
    body = approved(service, "s-1")
    assert body["verdict"]["kind"] == "APPROVE"
    message = body["approval"]["message"]
    assert (message["wallet"], message["target"]) == (TRADER, V.router)
    with signer_for(service.url, tmp_path) as signer:
        assert isinstance(sign(signer, body["approval"]), SignedTransaction)


def test_the_services_kill_switch_halts_the_signer_until_released(
    service: Running, tmp_path: Path
) -> None:
    approval = approved(service, "s-2")["approval"]
    with signer_for(service.url, tmp_path) as signer:
        assert service.kill(reason="drill").status_code == 200
        refused = sign(signer, approval)
        assert isinstance(refused, Refusal) and refused.code == "HALTED"
        assert "kill switch" in refused.detail
        assert service.kill(engaged=False).status_code == 200
        assert isinstance(sign(signer, approval), SignedTransaction)


def test_a_risk_service_that_does_not_answer_halts_the_signer(tmp_path: Path) -> None:
    with signer_for("http://127.0.0.1:9", tmp_path) as signer:  # discard port: nobody listens
        reason = signer.halt.reason()
    assert reason is not None and "failing closed" in reason


def test_one_client_order_id_cannot_be_approved_for_two_transactions(service: Running) -> None:
    assert approved(service, "s-3")["verdict"]["kind"] == "APPROVE"
    tx = {"wallet": TRADER, "to": V.router, "data": swap_data(V, side="BUY", bound=1)}
    other = service.check(order(client_order_id="s-3", counterparty="uniswap"), transaction=tx)
    assert other.status_code == 409 and other.json()["approval"] is None
    assert [r["code"] for r in other.json()["verdict"]["reasons"]] == ["DUPLICATE_CLIENT_ORDER_ID"]


def test_a_transaction_from_a_wallet_not_on_the_services_list_is_refused_with_the_reason(
    service: Running,
) -> None:
    tx = {"wallet": "0x" + "77" * 20, "to": V.router, "data": DATA}
    response = service.check(order(client_order_id="s-4", counterparty="uniswap"), transaction=tx)
    body = response.json()
    assert body["verdict"]["kind"] == "REJECT" and body["approval"] is None
    assert [r["code"] for r in body["verdict"]["reasons"]] == ["WALLET_NOT_ALLOWED"]
    assert "trader_wallets" in body["verdict"]["reasons"][0]["message"]
