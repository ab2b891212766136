"""Start and stop a real Anvil node on a free loopback port (tests, demo, benchmarks)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from web3 import Web3

from zkrisk.prover.toolchain import tool_command

from ..anvil_keys import DEV_ATTESTER as DEV_ATTESTER
from ..anvil_keys import DEV_GUARDIAN as DEV_GUARDIAN
from ..anvil_keys import DEV_OWNERS as DEV_OWNERS
from ..anvil_keys import DEV_PRIVATE_KEYS as DEV_PRIVATE_KEYS


class AnvilError(RuntimeError):
    """Anvil could not be started or did not answer."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class AnvilNode:
    process: subprocess.Popen[bytes]
    port: int
    chain_id: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def web3(self) -> Web3:
        return Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 30}))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process.stderr is not None:
            self.process.stderr.close()


def start_anvil(
    *, chain_id: int = 31337, fork_url: str | None = None, timeout: float = 20.0
) -> AnvilNode:
    port = free_port()
    argv = [*tool_command("anvil"), "--host", "127.0.0.1", "--port", str(port),
            "--chain-id", str(chain_id), "--silent", "--gas-limit", "60000000"]  # fmt: skip
    if fork_url:
        argv += ["--fork-url", fork_url]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    node = AnvilNode(process, port, chain_id)
    deadline = time.monotonic() + timeout
    w3 = node.web3()
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode() if process.stderr else ""
            raise AnvilError(f"anvil exited with {process.returncode}: {err.strip()[-500:]}")
        try:
            if w3.eth.chain_id == chain_id:
                return node
        except Exception:
            time.sleep(0.05)
    node.stop()
    raise AnvilError(f"anvil did not answer on {node.url} within {timeout}s")


@contextmanager
def anvil(**kwargs: object) -> Iterator[AnvilNode]:
    """A running Anvil node for the duration of the block; always stopped afterwards."""
    node = start_anvil(**kwargs)  # type: ignore[arg-type]
    try:
        yield node
    finally:
        node.stop()
