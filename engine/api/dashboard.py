"""The live dashboard at `/`: one HTML page, its state as JSON, a server-sent event stream, and
a kill-switch button that needs the kill-switch token.

One background task (started with the app) keeps the state: every `refresh_ms` it folds what
the run's journal gained (in a worker thread: SQLite and the fold stay off the event loop) and,
when anything changed (or a second passed: heartbeat ages move), publishes a new state that
every open stream sends at once. A page is thus at most one tick plus a fold behind the journal.
Two optional outside sources are polled by their own tasks (dashboard_sources): the vault's
minimum health factor (every 30 s) and the keeper's proof latency and queue (every 2 s).

The button halts the *trading*: it appends the same `OperatorCommand` that `zkrisk killswitch
engage` appends to the run's journal (the runner's monitor moves to HALTED through its breaker
transition), and engages the service's own switch, so `/v1/orders/check` refuses too. Every
script and style is served from `static/` (uPlot and Swagger UI vendored from their pinned npm
packages by scripts/vendor_static.py): nothing is loaded from another host.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from ..journal.base import JournalError
from ..journal.sqlite import SQLiteJournal
from .config import DashboardConfig
from .dashboard_sources import (
    KEEPER_REFRESH_S,
    VAULT_REFRESH_S,
    KeeperProofs,
    Poller,
    VaultMinimum,
    keeper_metrics_reader,
    vault_minimum_reader,
)
from .killswitch import bearer_token, token_matches
from .schemas import KillSwitchRequest
from .service import RiskService

if TYPE_CHECKING:  # the pipeline loads only when a run is configured (service start-up time)
    from ..pipeline.run_config import LoadedRun
    from .dashboard_state import RunView

log = logging.getLogger("zkrisk.api")
STATIC = Path(__file__).with_name("static")
IDLE_PUBLISH_S = 1.0
"""Publish at least this often even when the journal is quiet (heartbeat ages move)."""
AUDIT_LATEST = 8


class DashboardKill(BaseModel):
    """The button's request: engage (default) or release, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    engaged: bool = True
    reason: str = Field(default="dashboard kill switch", min_length=1, max_length=500)


