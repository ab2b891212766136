"""A value loaded from a file and re-read when the file changes (reference prices, books)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger("zkrisk.api")


class Watched(Generic[T]):
    """`get()` returns the last good load; the file's mtime is checked at most every `interval`.

    A changed file that fails to load keeps the previous value (its own staleness rules still
    apply: old prices age out and fail closed) and reports the error through `on_error`.
    """

    def __init__(
        self,
        path: Path,
        load: Callable[[Path], T],
        *,
        interval: float,
        on_error: Callable[[Path, Exception], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self._load = load
        self._interval = interval
        self._on_error = on_error
        self._monotonic = monotonic
        self._mtime = path.stat().st_mtime_ns
        self._value = load(path)  # a bad file at start is fatal: raise to the caller
        self._checked = monotonic()

    def get(self) -> T:
        now = self._monotonic()
        if now - self._checked >= self._interval:
            self._checked = now
            self._refresh()
        return self._value

    def _refresh(self) -> None:
        try:
            mtime = self.path.stat().st_mtime_ns
            if mtime == self._mtime:
                return
            self._mtime = mtime
            self._value = self._load(self.path)
            log.info("reloaded %s", self.path)
        except Exception as exc:  # keep serving the last good value; say so loudly
            log.error("reload of %s failed, keeping the previous version: %s", self.path, exc)
            if self._on_error is not None:
                self._on_error(self.path, exc)
