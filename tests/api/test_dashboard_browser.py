"""The dashboard in a real headless browser (Debian's chromium driven by Playwright, no browser
download), over a real paper-trading pipeline: `zkrisk feed serve` → `zkrisk run` → the journal
← `zkrisk serve` (its [dashboard] names the run). Every request that is not to the service is
aborted, so the page passes only if it loads everything from the service itself.

ZKRISK_SCREENSHOT=1 also writes the screenshot the README shows (docs/dashboard.png)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from zkrisk.engine.keeper.metrics import KeeperMetrics, serve_metrics

from ..pipeline.runner_support import (
    records_so_far,
    start_feed,
    start_runner,
    wait_until,
    write_config,
)
from .server_fixtures import AUTH_TOML, TOKEN, Process, desk_folder, free_port, order, serve_process

playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright (dev extra)")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no system chromium: apt-get install -y chromium (make setup does)"
)
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "dashboard.png"
RUN_PANELS = ("trading", "prices", "exposure", "tail", "health", "heartbeats", "feeds")
NOT_LANDED = {"reconciliation": "issue 13"}
PROOF_TIMES = (0.15, 0.25, 0.25, 0.4, 1.5)
"""Observed into a real keeper's metrics: p50 275 ms, p95 1,750 ms (test_dashboard_sources)."""


@dataclass
class Pipeline:
    journal: Path
    service: Process


def _stop(proc: Any) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except Exception:
            proc.kill()
            proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    feed_port = free_port()
    feed = start_feed(feed_port, "--rate", "100")
    config = write_config(tmp_path, feed_port)
    runner = start_runner(config)
    journal = tmp_path / "journal.db"
    keeper = KeeperMetrics()
    for seconds in PROOF_TIMES:
        keeper.proof_seconds.observe(seconds)
    keeper.prove_queue.set(2)
    keeper_server = serve_metrics(keeper, 0)
    try:
        wait_until(lambda: any(r.event.type == "VerdictIssued" for r in records_so_far(journal)),
                   timeout=30, what="the run's first verdict")  # fmt: skip
        desk = tmp_path / "desk"
        desk.mkdir()
        board = (
            f'{AUTH_TOML}\n[dashboard]\nrun_config = "{config}"\nvault_min_health_factor_bps = '
            f'10500\nkeeper_metrics_url = "http://127.0.0.1:{keeper_server.server_port}/"\n'
        )
        with serve_process(desk_folder(desk), board) as service:
            assert service.check(order()).status_code == 200  # an audit row to show
            yield Pipeline(journal, service)
    finally:
        keeper_server.shutdown()
        keeper_server.server_close()
        _stop(runner)
        _stop(feed)


def _trading_states(journal: Path) -> list[str]:
    return [r.event.current.value for r in records_so_far(journal)
            if r.event.type == "TradingStateChanged"]  # fmt: skip


def test_dashboard_loads_offline_shows_every_panel_streams_prices_and_halts_the_run(
    pipeline: Pipeline,
) -> None:
    url = pipeline.service.url
    outside: list[str] = []
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900})

        def only_the_service(route: Any) -> None:
            if route.request.url.startswith(url + "/"):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", only_the_service)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        refused = "the server responded with a status of 401"  # the wrong-token click, below
        loaded: list[str] = []
        page.on("requestfinished", lambda r: loaded.append(r.url))

        page.goto(url + "/")
        for panel in (*RUN_PANELS, "killswitch", "audit", "proofs"):
            page.wait_for_selector(f'[data-panel="{panel}"][data-filled="data"]', timeout=10_000)
        proofs = page.inner_text('[data-panel="proofs"]')
        assert "275 ms" in proofs and "1,750 ms" in proofs and "2 accounts" in proofs, proofs
        assert "vault min (configured)" in page.inner_text('[data-panel="health"]')
        for panel, issue in NOT_LANDED.items():
            section = page.locator(f'[data-panel="{panel}"]')
            assert section.get_attribute("data-filled") == "not-yet"
            assert issue in section.inner_text()
        assert {u.removeprefix(url) for u in loaded} >= {
            "/", "/static/dashboard.js", "/static/dashboard.css",
            "/static/vendor/uPlot.iife.min.js", "/static/vendor/uPlot.min.css",
        }  # fmt: skip

        # Prices move by themselves (the feed server): every state that reached the DOM is
        # measured from its newest quote's journal time to the moment it was rendered.
        page.evaluate("window.__renders = []")
        time.sleep(4)
        renders = page.evaluate("window.__renders")
        moves = {r["recv_ns"] for r in renders}
        lags_ms = [r["shown_ms"] - r["recv_ns"] / 1e6 for r in renders]
        assert len(moves) >= 4, f"the prices did not move on screen: {renders}"
        assert max(lags_ms) < 1000, f"journal → screen lags (ms): {sorted(lags_ms)}"

        page.fill("#kill-token", "not-the-token-0123456789")
        page.click("#kill-engage")
        page.wait_for_selector("#kill-result.bad", timeout=5_000)
        assert "401" in page.inner_text("#kill-result")
        assert "HALTED" not in _trading_states(pipeline.journal)

        page.fill("#kill-token", TOKEN)
        page.fill("#kill-reason", "browser test")
        page.click("#kill-engage")
        wait_until(lambda: "HALTED" in _trading_states(pipeline.journal), timeout=5,
                   what="the runner's HALTED transition")  # fmt: skip
        page.wait_for_function(
            "document.getElementById('trading-state').textContent === 'HALTED'", timeout=2_000
        )
        assert "browser test" in page.inner_text('[data-panel="trading"]')
        if os.environ.get("ZKRISK_SCREENSHOT") == "1":
            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)

        page.goto(url + "/docs")
        page.wait_for_selector(".swagger-ui .opblock", timeout=10_000)
        assert "/dashboard/stream" in page.inner_text(".swagger-ui")
        browser.close()
    assert outside == [], f"the pages asked other hosts for: {outside}"
    assert [e for e in errors if refused not in e] == [], errors
