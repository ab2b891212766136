"""A real NATS server with JetStream per test, on a free loopback port (import the fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from zkrisk.engine.natsio.server import NatsNode, start_nats


@pytest.fixture
def nats_node(tmp_path: Path) -> Iterator[NatsNode]:
    node = start_nats(tmp_path / "nats")
    try:
        yield node
    finally:
        node.stop()
