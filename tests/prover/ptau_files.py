"""Real foreign ptau files for tests: truncations of the shared dev ptau (about a second)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from zkrisk.prover import ptau as ptau_mod
from zkrisk.prover.toolchain import tool_command


def shared_pot14() -> Path:
    """../shared/ptau/dev_pot14.ptau (skips the test where it is not beside the checkout)."""
    for folder, source in ptau_mod.search_dirs():
        candidate = folder / "dev_pot14.ptau"
        if source == "shared" and candidate.is_file():
            return candidate
    pytest.skip("../shared/ptau/dev_pot14.ptau is not beside this checkout")


def truncated_ptaus(folder: Path) -> dict[int, Path]:
    """Prepared ptau files of power 12 and 13 in `folder`, cut from the shared power-14 one."""
    source = folder / "pot.ptau"  # snarkjs opens the source read-write: use a copy
    shutil.copyfile(shared_pot14(), source)
    # Writes pot_01.ptau … pot_13.ptau beside the source.
    truncate = [*tool_command("snarkjs"), "powersoftau", "truncate", str(source)]
    subprocess.run(truncate, check=True, capture_output=True)
    source.unlink()
    return {power: folder / f"pot_{power}.ptau" for power in (12, 13)}


def half_written(source: Path, target: Path) -> None:
    """The first bytes of a real ptau, as a generation interrupted mid-write leaves it."""
    target.write_bytes(source.read_bytes()[:30])
