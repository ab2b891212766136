"""GET /healthz, /metrics, /openapi.json, and the audit trail of every decision."""

from __future__ import annotations

from .server_fixtures import ACCOUNT, Running, order


def test_healthz_reports_the_signer_policy_and_snapshot(server: Running) -> None:
    body = server.http.get("/healthz").json()
    assert body["status"] == "ok" and body["kill_switch_engaged"] is False
    assert body["policy_id"] == "example-desk/2026-11" and body["snapshot_id"] == 1042
    assert body["accounts"] == [ACCOUNT] and body["signer"].startswith("0x")
    assert body["price_age_seconds"] == 80  # oldest example price is LINK's, 80 s old


def test_metrics_count_checks_by_verdict_and_time_them(server: Running) -> None:
    server.check(order())
    server.check(order(client_order_id="o-2", counterparty="kraken"))
    response = server.http.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'zkrisk_api_checks_total{verdict="APPROVE"} 1.0' in text
    assert 'zkrisk_api_checks_total{verdict="REJECT"} 1.0' in text
    assert 'zkrisk_api_checks_total{verdict="FLAG_FOR_REVIEW"} 0.0' in text
    assert "zkrisk_api_check_seconds_count 2.0" in text
    assert "zkrisk_api_kill_switch_engaged 0.0" in text


def test_openapi_schema_documents_every_endpoint(server: Running) -> None:
    schema = server.http.get("/openapi.json").json()
    assert {"/v1/orders/check", "/v1/killswitch", "/healthz", "/metrics"} <= set(schema["paths"])
    assert {"CheckRequest", "CheckResponse", "SignedApproval", "OrderIntent"} <= set(
        schema["components"]["schemas"]
    )
    assert "HTTPBearer" in schema["components"]["securitySchemes"]


def test_every_decision_is_appended_to_the_audit_log_in_order(server: Running) -> None:
    ids = [
        server.check(order()).json()["decision_id"],
        server.check(order(client_order_id="o-2", counterparty="kraken")).json()["decision_id"],
        server.check(order(client_order_id="o-3", quantity="200")).json()["decision_id"],
    ]
    rows = server.service.audit.records("check")
    assert [r.seq for r in rows] == ids
    assert [(r.subject, r.outcome) for r in rows] == [
        ("o-1", "APPROVE"), ("o-2", "REJECT"), ("o-3", "FLAG_FOR_REVIEW"),
    ]  # fmt: skip
    assert '"client_order_id":"o-2"' in rows[1].request
    assert server.service.audit.verify() is None
