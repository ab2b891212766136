"""Structured log lines: one JSON object per line (`ts`, `level`, `event`, then the fields)."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any, TextIO


class JsonLog:
    """Writes `{"ts": …, "level": …, "event": …, …}` lines to a stream (stderr by default)."""

    def __init__(self, stream: TextIO | None = None, *, component: str = "keeper") -> None:
        self._stream = stream
        self.component = component
        self._lock = threading.Lock()

    def __call__(self, event: str, level: str = "info", **fields: Any) -> None:
        line = json.dumps(
            {"ts": round(time.time(), 3), "level": level, "component": self.component,
             "event": event, **fields},
            default=str,
        )  # fmt: skip
        stream = self._stream or sys.stderr
        with self._lock:
            stream.write(line + "\n")
            stream.flush()
