"""The outermost ASGI layer: a bounded request body, and every answer counted and timed.

Pure ASGI (no BaseHTTPMiddleware: that costs a task and a copy per request). A body larger
than the limit is refused with 413 before it is read (Content-Length) or as soon as the
streamed bytes pass it (chunked). Labels are bounded: the route is the matched route's
template or 'unmatched', the method one of the HTTP verbs or 'other', so a fuzzer cannot
grow the metric series.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import HTTPException

from .metrics import ApiMetrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _too_large(limit: int) -> str:
    return f"request body over {limit} bytes; a check request needs well under 1 kB"


class BodyTooLarge(HTTPException):
    """The streamed body passed the limit (raised from `receive`; FastAPI answers 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=_too_large(limit))


class Guard:
    """Wraps the app: `max_body_bytes` per request, metrics of every HTTP answer."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.limit = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what is counted if the app dies before answering
        answered = False

        async def counting_send(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = int(message["status"]), True
            await send(message)

        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        try:
            if self._declared_length(scope) > self.limit:
                await self._refuse(counting_send)
            else:
                await self.app(scope, bounded_receive, counting_send)
        except BodyTooLarge:
            if not answered:
                await self._refuse(counting_send)
        finally:
            self._count(scope, status, time.perf_counter() - started)

    @staticmethod
    def _declared_length(scope: Scope) -> int:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return 0  # the server (h11 / httptools) refuses such a request itself
        return 0

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": _too_large(self.limit)}).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})

    def _count(self, scope: Scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        method = scope["method"] if scope["method"] in _METHODS else "other"
        self.metrics.requests.labels(route=route, method=method, status=str(status)).inc()
        self.metrics.request_seconds.labels(route=route, method=method).observe(seconds)
