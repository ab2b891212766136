"""POST /v1/orders/check over real HTTP: verdicts, signed approvals, idempotency, fail closed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zkrisk.engine.api.auth import hash_key
from zkrisk.engine.api.config import ApiKeyConfig
from zkrisk.engine.api.schemas import CheckResponse
from zkrisk.engine.api.signer import recover_signer, verify_approval
from zkrisk.engine.risk.models import VerdictKind

from .server_fixtures import (
    ACCOUNT,
    API_KEY,
    NOW,
    Running,
    config_for,
    desk_folder,
    order,
    running_server,
)


def test_check_when_every_rule_passes_then_approves_with_a_signed_approval(
    server: Running,
) -> None:
    response = server.check(order())
    assert response.status_code == 200
    body = CheckResponse.model_validate(response.json())
    assert body.verdict.kind is VerdictKind.APPROVE and body.verdict.reasons == ()
    approval = body.approval
    assert approval is not None
    message = approval.message
    assert (message.account, message.client_order_id, message.symbol, message.side) == (
        ACCOUNT, "o-1", "WETH", 0,
    )  # fmt: skip
    assert message.quantity == 10 * 10**8 and message.limit_price == 3015 * 10**8
    assert message.snapshot_id == 1042 and message.policy_id == "example-desk/2026-11"
    assert message.expiry == NOW + 60 and message.nonce == body.decision_id


def test_approval_recovers_to_the_services_signing_address(server: Running) -> None:
    approval = CheckResponse.model_validate(server.check(order()).json()).approval
    assert approval is not None
    service_address = server.http.get("/healthz").json()["signer"]
    assert recover_signer(approval) == service_address == approval.signer
    domain = server.service.signer.domain
    assert verify_approval(approval, service_address, domain=domain, now=NOW)


@pytest.mark.parametrize(
    ("field", "value"),
    [("quantity", 10 * 10**8 + 1), ("limit_price", 1), ("side", 1), ("expiry", NOW + 3600),
     ("account", "0x" + "ab" * 20), ("nonce", 10**9), ("symbol", "WBTC")],
)  # fmt: skip
def test_approval_with_a_tampered_field_no_longer_verifies(
    server: Running, field: str, value: object
) -> None:
    approval = CheckResponse.model_validate(server.check(order()).json()).approval
    assert approval is not None
    forged = approval.model_copy(
        update={"message": approval.message.model_copy(update={field: value})}
    )
    assert recover_signer(forged) != approval.signer
    assert not verify_approval(forged, approval.signer)


def test_approval_under_another_chain_id_no_longer_verifies(server: Running) -> None:
    approval = CheckResponse.model_validate(server.check(order()).json()).approval
    assert approval is not None
    moved = approval.model_copy(
        update={"domain": approval.domain.model_copy(update={"chain_id": 1})}
    )
    assert not verify_approval(moved, approval.signer)


def test_check_when_rules_fail_then_rejects_with_every_reason_and_no_approval(
    server: Running,
) -> None:
    bad = order(symbol="WBTC", quantity="60", limit_price="95000", counterparty="kraken")
    body = server.check(bad).json()
    assert body["verdict"]["kind"] == "REJECT" and body["approval"] is None
    codes = [r["code"] for r in body["verdict"]["reasons"]]
    assert codes[:4] == ["COUNTERPARTY_NOT_ALLOWED", "SLIPPAGE", "MAX_ORDER_NOTIONAL", "POSITION_LIMIT"]  # fmt: skip
    assert all(r["message"] for r in body["verdict"]["reasons"])


def test_check_when_only_review_rules_trip_then_flags_without_approval(server: Running) -> None:
    body = server.check(order(quantity="200")).json()  # $603k notional > $500k review level
    assert body["verdict"]["kind"] == "FLAG_FOR_REVIEW"
    assert [r["code"] for r in body["verdict"]["reasons"]] == ["REVIEW_ORDER_NOTIONAL"]
    assert body["approval"] is None


def test_json_numbers_with_a_fraction_are_read_exactly(server: Running) -> None:
    raw = json.dumps({"order": order(quantity=10.12345678, limit_price=3015.5)})
    response = server.http.post("/v1/orders/check", content=raw,
                                headers={"content-type": "application/json", "X-API-Key": API_KEY})  # fmt: skip
    message = response.json()["approval"]["message"]
    assert message["quantity"] == "1012345678" and message["limitPrice"] == "301550000000"


def test_malformed_order_is_refused_with_422_and_never_approved(server: Running) -> None:
    response = server.check(order(quantity="-1", side="HOLD"))
    assert response.status_code == 422
    assert "approval" not in response.json()


def test_check_for_an_account_without_a_book_rejects(server: Running) -> None:
    body = server.check(order(), account="0x" + "99" * 20).json()
    assert body["verdict"]["kind"] == "REJECT"
    assert [r["code"] for r in body["verdict"]["reasons"]] == ["UNKNOWN_ACCOUNT"]


def test_retry_with_the_same_client_order_id_returns_the_original_bytes(server: Running) -> None:
    first = server.check(order())
    again = server.check(order())
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    rows = server.service.audit.records("check")
    assert [r.response for r in rows] == [first.text, first.text]


def test_same_client_order_id_for_a_different_order_is_refused_with_409(server: Running) -> None:
    first = server.check(order()).json()
    response = server.check(order(quantity="11"))
    assert response.status_code == 409
    body = response.json()
    assert body["verdict"]["kind"] == "REJECT" and body["approval"] is None
    (reason,) = body["verdict"]["reasons"]
    assert reason["code"] == "DUPLICATE_CLIENT_ORDER_ID"
    assert (
        f"'o-1' was already approved for a different order (decision {first['decision_id']})"
        in (reason["message"])
    )


def test_a_key_limited_to_other_books_is_refused_with_403(tmp_path: Path) -> None:
    key = ApiKeyConfig(name="desk-b", sha256=hash_key(API_KEY), accounts=("0x" + "99" * 20,))
    with running_server(config_for(desk_folder(tmp_path), api_keys=(key,))) as server:
        response = server.check(order())
    assert response.status_code == 403
    (reason,) = response.json()["verdict"]["reasons"]
    assert reason["code"] == "ACCOUNT_NOT_PERMITTED" and "'desk-b'" in reason["message"]


def test_rate_limit_counts_the_services_own_approvals(tmp_path: Path) -> None:
    folder = desk_folder(tmp_path, {"max_orders_per_window = 20": "max_orders_per_window = 2"})
    with running_server(config_for(folder)) as server:
        kinds = [server.check(order(client_order_id=f"o-{i}")).json()["verdict"] for i in range(3)]
    assert [v["kind"] for v in kinds] == ["APPROVE", "APPROVE", "REJECT"]
    assert kinds[2]["reasons"][0]["code"] == "RATE_LIMIT"


def test_internal_error_fails_closed_with_reject(
    server: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("engine exploded")

    monkeypatch.setattr(server.service.engine, "check", broken)
    response = server.check(order())
    assert response.status_code == 500
    body = response.json()
    assert body["verdict"]["kind"] == "REJECT" and body["approval"] is None
    assert body["verdict"]["reasons"][0]["code"] == "INTERNAL_ERROR"
    (row,) = server.service.audit.records("check")
    assert row.outcome == "REJECT"


def test_signing_failure_fails_closed_with_reject(
    server: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> None:
        raise OSError("HSM unreachable")

    monkeypatch.setattr(server.service.signer, "sign", broken)
    body = server.check(order()).json()
    assert body["verdict"]["kind"] == "REJECT" and body["approval"] is None


def test_approval_is_withheld_when_the_audit_log_cannot_record_it(
    server: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kw: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(server.service.audit, "append", broken)
    response = server.check(order())
    assert response.status_code == 500
    assert response.json()["approval"] is None
    assert response.json()["verdict"]["kind"] == "REJECT"


def test_changed_prices_file_is_picked_up_and_stale_prices_reject(tmp_path: Path) -> None:
    folder = desk_folder(tmp_path)
    with running_server(config_for(folder, reload_interval_seconds=0)) as server:
        assert server.check(order()).json()["verdict"]["kind"] == "APPROVE"
        prices = folder / "prices.toml"
        prices.write_text(
            prices.read_text().replace("timestamp = 17951831", "timestamp = 17951731")
        )
        body = server.check(order(client_order_id="o-2")).json()
    assert body["verdict"]["kind"] == "REJECT"
    assert "PRICE_STALE" in [r["code"] for r in body["verdict"]["reasons"]]


def test_broken_prices_file_keeps_the_last_good_snapshot_and_counts_the_error(
    tmp_path: Path,
) -> None:
    folder = desk_folder(tmp_path)
    with running_server(config_for(folder, reload_interval_seconds=0)) as server:
        (folder / "prices.toml").write_text("snapshot_id = [")
        body = server.check(order()).json()
        metrics = server.http.get("/metrics").text
    assert body["verdict"]["kind"] == "APPROVE"
    assert 'zkrisk_api_reload_errors_total{file="prices.toml"} 1.0' in metrics