def read_audit(path: Path, limit: int = AUDIT_LATEST) -> tuple[list[dict[str, Any]], str | None,
                                                                 dict[str, Any] | None]:  # fmt: skip
    """The audit log's latest rows, its chain head and its latest (anchored, where one is)
    checkpoint root, over a read-only connection (the service's own writer is not touched)."""
    if not path.is_file():
        return [], None, None
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=2.0)
    try:
        rows = db.execute("SELECT seq, at_ns, kind, subject, outcome, hash FROM audit "
                          "ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()  # fmt: skip
        latest = [{"seq": s, "t": at / 1e9, "kind": k, "subject": subj, "outcome": o, "hash": h}
                  for s, at, k, subj, o, h in rows]  # fmt: skip
        return latest, (latest[0]["hash"] if latest else None), _latest_root(db)
    finally:
        db.close()


def _latest_root(db: sqlite3.Connection) -> dict[str, Any] | None:
    """The newest anchored checkpoint's root, else the newest checkpoint's (not anchored yet);
    None while the audit log has no checkpoint (or predates them)."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "audit_checkpoint" not in tables:
        return None
    if "audit_anchor" in tables:
        row = db.execute("SELECT c.size, c.last_seq, c.root, a.tx, a.block FROM audit_anchor a "
                         "JOIN audit_checkpoint c USING (size) ORDER BY a.size DESC LIMIT 1"
                         ).fetchone()  # fmt: skip
        if row is not None:
            size, last_seq, root, tx, block = row
            return {"size": size, "last_seq": last_seq, "root": root, "anchored": True,
                    "tx": tx, "block": block}  # fmt: skip
    row = db.execute("SELECT size, last_seq, root FROM audit_checkpoint ORDER BY size DESC LIMIT 1"
                     ).fetchone()  # fmt: skip
    if row is None:
        return None
    return {"size": row[0], "last_seq": row[1], "root": row[2], "anchored": False}


class Dashboard:
    """The dashboard's state keeper and publisher (see the module docstring)."""

    def __init__(self, service: RiskService, config: DashboardConfig | None) -> None:
        self.service, self.config = service, config
        self.refresh_s = (config.refresh_ms if config else 250) / 1000
        self.run: LoadedRun | None = None
        self.run_error = ""
        if config is not None:
            from ..pipeline.run_config import load_run_config

            try:
                self.run = load_run_config(config.run_config)
            except (OSError, ValueError) as exc:  # shown on the page; the service still serves
                self.run_error = f"{config.run_config}: {exc}"
                log.error("dashboard: %s", self.run_error)
        self.journal_path = None if self.run is None else (
            config.journal if config is not None and config.journal else self.run.journal_path)  # fmt: skip
        self._journal: SQLiteJournal | None = None
        self._view: RunView | None = None
        self._fold_lock = threading.Lock()
        self.state: dict[str, Any] = {}
        self.body = b"{}"
        self.version = 0
        self._changed = asyncio.Event()
        self._wake = asyncio.Event()
        self._published_at = 0.0
        self._seen: tuple[object, ...] = ()
        self.is_stopping: Callable[[], bool] = lambda: False
        """Set by the server: lets open streams end when it shuts down."""
        self.vault: Poller[VaultMinimum] | None = None
        self.keeper: Poller[KeeperProofs] | None = None
        if config is not None and config.rpc_url is not None and config.vault is not None:
            self.vault = Poller(vault_minimum_reader(config.rpc_url, config.vault), VAULT_REFRESH_S)
        if config is not None and config.keeper_metrics_url is not None:
            self.keeper = Poller(keeper_metrics_reader(config.keeper_metrics_url), KEEPER_REFRESH_S)

    # -- the state ------------------------------------------------------------------------

    def _open(self) -> RunView | None:
        if self._view is None and self.run is not None and self.journal_path is not None:
            from .dashboard_state import RunView

            try:
                self._journal = SQLiteJournal(self.journal_path, readonly=True)
            except JournalError as exc:
                self.run_error = f"waiting for the run's journal: {exc}"
                return None
            self._view, self.run_error = RunView(self._journal, self.run), ""
        return self._view

    def build(self, now_ns: int | None = None) -> dict[str, Any]:
        """Fold what is new and assemble the whole state (blocking: call it off the loop)."""
        now = time.time_ns() if now_ns is None else now_ns
        from .dashboard_state import proofs_panel, run_panels, service_panels

        vault = None if self.vault is None else self.vault.reading
        keeper = None if self.keeper is None else self.keeper.reading

        with self._fold_lock:
            view = self._open()
            run: dict[str, Any] | None = None
            if view is not None:
                view.catch_up()
                run = run_panels(view, now, vault_onchain=vault, vault_min_bps=self.config
                                 .vault_min_health_factor_bps if self.config else None)  # fmt: skip
        latest, head, root = read_audit(self.service.audit.path)
        kill = self.service.kill_switch_status()
        return {
            "generated_ns": now,
            "run": run,
            "run_note": self.run_error or ("" if self.config else
                "no run is configured: add a [dashboard] table with run_config to the service "
                "config"),
            **service_panels(kill_switch=kill.model_dump(mode="json"), audit_latest=latest,
                             audit_head=head, audit_root=root, proofs=proofs_panel(
                                 self.config.keeper_metrics_url if self.config else None, keeper)),
        }  # fmt: skip

    def refresh(self) -> bool:
        """Rebuild when the journal, the audit log or the kill switch moved, or a second passed;
        True when a new state was published."""
        head = self._journal.head() if self._journal is not None else -1
        seen = (head, self.service.audit.path.stat().st_mtime_ns
                if self.service.audit.path.exists() else 0, self.service.kill, self.run_error,
                *(p.reading for p in self._pollers()))  # fmt: skip
        idle = time.monotonic() - self._published_at >= IDLE_PUBLISH_S
        if seen == self._seen and not idle and self.version:
            return False
        self.state = self.build()
        self.body = json.dumps(self.state, separators=(",", ":"), allow_nan=False).encode()
        self._seen = (self._journal.head() if self._journal is not None else -1, *seen[1:])
        self._published_at = time.monotonic()
        self.version += 1
        return True

    async def keep_fresh(self) -> None:
        while True:
            try:
                if await asyncio.to_thread(self.refresh):
                    self._changed.set()
                    self._changed = asyncio.Event()
            except Exception:  # the page shows the last state; the log says why
                log.exception("dashboard refresh failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.refresh_s)

    def _pollers(self) -> list[Poller[Any]]:
        return [p for p in (self.vault, self.keeper) if p is not None]

    async def keep_polling(self, poller: Poller[Any]) -> None:
        """Read one outside source on its own clock (in a worker thread: a dead endpoint waits
        out its timeout there, not in the journal fold); a changed reading is published."""
        while True:
            if await asyncio.to_thread(poller.poll):
                self._wake.set()
            await asyncio.sleep(poller.every_s)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(self.keep_fresh(), name="dashboard"),
                 *(asyncio.create_task(self.keep_polling(p), name="dashboard source")
                   for p in self._pollers())]  # fmt: skip
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if self._journal is not None:
                self._journal.close()

    async def stream(self, request: Request) -> AsyncIterator[bytes]:
        """Server-sent events: the current state at once, then each new one as it is published."""
        yield b"retry: 500\n\n"
        sent = -1
        while not self.is_stopping() and not await request.is_disconnected():
            if self.version != sent:
                sent = self.version
                yield b"id: %d\nevent: state\ndata: %s\n\n" % (sent, self.body)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), 1.0)

    # -- the kill switch ------------------------------------------------------------------

    def kill(self, request: DashboardKill) -> dict[str, Any]:
        """Halt (or resume) the run through its journal and the service's own switch."""
        position = None
        if self.journal_path is not None:
            from ..pipeline.monitor import kill_switch_draft

            with contextlib.closing(SQLiteJournal(self.journal_path)) as journal:
                draft = kill_switch_draft(request.engaged, request.reason, actor="dashboard",
                                          now_ns=time.time_ns())  # fmt: skip
                position = journal.append([draft])[0].position
        status = self.service.set_kill_switch(
            KillSwitchRequest(engaged=request.engaged, reason=request.reason), actor="dashboard"
        )
        self._wake.set()
        return {"journal_position": position, "service": status.model_dump(mode="json")}


