"""Is trading HALTED? Read before every signature from what the risk service already offers:
its /healthz (`trading_state`, `kill_switch_engaged`; no answer counts as halted: fail closed)
and/or a halt file an operator (or a watchdog) creates."""

from __future__ import annotations

from pathlib import Path

import httpx


class HaltSource:
    def __init__(self, halt_file: Path | None, risk_service_url: str | None) -> None:
        self._file = halt_file
        self._url = None if risk_service_url is None else risk_service_url.rstrip("/") + "/healthz"
        self._http = httpx.Client(timeout=1.0) if self._url else None

    def reason(self) -> str | None:
        """Why trading is halted, or None while it is not."""
        if self._file is not None and self._file.exists():
            return f"the halt file {self._file} exists"
        if self._http is None or self._url is None:
            return None
        try:
            health = self._http.get(self._url).raise_for_status().json()
        except (httpx.HTTPError, ValueError) as exc:
            return f"the risk service at {self._url} did not answer ({exc}): failing closed"
        if health.get("kill_switch_engaged") is not False:
            return "the risk service's kill switch is engaged"
        if health.get("trading_state") not in ("ACTIVE", "REDUCING"):
            return f"the risk service's trading state is {health.get('trading_state')}"
        return None

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
