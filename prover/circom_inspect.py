"""`circom --inspect` over a registered circuit: unconstrained and unused signals as findings.

circom's inspector reports signals assigned with `<--` but never constrained, outputs nobody
reads and similar smells (warnings CA01, CA02 …); intentional ones are marked `_ <==` in the
templates. A circuit is clean when the inspector finds nothing.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from .registry import CircuitSpec
from .toolchain import find_node_modules, run_tool

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def inspect_circuit(spec: CircuitSpec, repo: Path) -> list[str]:
    """The inspector's warnings for `spec` (empty when clean); compile errors raise ToolFailed."""
    repo = repo.resolve()
    work = repo / "build" / "inspect" / spec.name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    main = work / "main.circom"
    include = Path(*[".."] * len(work.relative_to(repo).parts)) / spec.file
    main.write_text(spec.main_source(include.as_posix()))
    # circom2 (WASM) sees only files below its working directory: run from the repo root.
    proc = run_tool(
        "circom",
        [str(main.relative_to(repo)), "--inspect", "-l", str(find_node_modules().relative_to(repo)),
         "-o", str(work.relative_to(repo))],
        cwd=repo,
    )  # fmt: skip
    text = _ANSI.sub("", proc.stdout + "\n" + proc.stderr)
    return [
        line.strip() for line in text.splitlines() if line.strip().lower().startswith("warning")
    ]
