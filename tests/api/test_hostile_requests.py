"""Hostile input against a real `zkrisk serve` process: nothing a client sends may hang it,
crash it, or cost more than a normal check; every answer is a counted, explained 4xx."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from zkrisk.engine.api.config import Secrets
from zkrisk.engine.api.server import build_server
from zkrisk.engine.api.wire import RECURSION_LIMIT

from .server_fixtures import (
    API_KEY,
    AUTH_TOML,
    SIGNER_KEY,
    TOKEN,
    Process,
    config_for,
    desk_folder,
    order,
    serve_process,
)

ORDER_HEAD = ('{"order": {"client_order_id": "h-1", "symbol": "WETH", "side": "BUY", '
              '"limit_price": "3015", "counterparty": "binance", "quantity": ')  # fmt: skip


def with_quantity(literal: str) -> str:
    """A ~150-byte check request whose quantity is `literal`, verbatim."""
    return ORDER_HEAD + literal + "}}"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    """One real service process shared by the attacks that cannot take it down."""
    with serve_process(desk_folder(tmp_path_factory.mktemp("hostile")), AUTH_TOML) as running:
        yield running


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "literal", ["1e999999999", "-1e999999999", "1e-999999999", '"1e999999999"', '"1e-999999999"']
)
def test_a_huge_exponent_is_refused_at_once_and_the_service_keeps_answering(
    tmp_path: Path, literal: str
) -> None:
    with serve_process(desk_folder(tmp_path), AUTH_TOML) as running:
        started = time.monotonic()
        response = running.post_raw(with_quantity(literal))
        assert time.monotonic() - started < 1
        assert response.status_code == 422
        (problem,) = response.json()["detail"]
        assert problem["loc"] == ["body", "order", "quantity"]
        assert "exponent" in problem["msg"]
        assert running.alive()


@pytest.mark.timeout(60)
def test_a_1e100000_quantity_costs_no_more_than_a_normal_check(service: Process) -> None:
    times = []
    for _ in range(5):
        started = time.perf_counter()
        assert service.post_raw(with_quantity("1e100000")).status_code == 422
        times.append(time.perf_counter() - started)
    assert statistics.median(times) < 0.05


def nested(opener: str, depth: int) -> str:
    closer = "]" if opener == "[" else "}"
    return '{"order": ' + opener * depth + "1" + closer * depth + "}"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_json_nested_100000_deep_is_refused_and_the_process_survives(
    tmp_path: Path, opener: str
) -> None:
    # A body limit large enough to let the 200 kB document reach the parser.
    big_bodies = "max_body_bytes = 1048576\n" + AUTH_TOML
    with serve_process(desk_folder(tmp_path), big_bodies) as running:
        response = running.post_raw(nested(opener, 100_000))
        assert response.status_code == 422
        assert "nested deeper than 8" in response.json()["detail"][0]["msg"]
        assert running.alive()


@pytest.mark.timeout(30)
def test_json_nested_100000_deep_is_refused_by_size_under_the_default_limit(
    service: Process,
) -> None:
    assert service.post_raw(nested("[", 100_000)).status_code == 413
    assert service.alive()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_literals_get_a_422_that_names_the_field(service: Process, literal: str) -> None:
    response = service.post_raw(with_quantity(literal))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["body", "order", "quantity"]
    assert literal in problem["msg"] and "finite" in problem["msg"]


@pytest.mark.timeout(30)
def test_a_1_mb_request_is_refused_with_413_and_never_reaches_the_audit_log(
    service: Process,
) -> None:
    audit = _audit_path(service)
    before = _audit_bytes(audit)
    response = service.check(order(client_order_id="big", counterparty="x" * 1_000_000))
    assert response.status_code == 413
    assert "bytes" in response.json()["detail"]
    assert _audit_bytes(audit) - before < 10_000
    assert service.alive()


@pytest.mark.timeout(30)
def test_a_chunked_body_is_cut_off_with_413_once_it_passes_the_limit(service: Process) -> None:
    def chunks() -> Iterator[bytes]:
        yield with_quantity('"1"').encode()[:-2] + b', "strategy_id": "'
        for _ in range(100):
            yield b"x" * 10_000

    response = service.http.post("/v1/orders/check", content=chunks(),
                                 headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code == 413
    assert "16384 bytes" in response.json()["detail"]
    assert service.alive()


def _audit_path(service: Process) -> Path:
    args = service.proc.args
    assert isinstance(args, list)
    return Path(args[args.index("--config") + 1]).parent / "audit.sqlite"


def _audit_bytes(audit: Path) -> int:
    return sum(p.stat().st_size for p in audit.parent.glob(audit.name + "*"))


@pytest.mark.timeout(30)
def test_every_answer_is_counted_by_route_method_and_status(service: Process) -> None:
    service.post_raw(with_quantity("NaN"))
    service.http.post("/v1/orders/check", json={"order": order()}, headers={"X-API-Key": "no"})
    service.check(order(client_order_id="m-1"))
    text = service.http.get("/metrics").text
    line = 'zkrisk_http_requests_total{{method="POST",route="/v1/orders/check",status="{}"}}'
    for status in ("200", "401", "422"):
        assert line.format(status) in text
    assert (
        'zkrisk_http_request_duration_seconds_count{method="POST",route="/v1/orders/check"}' in text
    )
    service.http.get("/no/such/path")
    assert 'route="unmatched",status="404"' in service.http.get("/metrics").text


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "headers",
    [{}, {"X-API-Key": "wrong-key-wrong-key-wrong-key"}, {"Authorization": f"Bearer {TOKEN}"},
     {"X-API-Key": API_KEY[:-1]}, {"Authorization": f"Basic {API_KEY}"}],
)  # fmt: skip
def test_an_order_check_without_a_valid_api_key_is_refused_with_401(
    service: Process, headers: dict[str, str]
) -> None:
    with service.http.stream("POST", "/v1/orders/check", json={"order": order()},
                             headers={"X-API-Key": "", **headers}) as response:  # fmt: skip
        response.read()
    assert response.status_code == 401
    assert "API key" in response.json()["detail"]


@pytest.mark.timeout(30)
def test_the_api_key_works_as_a_bearer_token_and_cannot_engage_the_kill_switch(
    service: Process,
) -> None:
    bearer = {"X-API-Key": "", "Authorization": f"Bearer {API_KEY}"}
    body = {"order": order(client_order_id="b-1")}
    response = service.http.post("/v1/orders/check", json=body, headers=bearer)
    assert response.status_code == 200 and response.json()["verdict"]["kind"] == "APPROVE"
    assert service.http.post("/v1/killswitch", headers=bearer).status_code == 401


def test_building_the_server_restores_the_recursion_limit_that_py_ecc_raised(
    tmp_path: Path,
) -> None:
    import py_ecc  # noqa: F401  (its import set the limit to 100,000 in this process too)

    before = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)
    try:
        _server, service = build_server(
            config_for(desk_folder(tmp_path)), Secrets(SIGNER_KEY, TOKEN)
        )
        service.close()
        assert sys.getrecursionlimit() == RECURSION_LIMIT
    finally:
        sys.setrecursionlimit(before)


@pytest.mark.timeout(30)
def test_a_huge_exponent_in_a_limit_price_string_is_refused_too(service: Process) -> None:
    body = with_quantity('"1"').replace('"limit_price": "3015"', '"limit_price": "1e-999999999"')
    response = service.post_raw(body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "order", "limit_price"]
