"""The shipped deploy/ files pass Prometheus' and Alertmanager's own checkers and unit tests."""

from __future__ import annotations

from typing import Any

import yaml

from .prometheus_tools import ALERTMANAGER, DEPLOY, require, tool


def load(name: str) -> Any:
    return yaml.safe_load((DEPLOY / name).read_text())


def test_every_alert_rule_has_a_promtool_unit_test_case() -> None:
    rules = {r["alert"] for group in load("alerts.yml")["groups"] for r in group["rules"]}
    cases = load("alerts_test.yml")["tests"]
    tested = {t["alertname"] for case in cases for t in case["alert_rule_test"]}
    assert len(rules) == 8 and rules == tested


@require("promtool")
def test_prometheus_config_with_its_rule_file_passes_promtool_check_config() -> None:
    done = tool("promtool", "check", "config", "prometheus.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 8 rules found" in done.stdout + done.stderr


@require("promtool")
def test_alert_rules_pass_promtool_check_rules() -> None:
    done = tool("promtool", "check", "rules", "alerts.yml")
    assert done.returncode == 0, done.stdout + done.stderr


@require("promtool")
def test_every_alert_fires_on_a_bad_series_and_not_on_a_healthy_one_in_promtool_test_rules() -> (
    None
):
    done = tool("promtool", "test", "rules", "alerts_test.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


@require(ALERTMANAGER, "amtool")
def test_alertmanager_config_passes_amtool_check_config() -> None:
    done = tool("amtool", "check-config", "alertmanager.yml")
    assert done.returncode == 0, done.stdout + done.stderr
