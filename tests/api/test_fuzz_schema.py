"""Schemathesis fuzzes every operation of the OpenAPI schema against a real uvicorn server (with a
valid API key and kill-switch token): no 5xx, every status, header and body as documented.

One check is off: `positive_data_acceptance` expects every schema-valid order to be accepted,
but an order's cross-field rules (a LIMIT order needs limit_price; at most 8 decimals; each
amount's fixed-point range) are not expressible in JSON Schema and are refused with 422."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from .server_fixtures import API_KEY, TOKEN, config_for, desk_folder, running_server


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    folder = desk_folder(tmp_path_factory.mktemp("fuzz"))
    with running_server(config_for(folder, log_level="error")) as server:
        yield schemathesis.openapi.from_url(f"{server.url}/openapi.json")


OPERATIONS = [("/v1/orders/check", "POST"), ("/v1/killswitch", "POST"),
              ("/v1/killswitch", "GET"), ("/healthz", "GET"), ("/metrics", "GET")]  # fmt: skip
# The API key goes in X-API-Key; the bearer slot carries the kill-switch token.
HEADERS = {"X-API-Key": API_KEY, "Authorization": f"Bearer {TOKEN}"}


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_no_generated_request_gets_a_server_error_or_an_undocumented_answer(
    api_schema: Any, path: str, method: str
) -> None:
    @given(case=api_schema[path][method].as_strategy())
    @settings(max_examples=50, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def fuzz(case: Any) -> None:
        case.call_and_validate(headers=HEADERS, excluded_checks=[positive_data_acceptance])

    fuzz()
