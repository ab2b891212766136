"""A dev vault stack per test module, on the module's Anvil node (tests/conftest.py)."""

from __future__ import annotations

import pytest

from zkrisk.engine.chain.anvil import AnvilNode
from zkrisk.prover.artifacts import CircuitArtifacts

from .world import VaultWorld


@pytest.fixture(scope="module")
def world(anvil_node: AnvilNode, health4: CircuitArtifacts) -> VaultWorld:
    return VaultWorld.deploy(anvil_node, health4)
