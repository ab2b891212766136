"""circom's C++ witness generator: built with make when the Debian build deps are present.

It computes a witness in a few milliseconds with no Node at all, and on a failed assert it names
the exact component (`main.collateralBits[2].bits`). It needs g++, make, nasm, the GMP and
nlohmann-json headers, and an x86_64 machine (circom's field arithmetic is x86_64 assembly);
without them every backend uses the WASM calculator instead.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from .publish import private_tmp, publish
from .signals import Signals, signals_json
from .toolchain import find_node_modules, run_tool

INSTALL_HINT = "apt-get install -y g++ make nasm libgmp-dev nlohmann-json3-dev"
FOLDER = "main_cpp"  # inside the compile folder: same sources, same witness layout
BINARY = "main_c"  # circom reserves `main` under --c and names the program main_c
# -O1: the generated main_c.cpp is megabytes of straight-line code; -O3 doubles the build time
# (40 s vs 22 s for Health(4)) for no measurable gain on a witness that takes milliseconds.
CFLAGS = "-std=c++11 -O1 -I."
_INCLUDE_DIRS = (Path("/usr/include"), Path("/usr/local/include"))


class CppWitnessFailed(RuntimeError):
    """The generator exited non-zero; `output` is what it printed (the failed assert)."""

    def __init__(self, output: str) -> None:
        super().__init__(output.strip()[-2000:] or "the C++ witness generator failed")
        self.output = output


def _header_found(name: str) -> bool:
    arch_dirs = [d / f"{platform.machine()}-linux-gnu" for d in _INCLUDE_DIRS]
    return any((d / name).is_file() for d in (*_INCLUDE_DIRS, *arch_dirs))


def missing_build_deps() -> list[str]:
    """What is missing to build the generator here (empty when it can be built)."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return [f"an x86_64 machine (circom's C++ field code is x86_64 assembly; this is "
                f"{platform.machine()})"]  # fmt: skip
    missing = [tool for tool in ("make", "g++", "nasm") if shutil.which(tool) is None]
    missing += [f"{h} ({pkg})" for h, pkg in (("gmp.h", "libgmp-dev"),
                ("nlohmann/json.hpp", "nlohmann-json3-dev")) if not _header_found(h)]  # fmt: skip
    return missing


def binary_in(compile_folder: Path) -> Path | None:
    """The built generator of a compiled circuit, or None when it was not built."""
    binary = compile_folder / FOLDER / BINARY
    return binary if binary.is_file() and os.access(binary, os.X_OK) else None


def build(compile_folder: Path, repo: Path, *, log: Callable[[str], None]) -> Path | None:
    """Build the generator for the circuit compiled in `compile_folder` (cached); None if we can't.

    Without the build deps this logs what to install and returns None: witnesses then come from
    the WASM calculator, which gives the same witness, only slower.
    """
    done = binary_in(compile_folder)
    if done is not None:
        return done
    missing = missing_build_deps()
    if missing:
        log(f"C++ witness generator skipped: missing {', '.join(missing)} "
            f"(`{INSTALL_HINT}`); witnesses use WASM")  # fmt: skip
        return None
    folder = compile_folder / FOLDER
    log(f"building the C++ witness generator in {folder.relative_to(repo)} (circom --c, make; "
        "~20 s per 3k constraints) …")  # fmt: skip
    tmp = private_tmp(folder)
    try:
        # Same circom, same --O2, same main.circom as the WASM build: the same witness layout.
        run_tool(
            "circom",
            [str((compile_folder / "main.circom").relative_to(repo)), "--c", "--O2",
             "-l", str(find_node_modules().relative_to(repo)), "-o", str(tmp.relative_to(repo))],
            cwd=repo,
        )  # fmt: skip
        sources = tmp / f"{BINARY}_cpp"
        made = subprocess.run(
            ["make", f"-j{os.cpu_count() or 1}", f"CFLAGS={CFLAGS}"],
            cwd=sources, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if made.returncode != 0:
            tail = (made.stderr.strip() or made.stdout.strip())[-1500:]
            log(f"C++ witness generator build failed; witnesses use WASM. make said:\n{tail}")
            return None
        for name in (BINARY, f"{BINARY}.dat"):  # the binary reads the .dat beside itself
            (sources / name).rename(tmp / name)
        shutil.rmtree(sources)
        publish(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone already unless the build failed
    return binary_in(compile_folder)


def calculate(binary: Path, signals: Signals, out: Path, *, timeout: float = 600) -> Path:
    """Write the witness for `signals` to `out`; CppWitnessFailed with the generator's output."""
    inputs = out.with_suffix(".input.json")
    inputs.write_text(json.dumps(signals_json(signals)))
    proc = subprocess.run(
        [str(binary), str(inputs), str(out)],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    if proc.returncode != 0 or not out.is_file():
        raise CppWitnessFailed(proc.stdout + proc.stderr)
    return out
