"""The HTTP surface of the risk service (FastAPI); `create_app` wires a `RiskService` to routes."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

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

log = logging.getLogger("zkrisk.api")
_bearer = HTTPBearer(auto_error=False, description="The kill-switch token.")

# Fail closed even if the service's own fail-closed path breaks: a fixed REJECT body.
_LAST_RESORT = json.dumps(
    {"decision_id": 0, "approval": None, "replayed": False,
     "verdict": {"kind": "REJECT", "client_order_id": "", "policy_id": "",
                 "reasons": [{"code": "INTERNAL_ERROR", "blocking": True,
                              "message": "The risk service failed internally; failing closed."}],
                 "post_trade_health_factor_bps": None, "post_trade_var_usd": None}}
)  # fmt: skip


class _DecimalJSONRequest(Request):
    """Parses JSON numbers with a fraction as exact Decimals (the models refuse binary floats)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body(), parse_float=Decimal)
        return self._json


class _DecimalRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def decimal_handler(request: Request) -> Response:
            return await handler(_DecimalJSONRequest(request.scope, request.receive))

        return decimal_handler


def create_app(service: RiskService) -> FastAPI:
    """The FastAPI app over `service` (closed when the app shuts down)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            service.close()

    app = FastAPI(
        title="zkrisk risk service",
        version="1",
        summary="Pre-trade checks with EIP-712 signed approvals, a kill switch and an audit log.",
        lifespan=lifespan,
    )
    app.router.route_class = _DecimalRoute

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
        responses={500: {"model": CheckResponse, "description": "Internal error: REJECT"}},
        summary="Check an order; an APPROVE carries an EIP-712 signed approval",
    )
    async def check_order(body: CheckRequest) -> Response:
        # Runs on the event loop on purpose: a check is CPU-bound and sub-millisecond, and one
        # thread keeps the service's state (kill switch, rate windows, audit order) race-free.
        try:
            decision = service.check(body)
            return Response(
                decision.body, status_code=decision.status, media_type="application/json"
            )
        except Exception:
            log.exception("check route failed: answering REJECT")
            return Response(_LAST_RESORT, status_code=500, media_type="application/json")

    @app.post(
        "/v1/killswitch",
        response_model=KillSwitchStatus,
        responses={401: {"model": Problem, "description": "Missing or wrong bearer token"}},
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

    return app
