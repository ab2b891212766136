"""Prover fixtures: Health(4) with its C++ witness generator, one warm backend of each kind."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import REPO
from zkrisk.prover import cpp_witness
from zkrisk.prover.artifacts import CircuitArtifacts, build
from zkrisk.prover.backends import BACKEND_NAMES, ProvingBackend, create_backend
from zkrisk.prover.registry import CircuitSpec


@pytest.fixture(scope="session")
def health4_cpp(registry: dict[str, CircuitSpec], health4: CircuitArtifacts) -> CircuitArtifacts:
    """Health(4) with circom's C++ witness generator built (skips where it cannot be built)."""
    missing = cpp_witness.missing_build_deps()
    if missing:
        pytest.skip(f"C++ witness generator not buildable here: missing {', '.join(missing)}")
    artifacts = build(registry["health4"], REPO, cpp=True, log=lambda _line: None)
    assert artifacts.compiled.witness_binary is not None
    return artifacts


@pytest.fixture(scope="module")
def backends() -> Iterator[dict[str, ProvingBackend]]:
    """One of each backend for the module; closing them stops their helper processes."""
    made = {name: create_backend(name) for name in BACKEND_NAMES}
    try:
        yield made
    finally:
        for backend in made.values():
            backend.close()
