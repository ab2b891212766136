"""The `zkrisk` command line: one module per command group; `main` holds the root app."""

from __future__ import annotations

from .main import app

__all__ = ["app"]
