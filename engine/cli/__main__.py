"""`python -m zkrisk.engine.cli`: the same app as the `zkrisk` script."""

from __future__ import annotations

from .main import app

app()
