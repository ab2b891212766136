"""One alert end to end: a real `zkrisk serve` engages its kill switch, a real Prometheus
scraping it every second evaluates the shipped deploy/alerts.yml, and the shipped
deploy/alertmanager.yml route posts the firing alert to a webhook this test runs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from ..api.server_fixtures import AUTH_TOML, TOKEN, desk_folder, free_port, serve_process
from .prometheus_tools import ALERTMANAGER, DEPLOY, WebhookSink, daemon, require


def prometheus_config(service: str, alertmanager: str) -> dict[str, Any]:
    """deploy/prometheus.yml with 1 s intervals and this test's targets (the service only)."""
    config: dict[str, Any] = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(DEPLOY / name) for name in config["rule_files"]]
    config["alerting"]["alertmanagers"][0]["static_configs"] = [{"targets": [alertmanager]}]
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "zkrisk-service"]
    job["static_configs"][0]["targets"] = [service]
    config["scrape_configs"] = [job]
    return config


def alertmanager_config(webhook_url: str) -> str:
    """deploy/alertmanager.yml posting to `webhook_url` (routes and timings unchanged)."""
    shipped = (DEPLOY / "alertmanager.yml").read_text()
    assert "http://127.0.0.1:9099/alerts" in shipped
    return shipped.replace("http://127.0.0.1:9099/alerts", webhook_url)


def query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=5).json()
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def wait_until_scraped(prometheus: str, expr: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not query(prometheus, expr):
        assert time.monotonic() < deadline, f"Prometheus never saw {expr}"
        time.sleep(0.2)


@require("prometheus", ALERTMANAGER)
def test_kill_switch_engaged_on_a_real_service_reaches_the_webhook_through_alertmanager(
    tmp_path: Path,
) -> None:
    prom_port, am_port = free_port(), free_port()
    prometheus, alertmanager = f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{am_port}"
    folder = desk_folder(tmp_path)
    with WebhookSink() as webhook, serve_process(folder, AUTH_TOML) as service:
        (tmp_path / "alertmanager.yml").write_text(alertmanager_config(webhook.url))
        service_target = service.url.removeprefix("http://")
        (tmp_path / "prometheus.yml").write_text(
            yaml.safe_dump(prometheus_config(service_target, f"127.0.0.1:{am_port}"))
        )
        am_args = [ALERTMANAGER, f"--config.file={tmp_path / 'alertmanager.yml'}",
                   f"--storage.path={tmp_path / 'am-data'}",
                   f"--web.listen-address=127.0.0.1:{am_port}",
                   "--cluster.listen-address="]  # fmt: skip
        prom_args = ["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
                     f"--storage.tsdb.path={tmp_path / 'prom-data'}",
                     f"--web.listen-address=127.0.0.1:{prom_port}"]  # fmt: skip
        with (
            daemon(am_args, f"{alertmanager}/-/ready", tmp_path / "alertmanager.log"),
            daemon(prom_args, f"{prometheus}/-/ready", tmp_path / "prometheus.log"),
        ):
            # Released first: the alert below comes from engaging it, nothing else.
            wait_until_scraped(
                prometheus, 'zkrisk_api_kill_switch_engaged{job="zkrisk-service"} == 0'
            )
            assert query(prometheus, 'ALERTS{alertname="ZkriskKillSwitchEngaged"}') == []
            engaged = service.http.post(
                "/v1/killswitch", json={"engaged": True, "reason": "alerting test"},
                headers={"Authorization": f"Bearer {TOKEN}"},
            )  # fmt: skip
            assert engaged.status_code == 200, engaged.text
            alert = webhook.wait_for("ZkriskKillSwitchEngaged", "firing", timeout=30)
    assert alert["labels"]["job"] == "zkrisk-service"
    assert alert["labels"]["severity"] == "critical"
    assert alert["labels"]["instance"] == service_target
    assert "zkrisk_api_kill_switch_engaged is 1" in alert["annotations"]["description"]
