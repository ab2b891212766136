"""`zkrisk` start-up pays only for the command that runs: no command module imports web3, the
chain layer, the service or the prover at its top (they cost seconds, on every invocation).

Python's `-X importtime` lists every module a fresh interpreter imports; the test reads that
list, so it fails whichever module re-adds a heavy top-level import. It never measures time.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

#: Modules (and their submodules) that no `zkrisk --version` / `--help` may import: each one
#: belongs inside the command that uses it.
HEAVY = (
    "web3",
    "eth_account",
    "fastapi",
    "uvicorn",
    "numpy",
    "zkrisk.engine.chain",
    "zkrisk.engine.keeper",
    "zkrisk.engine.api",
    "zkrisk.engine.pipeline",
    "zkrisk.prover.backends",
)

_LINE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|( *)(\S+)$")


def imported_modules(*args: str) -> list[tuple[int, str]]:
    """(depth, module) of each import of a fresh `python -m zkrisk.engine.cli ARGS`, in the
    order `-X importtime` reports them (a module after the modules it imported)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "zkrisk.engine.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = [m for m in map(_LINE.match, done.stderr.splitlines()) if m]
    assert found, f"no -X importtime lines on stderr:\n{done.stderr[-2000:]}"
    return [(len(m.group(1)) // 2, m.group(2)) for m in found]


def import_chain(modules: list[tuple[int, str]], index: int) -> list[str]:
    """The module at `index` and who imported it, outermost first (ancestors follow a module
    in the report, each one level shallower)."""
    depth, name = modules[index]
    chain = [name]
    for d, parent in modules[index + 1 :]:
        if d < depth:
            chain.append(parent)
            depth = d
    return chain[::-1]


def _heavy(name: str) -> bool:
    return any(name == h or name.startswith(h + ".") for h in HEAVY)


def heavy_imports(modules: list[tuple[int, str]]) -> list[str]:
    """`a > b > heavy` for each heavy module imported by a module that is not heavy itself."""
    chains = (import_chain(modules, i) for i, (_, name) in enumerate(modules) if _heavy(name))
    return [" > ".join(c) for c in chains if not any(map(_heavy, c[:-1]))]


@pytest.mark.parametrize("args", [("--version",), ("chain", "deploy", "--help")], ids=" ".join)
def test_cli_start_up_when_no_command_needs_them_then_imports_no_heavy_module(
    args: tuple[str, ...],
) -> None:
    modules = imported_modules(*args)
    assert any(name == "zkrisk.engine.cli.main" for _, name in modules)  # the list is real
    heavy = heavy_imports(modules)
    assert not heavy, (
        "imported at start-up (import them inside the command that uses them):\n" + "\n".join(heavy)
    )
