"""The dashboard's state assembly (a read-only fold of a run's journal), its server-sent event
stream, its kill-switch button and the offline /docs, over real SQLite and real HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from zkrisk.engine.api.config import DashboardConfig, load_serve_config
from zkrisk.engine.api.dashboard import read_audit
from zkrisk.engine.api.dashboard_state import (
    NO_KEEPER_METRICS,
    NOT_YET_RECONCILE,
    RunView,
    Series,
    run_panels,
    service_panels,
)
from zkrisk.engine.audit import AuditLog
from zkrisk.engine.files import InputError
from zkrisk.engine.journal.sqlite import SQLiteJournal
from zkrisk.engine.pipeline.run_config import load_run_config

from ..pipeline.runner_support import records, write_config
from .dashboard_support import RunJournal
from .server_fixtures import TOKEN, Running, config_for, desk_folder, free_port, running_server

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run(tmp_path: Path) -> Iterator[tuple[Path, RunJournal]]:
    """A run config (examples/run.toml, journal in tmp) and its journal, filled by hand."""
    config = write_config(tmp_path, free_port())
    journal = RunJournal(tmp_path / "journal.db")
    try:
        yield config, journal
    finally:
        journal.close()


def _view(config: Path) -> tuple[RunView, SQLiteJournal]:
    loaded = load_run_config(config)
    reader = SQLiteJournal(loaded.journal_path, readonly=True)
    return RunView(reader, loaded), reader


# -- the state (pure assembly over a folded journal) -------------------------------------------


def test_panels_show_equity_exposure_tail_risk_and_feed_events_from_the_journal(
    run: tuple[Path, RunJournal],
) -> None:
    config, journal = run
    journal.quote("3000")
    journal.fill("BUY", "10", "3000")
    journal.quote("2900")  # 10 WETH lose 100 each
    journal.verdict("1234.5", 15_000)
    journal.quarantined()
    journal.gap(7, 9)
    view, reader = _view(config)
    try:
        assert view.catch_up() == 6
        panels = run_panels(view, time.time_ns(), vault_min_bps=10_500)
    finally:
        reader.close()
    trading = panels["trading"]
    assert trading["state"] == "ACTIVE"
    assert trading["equity_usd"] == 999_000.0
    assert trading["drawdown_bps"] == 10.0  # 1,000 of a 1,000,000 peak
    assert trading["breakers"]["halt_drawdown_bps"] == 500
    assert trading["series"]["equity_usd"][-1] == 999_000.0
    assert panels["prices"]["WETH"]["mid"] == 2900.0
    exposure = panels["exposure"]
    assert exposure["gross_usd"] == 29_000.0 + 970_000.0  # WETH and the paper cash
    assert exposure["max_gross_usd"] == 25_000_000.0
    assert exposure["largest_symbol"] == "USDC"
    tail = panels["tail_risk"]
    assert tail["series"]["post_trade_var_usd"] == [1234.5]
    assert tail["var_usd"] is not None and tail["var_usd"] > 0
    assert tail["max_var_usd"] == 1_500_000.0
    health = panels["health"]
    assert health["series"]["post_trade_health_factor"] == [1.5]
    assert (health["policy_min"], health["vault_min"], health["vault_min_source"]) == (
        1.1, 1.05, "configured")  # fmt: skip
    feeds = panels["feeds"]
    assert feeds["quarantined"]["count"] == 1
    assert feeds["quarantined"]["latest"][0]["reason"] == "BID_NOT_BELOW_ASK"
    assert feeds["gaps"]["latest"][0]["expected"] == 7
    assert panels["reconciliation"] == {"count": 0, "latest": [], "note": NOT_YET_RECONCILE}


def test_reconciliation_panel_shows_mismatches_once_the_journal_has_them(
    run: tuple[Path, RunJournal],
) -> None:
    config, journal = run
    journal.mismatch()
    view, reader = _view(config)
    try:
        view.catch_up()
        recon = run_panels(view, time.time_ns())["reconciliation"]
    finally:
        reader.close()
    assert (recon["count"], recon["note"]) == (1, "")
    assert recon["latest"][0]["venue_quantity"] == 9.0


def test_fold_is_incremental_and_sees_a_kill_command_appended_later(
    run: tuple[Path, RunJournal],
) -> None:
    config, journal = run
    journal.quote("3000")
    view, reader = _view(config)
    try:
        view.catch_up()
        assert run_panels(view, time.time_ns())["trading"]["state"] == "ACTIVE"
        from zkrisk.engine.pipeline.monitor import kill_switch_draft

        journal.journal.append([kill_switch_draft(True, "test", actor="t", now_ns=time.time_ns())])
        assert view.catch_up() == 1  # only the new record is folded
        trading = run_panels(view, time.time_ns())["trading"]
    finally:
        reader.close()
    assert (trading["state"], trading["reason"]) == ("HALTED", "KILL_SWITCH")
    assert trading["commands"][0]["command"] == "KILL_SWITCH"


def test_catch_up_folds_a_long_journal_over_several_bounded_steps(
    run: tuple[Path, RunJournal],
) -> None:
    config, journal = run
    for i in range(30):
        journal.quote(str(3000 + i))
    view, reader = _view(config)
    try:
        assert [view.catch_up(limit=12) for _ in range(4)] == [12, 12, 6, 0]
    finally:
        reader.close()


def test_equity_series_keeps_one_point_per_bucket_and_a_bounded_length() -> None:
    series = Series(("v",))
    ns = 1_000_000_000
    series.add(10 * ns, 1.0, bucket_ns=ns // 4)
    series.add(10 * ns + 100, 2.0, bucket_ns=ns // 4)  # same bucket: replaces
    series.add(11 * ns, 3.0, bucket_ns=ns // 4)
    assert series.columns() == {"t": [10.0000001, 11.0], "v": [2.0, 3.0]}
    for i in range(5_000):
        series.add(i * ns, float(i))
    assert len(series.columns()["t"]) == 1_200


def test_service_panels_say_what_has_not_landed_instead_of_showing_zeros() -> None:
    panels = service_panels(kill_switch={"engaged": False}, audit_latest=[], audit_head=None,
                            audit_root=None)  # fmt: skip
    assert panels["proofs"] == {"note": NO_KEEPER_METRICS}
    assert "chain head is shown instead" in panels["audit"]["root_note"]
    anchored = service_panels(kill_switch={}, audit_latest=[], audit_head="ab",
                              audit_root={"root": "cd"}, proofs={"p50_ms": 1})  # fmt: skip
    assert (anchored["audit"]["root_note"], anchored["proofs"]) == ("", {"p50_ms": 1})


def test_audit_panel_reads_the_latest_rows_the_head_and_the_anchored_root(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.sqlite")
    try:
        assert read_audit(log.path) == ([], None, None)
        for i in range(3):
            log.append("check", f"o-{i}", "APPROVE", "{}", "{}")
        latest, head, root = read_audit(log.path)
        assert [r["subject"] for r in latest] == ["o-2", "o-1", "o-0"]
        assert (head, root) == (latest[0]["hash"], None)  # no checkpoint yet
        first = log.checkpoint()
        assert first is not None
        _, _, root = read_audit(log.path)
        assert root == {"size": 3, "last_seq": 3, "root": first.root.hex(), "anchored": False}
        log.append("check", "o-3", "APPROVE", "{}", "{}")
        log.checkpoint()  # a newer, unanchored checkpoint: the anchored one is shown
        log.record_anchor(3, "0x" + "ab" * 32, 7)
        _, _, root = read_audit(log.path)
        assert root is not None and (root["size"], root["anchored"], root["block"]) == (3, True, 7)
    finally:
        log.close()


# -- config -------------------------------------------------------------------------------------


def test_dashboard_paths_are_relative_to_the_service_config(tmp_path: Path) -> None:
    desk_folder(tmp_path)
    (tmp_path / "serve.toml").write_text(_serve_toml(tmp_path, 'run_config = "run.toml"\n'
                                                     'journal = "j/journal.db"'))  # fmt: skip
    board = load_serve_config(tmp_path / "serve.toml").dashboard
    assert board is not None
    assert (board.run_config, board.journal) == (tmp_path / "run.toml", tmp_path / "j/journal.db")


def test_an_unknown_dashboard_field_is_refused_with_its_name(tmp_path: Path) -> None:
    desk_folder(tmp_path)
    (tmp_path / "serve.toml").write_text(_serve_toml(tmp_path, 'run_config = "run.toml"\n'
                                                     "refresh = 1"))  # fmt: skip
    with pytest.raises(InputError, match="refresh"):
        load_serve_config(tmp_path / "serve.toml")


def _serve_toml(folder: Path, dashboard: str) -> str:
    return (f'policy_file = "policy.toml"\nassets_file = "assets.toml"\nprices_file = "prices.toml"\n'
            f'portfolio_files = ["portfolio.toml"]\n[[api_keys]]\nname = "a"\nsha256 = "{"0" * 64}"\n'
            f"[dashboard]\n{dashboard}\n")  # fmt: skip


# -- over HTTP ----------------------------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path, run: tuple[Path, RunJournal]) -> Iterator[tuple[Running, RunJournal]]:
    config, journal = run
    journal.quote("3000")
    board = DashboardConfig(run_config=config, refresh_ms=250)
    folder = tmp_path / "desk"
    folder.mkdir()
    with running_server(config_for(desk_folder(folder), dashboard=board)) as server:
        yield server, journal


def _events(response: httpx.Response, out: list[tuple[float, dict[str, Any]]],
            done: threading.Event) -> None:  # fmt: skip
    try:
        for line in response.iter_lines():
            if line.startswith("data: "):
                out.append((time.monotonic(), json.loads(line[6:])))
            if done.is_set():
                return
    except (httpx.HTTPError, httpx.StreamError):
        return  # the test closed the stream


def test_stream_pushes_a_moved_price_within_a_second_and_at_most_every_refresh(
    served: tuple[Running, RunJournal],
) -> None:
    server, journal = served
    got: list[tuple[float, dict[str, Any]]] = []
    done = threading.Event()
    with httpx.Client(base_url=server.url, timeout=10) as http, \
            http.stream("GET", "/dashboard/stream") as response:  # fmt: skip
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = threading.Thread(target=_events, args=(response, got, done), daemon=True)
        reader.start()
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            time.sleep(0.01)
        assert got, "no first state"
        lags = []
        for i in range(4):  # one price move at a time: each reaches the stream within 1 s
            moved_at = time.monotonic()
            position = journal.quote(str(3100 + i))
            while not any(s["run"]["position"] >= position for _, s in got):
                assert time.monotonic() - moved_at < 1.0, f"move {i} not streamed within 1 s"
                time.sleep(0.005)
            lags.append(time.monotonic() - moved_at)
        burst_from = time.monotonic()
        while time.monotonic() - burst_from < 2.0:  # a quote every 20 ms for 2 s
            journal.quote("3200")
            time.sleep(0.02)
        done.set()
    assert got[-1][1]["run"]["prices"]["WETH"]["mid"] == 3200.0
    burst = [t for t, _ in got if t >= burst_from]
    assert len(burst) <= 2.0 / 0.25 + 2, f"{len(burst)} states in 2 s: not throttled"
    assert max(lags) < 1.0


def test_state_endpoint_answers_the_latest_snapshot_as_json(
    served: tuple[Running, RunJournal],
) -> None:
    server, _ = served
    deadline = time.monotonic() + 5
    while (state := server.http.get("/dashboard/state").json()).get("run") is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert state["run"]["prices"]["WETH"]["mid"] == 3000.0
    assert state["kill_switch"]["engaged"] is False


def _kill_commands(journal_path: Path) -> list[Any]:
    return [r.event for r in records(journal_path) if r.event.type == "OperatorCommand"]


def test_kill_button_without_the_token_is_refused_and_journals_nothing(
    served: tuple[Running, RunJournal],
) -> None:
    server, journal = served
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}):
        answer = server.http.post("/dashboard/killswitch", json={"reason": "x"}, headers=headers)
        assert answer.status_code == 401
    assert _kill_commands(journal.journal.path) == []
    assert server.http.get("/v1/killswitch").json()["engaged"] is False


def test_kill_button_with_the_token_halts_the_run_and_the_service(
    served: tuple[Running, RunJournal],
) -> None:
    server, journal = served
    answer = server.http.post("/dashboard/killswitch", json={"reason": "drill"},
                              headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    [command] = _kill_commands(journal.journal.path)
    assert (command.command, command.actor, command.reason) == ("KILL_SWITCH", "dashboard", "drill")
    assert server.http.get("/v1/killswitch").json()["engaged"] is True
    deadline = time.monotonic() + 2
    while (server.http.get("/dashboard/state").json()["run"] or {}).get("trading", {}).get(
        "state"
    ) != "HALTED":
        assert time.monotonic() < deadline, "the folded state never showed HALTED"
        time.sleep(0.05)
    audit = server.http.get("/dashboard/state").json()["audit"]
    assert audit["latest"][0]["kind"] == "killswitch"


def test_docs_and_dashboard_reference_only_files_the_service_serves(
    served: tuple[Running, RunJournal],
) -> None:
    server, _ = served
    for page in ("/docs", "/"):
        html = server.http.get(page).text
        assert "http://" not in html and "https://" not in html and "//cdn" not in html, page
    for asset in ("/static/vendor/swagger-ui-bundle.js", "/static/vendor/swagger-ui.css",
                  "/static/vendor/uPlot.iife.min.js", "/static/dashboard.js"):  # fmt: skip
        assert server.http.get(asset).status_code == 200, asset
    assert server.http.get("/redoc").status_code == 404  # ReDoc would load a CDN script


def test_without_a_run_the_page_still_serves_the_services_own_panels(server: Running) -> None:
    deadline = time.monotonic() + 5
    while not (state := server.http.get("/dashboard/state").json()):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert state["run"] is None and "[dashboard]" in state["run_note"]
    assert state["kill_switch"]["engaged"] is False


def test_vendored_browser_assets_match_their_pinned_npm_packages() -> None:
    if not (ROOT / "node_modules" / "uplot").is_dir():
        pytest.skip("node_modules not installed (make setup): nothing to compare against")
    check = subprocess.run([sys.executable, "scripts/vendor_static.py", "--check"], cwd=ROOT,
                           capture_output=True, text=True)  # fmt: skip
    assert check.returncode == 0, check.stderr
