"""The shipped feed server: sequences, resume, faults and outages, and `zkrisk feed serve`."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from zkrisk.engine.chain.anvil import free_port
from zkrisk.engine.pipeline.feed_server import Faults, FeedServer
from zkrisk.engine.pipeline.sources.ws import backoff_delay, subscribe_message

REPO = Path(__file__).resolve().parents[2]


async def frames(url: str, resume: dict[str, int], n: int) -> list[dict[str, object]]:
    async with connect(url) as ws:
        await ws.send(subscribe_message(["WETH", "WBTC"], resume))
        return [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(n)]


def test_a_resume_point_makes_the_server_resend_what_followed_it_in_order() -> None:
    async def scenario() -> list[dict[str, object]]:
        async with FeedServer() as server:
            server.publish(10)
            return await frames(server.url, {"WETH": 3}, 2)

    got = asyncio.run(scenario())
    assert [(m["symbol"], m["seq"]) for m in got] == [("WETH", 4), ("WETH", 5)]


def test_the_fault_injector_is_seeded_so_a_run_is_reproducible() -> None:
    def truth(seed: int) -> list[str]:
        server = FeedServer(faults=Faults(0.1, 0.1, 0.05, seed=seed))
        server.publish(500)
        return [p.text.split('"ts_ns"')[0] + str(p.valid) for p in server.truth]

    assert truth(1) == truth(1) != truth(2)
    with pytest.raises(ValueError, match="duplicate_rate 2 must be within"):
        Faults(duplicate_rate=2)


def published_runs(rate: float, count: int, burst: int) -> tuple[list[int], float]:
    """How many messages each `publish` call sent while `run` published `count`, and the
    time it took."""

    async def scenario() -> tuple[list[int], float]:
        server = FeedServer()
        runs: list[int] = []
        publish = server.publish

        def counted(n: int) -> None:
            runs.append(n)
            publish(n)

        server.publish = counted  # type: ignore[method-assign]
        loop = asyncio.get_running_loop()
        start = loop.time()
        await server.run(rate, count, burst=burst)
        return runs, loop.time() - start

    return asyncio.run(scenario())


def test_the_publisher_keeps_its_rate_one_message_at_a_time() -> None:
    """1,000 messages/s go out one at a time, each at its own deadline, and the rate holds: an
    event-loop timer wakes up to a millisecond late, and a publisher that slept 5 ms a tick
    sent bursts of five (or, sleeping late, fell behind its rate)."""
    runs, took = published_runs(1_000, 1_500, burst=1)
    assert sum(runs) == 1_500
    assert sorted(runs)[len(runs) // 2] == 1  # most deadlines publish one message
    assert 1.49 <= took < 1.9  # never ahead of the schedule, and not far behind it


def test_a_burst_publishes_that_many_together_at_the_asked_rate() -> None:
    runs, took = published_runs(1_000, 1_000, burst=5)
    assert sum(runs) == 1_000 and all(n % 5 == 0 for n in runs)
    assert 0.99 <= took < 1.4
    with pytest.raises(ValueError, match="burst 0 must be ≥ 1"):
        asyncio.run(FeedServer().run(1_000, 10, burst=0))


def test_during_a_close_outage_connections_are_refused_with_503() -> None:
    async def scenario() -> None:
        async with FeedServer() as server:
            await server.outage(5, "close")
            with pytest.raises(InvalidStatus, match="503"):
                await frames(server.url, {}, 1)

    asyncio.run(scenario())


def test_backoff_doubles_up_to_its_cap_with_bounded_jitter() -> None:
    import random

    rng = random.Random(1)
    waits = [backoff_delay(a, 0.1, 1.0, rng) for a in range(6)]
    assert all(0.05 <= w <= 0.1 for w in waits[:1]) and all(0.5 <= w <= 1.0 for w in waits[4:])


def test_zkrisk_feed_serve_streams_sequenced_quotes_until_its_count() -> None:
    port = free_port()
    with subprocess.Popen(
        [sys.executable, "-m", "zkrisk.engine.cli", "feed", "serve", "--port", str(port),
         "--rate", "200", "--count", "100", "--seed", "3"],
        cwd=REPO, stderr=subprocess.PIPE, text=True,
    ) as proc:  # fmt: skip
        assert proc.stderr is not None
        assert f"feed server on ws://127.0.0.1:{port}" in proc.stderr.readline()
        got = asyncio.run(frames(f"ws://127.0.0.1:{port}", {"WETH": 0, "WBTC": 0}, 20))
        assert {m["symbol"] for m in got} == {"WETH", "WBTC"}
        assert proc.wait(timeout=20) == 0


def test_zkrisk_feed_serve_refuses_a_bad_rate_and_a_missing_file() -> None:
    from typer.testing import CliRunner

    from zkrisk.engine.cli.main import app

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, ["feed", "serve", *args])
        return result.exit_code, result.output

    assert run("--duplicate-rate", "1.5")[0] == 2
    code, output = run("--file", "nope.jsonl")
    assert code == 2 and "--file nope.jsonl: no such file" in output


def test_a_server_that_keeps_no_truth_publishes_the_same_frames_and_holds_no_record() -> None:
    """`zkrisk feed serve` runs for hours: it keeps no `truth` (tests' record of what was
    meant), which otherwise grows by every message published; the frames are the same."""
    kept, lean = FeedServer(faults=Faults(0.1, 0.1, 0.05, seed=4)), FeedServer(
        faults=Faults(0.1, 0.1, 0.05, seed=4), keep_truth=False)  # fmt: skip
    for server in (kept, lean):
        server.publish(300)
    strip = [t.split('"ts_ns"')[0] for _n, t in kept._frames]
    assert [t.split('"ts_ns"')[0] for _n, t in lean._frames] == strip
    assert len(kept.truth) == 300 and lean.truth == []
