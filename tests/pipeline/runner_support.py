"""Helpers for the runner tests: a run config in a temp dir, the feed server and the runner as
real processes, and reading back what the run journaled."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

from zkrisk.engine.journal.base import JournalError
from zkrisk.engine.journal.events import Recorded
from zkrisk.engine.journal.sqlite import SQLiteJournal

from ..api.server_fixtures import free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
ZKRISK = [sys.executable, "-m", "zkrisk.engine.cli"]


def write_config(tmp: Path, port: int, *, extra: str = "", strategies: str | None = None,
                 breakers: str = "") -> Path:  # fmt: skip
    """examples/run.toml with its paths made absolute, the journal in `tmp` and `port`'s feed."""
    text = (EXAMPLES / "run.toml").read_text()
    for name in ("run-policy.toml", "assets.toml", "scenarios.csv"):
        text = text.replace(f'"{name}"', f'"{EXAMPLES / name}"')
    text = text.replace('"../build/run/journal.db"', f'"{tmp / "journal.db"}"')
    text = text.replace("ws://127.0.0.1:8765", f"ws://127.0.0.1:{port}")
    text = text.replace("ws://127.0.0.1:8766", f"ws://127.0.0.1:{free_port()}")
    if strategies is not None:
        head, _, rest = text.partition("[[signal.strategies]]")
        text = head + strategies + "\n[monitor]" + rest.split("[monitor]", 1)[1]
    if breakers:
        head, _, _ = text.partition("[monitor.breakers]")
        text = head + "[monitor.breakers]\n" + breakers + "\n"
    path = tmp / "run.toml"
    path.write_text(text + extra)
    return path


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1].decode()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port} after {timeout} s")


def start_feed(port: int, *args: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([*ZKRISK, "feed", "serve", "--port", str(port), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    wait_for_port(port, proc)
    return proc


def start_runner(config: Path, *args: str, env: dict[str, str] | None = None,
                 ) -> subprocess.Popen[bytes]:  # fmt: skip
    return subprocess.Popen([*ZKRISK, "run", "--config", str(config), "--no-live", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})  # fmt: skip


def zkrisk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ZKRISK, *args], capture_output=True, text=True, timeout=120)


def records(journal_path: Path) -> list[Recorded]:
    with closing(SQLiteJournal(journal_path, readonly=True)) as journal:
        return list(journal.iter_from(0))


def records_so_far(journal_path: Path) -> list[Recorded]:
    """What a live run journaled so far ([] while the runner is still creating the file)."""
    try:
        return records(journal_path)
    except JournalError:
        return []


def count_types(recs: list[Recorded]) -> Counter[str]:
    return Counter(r.event.type for r in recs)


def wait_until(predicate: object, timeout: float = 30, what: str = "condition") -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout} s")
        time.sleep(0.1)
