"""Run the risk service under uvicorn (the `zkrisk serve` command's body)."""

from __future__ import annotations

import uvicorn

from .app import create_app
from .config import Secrets, ServeConfig
from .service import RiskService
from .wire import restore_recursion_limit


def build_server(config: ServeConfig, secrets: Secrets) -> tuple[uvicorn.Server, RiskService]:
    """A uvicorn server over a freshly loaded service; `server.run()` blocks until stopped."""
    restore_recursion_limit()  # before anything parses a request; app startup checks again
    service = RiskService.from_config(config, secrets)
    app = create_app(service, config.dashboard)
    uv_config = uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        log_level=config.log_level,
        access_log=config.access_log,
        ws="none",  # no websockets: keeps uvicorn from importing the deprecated legacy module
        lifespan="on",
    )
    server = uvicorn.Server(uv_config)
    app.state.dashboard.is_stopping = lambda: server.should_exit  # open streams end on shutdown
    return server, service
