"""Shared fixtures: the repository, built circuit artefacts, a real Anvil node."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from zkrisk.engine.chain.anvil import DEV_PRIVATE_KEYS, AnvilNode, start_anvil
from zkrisk.engine.chain.client import ChainClient
from zkrisk.prover.artifacts import CircuitArtifacts, build
from zkrisk.prover.registry import CircuitSpec, load_registry

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def registry() -> dict[str, CircuitSpec]:
    return load_registry(REPO / "circuits" / "circuits.json")


@pytest.fixture(scope="session")
def health4(registry: dict[str, CircuitSpec]) -> CircuitArtifacts:
    """Health(4) compiled and set up once per run (cached across runs by content hash)."""
    return build(registry["health4"], REPO, log=lambda _line: None)


@pytest.fixture(scope="module")
def anvil_node() -> Iterator[AnvilNode]:
    node = start_anvil()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="module")
def chain(anvil_node: AnvilNode) -> ChainClient:
    return ChainClient.connect(anvil_node.url, DEV_PRIVATE_KEYS[0])