def _static(name: str, media_type: str) -> Callable[[], FileResponse]:
    def serve() -> FileResponse:
        return FileResponse(STATIC / name, media_type=media_type,
                            headers={"Cache-Control": "no-cache"})  # fmt: skip

    return serve


def mount_dashboard(app: FastAPI, dashboard: Dashboard) -> None:
    """The dashboard's routes and the offline Swagger UI at `/docs` (the app is created with
    docs_url=None so FastAPI's CDN-loading page is not registered)."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_api_route("/", _static("dashboard.html", "text/html"), include_in_schema=False)

    @app.get("/dashboard/state", summary="The dashboard's current state (JSON)")
    async def state() -> Response:
        return Response(dashboard.body, media_type="application/json",
                        headers={"Cache-Control": "no-store"})  # fmt: skip

    @app.get("/dashboard/stream", summary="The dashboard's state as server-sent events",
             response_class=StreamingResponse)  # fmt: skip
    async def stream(request: Request) -> StreamingResponse:
        return StreamingResponse(dashboard.stream(request), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store",
                                          "X-Accel-Buffering": "no"})  # fmt: skip

    @app.post("/dashboard/killswitch", summary="Halt the run and the service (needs the token)",
              responses={401: {"description": "Missing or wrong bearer token"}})  # fmt: skip
    async def kill(request: Request, body: DashboardKill | None = None) -> JSONResponse:
        presented = bearer_token(request.headers.get("authorization"))
        if not token_matches(presented, dashboard.service.kill_switch_token):
            dashboard.service.metrics.auth_failures.inc()
            return JSONResponse({"detail": "missing or wrong kill-switch token"}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
        try:
            return JSONResponse(dashboard.kill(body or DashboardKill()))
        except JournalError as exc:
            return JSONResponse({"detail": f"the run's journal refused the command: {exc}"},
                                status_code=503)  # fmt: skip

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} — API docs",
            swagger_js_url="/static/vendor/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui.css",
            swagger_favicon_url="/static/vendor/favicon-32x32.png",
        )  # fmt: skip
