"""The HTTP surface of the risk service (FastAPI); `create_app` wires a `RiskService` to routes.

Every request passes the `Guard` (body size, metrics); JSON bodies are read by `wire.read_json`
(bounded depth and numbers, NaN refused: 422 naming the field); order checks need an API key,
checked before the body is parsed; the kill switch keeps its own bearer token.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Annotated, Any, get_args

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..risk.models import OrderIntent
from .auth import Client, presented_key
from .config import DashboardConfig
from .dashboard import Dashboard, mount_dashboard
from .guard import Guard
from .killswitch import token_matches
from .schemas import (
    CheckRequest,
    CheckResponse,
    Health,
    KillSwitchRequest,
    KillSwitchStatus,
    Problem,
)
from .service import RiskService
from .wire import WireError, read_json, restore_recursion_limit

log = logging.getLogger("zkrisk.api")
_bearer = HTTPBearer(auto_error=False, description="The kill-switch token.")
# Documented in the schema; the key itself is checked by the route before the body is read.
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKey",
                        description="An API key from the service config's api_keys.")  # fmt: skip
_api_key_bearer = HTTPBearer(auto_error=False, scheme_name="ApiKeyBearer",
                             description="The same API key as 'Authorization: Bearer <key>'.")  # fmt: skip
_CLIENT = "zkrisk.client"


# Order fields whose strings are read as Decimals: bounded like number literals.
def _holds_decimal(annotation: Any) -> bool:
    """Decimal, or Decimal inside Annotated / Optional / a union."""
    return annotation is Decimal or any(_holds_decimal(a) for a in get_args(annotation))


DECIMAL_FIELDS = tuple(
    ("order", name) for name, info in OrderIntent.model_fields.items()
    if _holds_decimal(info.annotation)
)  # fmt: skip

# Fail closed even if the service's own fail-closed path breaks: a fixed REJECT body.
_LAST_RESORT = json.dumps(
    {"decision_id": 0, "approval": None,
     "verdict": {"kind": "REJECT", "client_order_id": "", "policy_id": "",
                 "reasons": [{"code": "INTERNAL_ERROR", "blocking": True,
                              "message": "The risk service failed internally; failing closed."}],
                 "post_trade_health_factor_bps": None, "post_trade_var_usd": None}}
)  # fmt: skip


def api_client(
    request: Request,
    _key: Annotated[str | None, Depends(_api_key)],
    _bearer_key: Annotated[HTTPAuthorizationCredentials | None, Depends(_api_key_bearer)],
) -> Client:
    """The client whose API key the route checked (the parameters document the schemes)."""
    client: Client = request.scope[_CLIENT]  # set by SafeRoute, which refused a bad key
    return client


def _unauthorized(detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=401,
                        headers={"WWW-Authenticate": "Bearer"})  # fmt: skip


def create_app(service: RiskService, dashboard: DashboardConfig | None = None) -> FastAPI:
    """The FastAPI app over `service` (closed when the app shuts down), behind its `Guard`; the
    dashboard at `/` shows the run `dashboard` names (without one, the service's own panels)."""
    board = Dashboard(service, dashboard)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        restore_recursion_limit()
        try:
            async with board.running():
                yield
        finally:
            service.close()

    app = FastAPI(
        title="zkrisk risk service",
        version="1",
        summary="Pre-trade checks with EIP-712 signed approvals, a kill switch and an audit log.",
        lifespan=lifespan,
        docs_url=None,  # served by mount_dashboard from local files (FastAPI's loads a CDN)
        redoc_url=None,  # ReDoc has no offline build here; /docs is the interactive reference
    )
    app.state.dashboard = board

    class SafeJSONRequest(Request):
        """Reads JSON with `wire.read_json`: unsafe bodies become a 422 naming the field."""

        async def json(self) -> Any:
            if not hasattr(self, "_json"):
                try:
                    self._json = read_json(await self.body(), max_depth=service.max_json_depth,
                                           decimal_fields=DECIMAL_FIELDS)  # fmt: skip
                except WireError as exc:
                    raise HTTPException(status_code=422, detail=[
                        {"type": p.kind, "loc": ["body", *p.loc], "msg": p.message,
                         "input": p.literal[:64]} for p in exc.problems]) from None  # fmt: skip
            return self._json

    class SafeRoute(APIRoute):
        """Safe JSON for every route; an API key, checked first, on the routes that need one."""

        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()
            needs_key = self.path == "/v1/orders/check"

            async def safe_handler(request: Request) -> Response:
                if needs_key:
                    headers = request.headers
                    key = presented_key(headers.get("x-api-key"), headers.get("authorization"))
                    client = service.keys.match(key)
                    if client is None:
                        service.metrics.auth_failures.inc()
                        return _unauthorized("missing or unknown API key: send it as "
                                             "'X-API-Key: <key>' or 'Authorization: Bearer <key>'")  # fmt: skip
                    request.scope[_CLIENT] = client
                return await handler(SafeJSONRequest(request.scope, request.receive))

            return safe_handler

    app.router.route_class = SafeRoute

    def require_token(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        presented = None if credentials is None else credentials.credentials
        if not token_matches(presented, service.kill_switch_token):
            service.metrics.auth_failures.inc()
            raise HTTPException(
                status_code=401,
                detail="missing or wrong bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )

    @app.post(
        "/v1/orders/check",
        response_model=CheckResponse,
        responses={
            401: {"model": Problem, "description": "Missing or unknown API key"},
            403: {"model": CheckResponse, "description": "REJECT: the key may not use this book"},
            409: {
                "model": CheckResponse,
                "description": "REJECT: the client order id was approved for another order",
            },
            413: {"model": Problem, "description": "Request body too large"},
            500: {"model": CheckResponse, "description": "Internal error: REJECT"},
        },
        summary="Check an order; an APPROVE carries an EIP-712 signed approval",
    )
    async def check_order(
        body: CheckRequest, client: Annotated[Client, Depends(api_client)]
    ) -> Response:
        # Runs on the event loop on purpose: a check is CPU-bound and sub-millisecond, and one
        # thread keeps the service's state (kill switch, rate windows, audit order) race-free.
        try:
            decision = service.check(body, client)
            return Response(decision.body, status_code=decision.status,
                            headers=decision.headers, media_type="application/json")  # fmt: skip
        except Exception:
            log.exception("check route failed: answering REJECT")
            return Response(_LAST_RESORT, status_code=500, media_type="application/json")

    @app.post(
        "/v1/killswitch",
        response_model=KillSwitchStatus,
        responses={
            401: {"model": Problem, "description": "Missing or wrong bearer token"},
            413: {"model": Problem, "description": "Request body too large"},
        },
        dependencies=[Depends(require_token)],
        summary="Engage (halt every approval at once) or release the kill switch",
    )
    async def kill_switch(body: KillSwitchRequest | None = None) -> KillSwitchStatus:
        return service.set_kill_switch(body or KillSwitchRequest(), actor="bearer-token")

    @app.get("/v1/killswitch", response_model=KillSwitchStatus, summary="Kill switch state")
    async def kill_switch_state() -> KillSwitchStatus:
        return service.kill_switch_status()

    @app.get("/healthz", response_model=Health, summary="Liveness and what the service runs")
    async def healthz() -> Health:
        return service.health()

    @app.get("/metrics", summary="Prometheus metrics (text format)", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    mount_dashboard(app, board)
    app.add_middleware(Guard, metrics=service.metrics, max_body_bytes=service.max_body_bytes)
    return app
