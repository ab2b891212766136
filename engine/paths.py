"""Where the repository's data lives (circuits, contracts, build artefacts)."""

from __future__ import annotations

import os
from pathlib import Path

from zkrisk.prover.toolchain import find_node_modules


def repo_root() -> Path:
    """$ZKRISK_ROOT, else the folder that holds zkrisk's node_modules."""
    env = os.environ.get("ZKRISK_ROOT")
    return Path(env).resolve() if env else find_node_modules().parent


def registry_path() -> Path:
    return repo_root() / "circuits" / "circuits.json"


def contracts_src() -> Path:
    return repo_root() / "contracts" / "src"
