"""Shared fixtures: the repository, built circuit artefacts, a real Anvil node.

The run gets its own zkrisk cache ($ZKRISK_CACHE, where generated dev ptau files go): a ptau
some other process left in the user's cache must not change which setup a test gets.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from zkrisk.engine.chain.anvil import DEV_PRIVATE_KEYS, AnvilNode, start_anvil
from zkrisk.engine.chain.client import ChainClient
from zkrisk.prover.artifacts import CircuitArtifacts, build
from zkrisk.prover.registry import CircuitSpec, load_registry

REPO = Path(__file__).resolve().parents[1]
_SESSION_CACHE: list[str] = []

# Input generation is timed by Hypothesis; on two cores shared by two workers and their child
# processes a slow draw says nothing about the code under test (the examples still all run).
settings.register_profile("zkrisk", suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("zkrisk")


def pytest_configure(config: pytest.Config) -> None:
    """Point $ZKRISK_CACHE at a fresh folder for this run (removed at the end)."""
    if not _SESSION_CACHE:
        _SESSION_CACHE.append(tempfile.mkdtemp(prefix="zkrisk-test-cache-"))
        os.environ["ZKRISK_CACHE"] = _SESSION_CACHE[0]


def pytest_unconfigure(config: pytest.Config) -> None:
    if _SESSION_CACHE:
        shutil.rmtree(_SESSION_CACHE.pop(), ignore_errors=True)


@pytest.fixture(scope="session")
def session_cache() -> Path:
    """The run's own zkrisk cache folder ($ZKRISK_CACHE)."""
    return Path(os.environ["ZKRISK_CACHE"])


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
