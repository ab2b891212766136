"""Find node and every JS tool zkrisk drives; say exactly how to install what is missing.

The JS tools come from npm (pinned in package.json, locked in package-lock.json) and live in a
`node_modules` folder. We look for it in `$ZKRISK_NODE_MODULES`, then upwards from the current
directory, then upwards from this package (an editable install inside the repository).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SOLC_SHIM = PACKAGE_DIR / "js" / "solc-shim.js"

#: npm package providing each tool, and the file inside it that we execute with node.
NPM_TOOLS: dict[str, tuple[str, str]] = {
    "circom": ("circom2", "cli.js"),
    "snarkjs": ("snarkjs", "build/cli.cjs"),
    "solc-js": ("solc", "solc.js"),
}
#: npm packages shipping native binaries, executed directly.
NATIVE_NPM_TOOLS: dict[str, tuple[str, str]] = {
    "anvil": ("@foundry-rs/anvil-linux-amd64", "bin/anvil"),
    "forge": ("@foundry-rs/forge-linux-amd64", "bin/forge"),
}
#: npm packages used as libraries (circom include path, Solidity remappings).
LIBRARY_PACKAGES = ("circomlib", "circomlibjs", "@openzeppelin/contracts", "forge-std")


class ToolchainError(RuntimeError):
    """A tool is missing; the message is one line naming it and the command that installs it."""


def _ancestors(start: Path) -> list[Path]:
    start = start.resolve()
    return [start, *start.parents]


@cache
def find_node_modules() -> Path:
    """The `node_modules` folder holding zkrisk's pinned JS toolchain."""
    env = os.environ.get("ZKRISK_NODE_MODULES")
    if env:
        path = Path(env)
        if (path / "snarkjs").is_dir():
            return path.resolve()
        raise ToolchainError(
            f"ZKRISK_NODE_MODULES={env} holds no snarkjs: run `npm ci` there or unset the variable"
        )
    for base in [*_ancestors(Path.cwd()), *_ancestors(PACKAGE_DIR)]:
        candidate = base / "node_modules"
        if (candidate / "snarkjs").is_dir() or (base / "package-lock.json").is_file():
            if candidate.is_dir():
                return candidate
            raise ToolchainError(
                f"node_modules missing in {base}: run `npm ci` in {base} (or `make setup`)"
            )
    raise ToolchainError(
        "zkrisk's JS toolchain (node_modules) not found: run `npm ci` in the zkrisk repository "
        "or set ZKRISK_NODE_MODULES"
    )


@cache
def node() -> Path:
    """The node executable (Node.js ≥ 20)."""
    found = shutil.which("node")
    if not found:
        raise ToolchainError(
            "node not found on PATH: install Node.js 20+ (`apt-get install -y nodejs npm`)"
        )
    return Path(found)


def npm_package_dir(package: str) -> Path:
    """Folder of an installed npm package, or a ToolchainError naming the install command."""
    modules = find_node_modules()
    folder = modules / package
    if not (folder / "package.json").is_file():
        raise ToolchainError(
            f"npm package {package} not installed in {modules}: run `npm ci` in {modules.parent}"
        )
    return folder


def tool_command(tool: str) -> list[str]:
    """argv prefix that runs `tool` (circom, snarkjs, solc-js, anvil, forge)."""
    if tool in NPM_TOOLS:
        package, entry = NPM_TOOLS[tool]
        script = npm_package_dir(package) / entry
        if not script.is_file():
            raise ToolchainError(
                f"{tool}: {script} missing; reinstall with `npm ci` in {find_node_modules().parent}"
            )
        return [str(node()), str(script)]
    if tool in NATIVE_NPM_TOOLS:
        package, entry = NATIVE_NPM_TOOLS[tool]
        binary = npm_package_dir(package) / entry
        if not os.access(binary, os.X_OK):
            raise ToolchainError(
                f"{tool}: {binary} is not executable; reinstall with `npm ci` in "
                f"{find_node_modules().parent}"
            )
        return [str(binary)]
    raise ValueError(f"unknown tool {tool!r}; known: {sorted({*NPM_TOOLS, *NATIVE_NPM_TOOLS})}")


@cache
def solc_binary() -> Path:
    """A solc executable: a native `solc` on PATH when present, else the npm-solc shim."""
    native = shutil.which("solc")
    if native:
        return Path(native)
    npm_package_dir("solc")  # fail early, with the install hint, if the npm package is missing
    node()
    return SOLC_SHIM


def run_tool(
    tool: str,
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    timeout: float = 1800,
    input_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a tool to completion; a non-zero exit raises ToolFailed with its output."""
    argv = [*tool_command(tool), *args]
    proc = subprocess.run(
        argv,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input_text,
        check=False,
    )
    if proc.returncode != 0:
        raise ToolFailed(tool, argv, proc.returncode, proc.stdout, proc.stderr)
    return proc


class ToolFailed(RuntimeError):
    """A tool ran and exited non-zero."""

    def __init__(self, tool: str, argv: Sequence[str], code: int, stdout: str, stderr: str):
        tail = (stderr.strip() or stdout.strip())[-2000:]
        super().__init__(f"{tool} exited {code}: {tail}")
        self.tool = tool
        self.argv = list(argv)
        self.code = code
        self.stdout = stdout
        self.stderr = stderr


@dataclass(frozen=True)
class ToolVersions:
    """Versions that make up the toolchain part of an artefact's content hash."""

    circom: str
    snarkjs: str
    circomlib: str
    node: str

    def as_dict(self) -> dict[str, str]:
        return {
            "circom": self.circom,
            "snarkjs": self.snarkjs,
            "circomlib": self.circomlib,
            "node": self.node,
        }


def _package_version(package: str) -> str:
    import json

    data = json.loads((npm_package_dir(package) / "package.json").read_text())
    return str(data["version"])


@cache
def tool_versions() -> ToolVersions:
    node_version = subprocess.run(
        [str(node()), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return ToolVersions(
        circom=_package_version("circom2"),
        snarkjs=_package_version("snarkjs"),
        circomlib=_package_version("circomlib"),
        node=node_version,
    )


def check_all() -> dict[str, str]:
    """Resolve every tool and library; returns name -> location. Raises on the first missing."""
    found = {"node": str(node()), "node_modules": str(find_node_modules())}
    for tool in [*NPM_TOOLS, *NATIVE_NPM_TOOLS]:
        found[tool] = " ".join(tool_command(tool))
    for package in LIBRARY_PACKAGES:
        found[package] = str(npm_package_dir(package))
    found["solc"] = str(solc_binary())
    return found
