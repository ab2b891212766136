"""POST /v1/killswitch over real HTTP: bearer-token auth, immediate effect, audit, restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from .server_fixtures import TOKEN, Running, config_for, desk_folder, order, running_server


@pytest.mark.parametrize(
    "token", [None, "wrong-token-of-the-right-length", TOKEN[:-1], TOKEN + "x"]
)
def test_kill_switch_without_the_right_token_is_refused_with_401(
    server: Running, token: str | None
) -> None:
    response = server.kill(token=token)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert server.http.get("/v1/killswitch").json()["engaged"] is False
    assert server.check(order()).json()["verdict"]["kind"] == "APPROVE"


def test_kill_switch_with_a_basic_auth_header_is_refused(server: Running) -> None:
    response = server.http.post("/v1/killswitch", headers={"Authorization": f"Basic {TOKEN}"})
    assert response.status_code == 401


def test_release_without_a_token_is_refused_too(server: Running) -> None:
    server.kill(reason="drill")
    assert server.kill(token=None, engaged=False).status_code == 401
    assert server.http.get("/v1/killswitch").json()["engaged"] is True


def test_engaged_kill_switch_rejects_every_following_check_with_reason_kill_switch(
    server: Running,
) -> None:
    response = server.kill(reason="venue outage")
    assert response.status_code == 200
    assert response.json()["engaged"] is True and response.json()["reason"] == "venue outage"
    body = server.check(order()).json()
    assert body["verdict"]["kind"] == "REJECT" and body["approval"] is None
    first = body["verdict"]["reasons"][0]
    assert first["code"] == "KILL_SWITCH" and "kill switch" in first["message"].lower()
    assert "venue outage" in first["message"]


def test_kill_switch_also_stops_replaying_an_earlier_approval(server: Running) -> None:
    assert server.check(order()).json()["approval"] is not None
    server.kill()
    body = server.check(order()).json()
    assert body["approval"] is None and body["verdict"]["reasons"][0]["code"] == "KILL_SWITCH"


def test_released_kill_switch_lets_approvals_resume(server: Running) -> None:
    server.kill()
    assert server.kill(engaged=False).json()["engaged"] is False
    assert server.check(order()).json()["verdict"]["kind"] == "APPROVE"


def test_kill_switch_changes_are_audited_and_counted(server: Running) -> None:
    server.kill(token="nope-nope-nope-nope")
    server.kill(reason="drill")
    server.kill(engaged=False, reason="drill over")
    rows = server.service.audit.records("killswitch")
    assert [r.outcome for r in rows] == ["ENGAGED", "RELEASED"]
    metrics = server.http.get("/metrics").text
    assert "zkrisk_api_auth_failures_total 1.0" in metrics
    assert "zkrisk_api_kill_switch_engaged 0.0" in metrics


def test_engaged_kill_switch_survives_a_restart(tmp_path: Path) -> None:
    config = config_for(desk_folder(tmp_path))
    with running_server(config) as first:
        first.kill(reason="halt before restart")
    with running_server(config) as second:
        assert second.http.get("/v1/killswitch").json()["engaged"] is True
        assert second.check(order()).json()["verdict"]["reasons"][0]["code"] == "KILL_SWITCH"


def test_an_approval_is_replayed_after_a_restart_unless_the_switch_is_engaged(
    tmp_path: Path,
) -> None:
    config = config_for(desk_folder(tmp_path))
    with running_server(config) as first:
        issued = first.check(order())
    with running_server(config) as second:
        assert second.check(order()).content == issued.content
        second.kill(reason="halt")
        body = second.check(order()).json()
    assert body["approval"] is None and body["verdict"]["reasons"][0]["code"] == "KILL_SWITCH"
