"""Compile zkrisk's contracts with py-solc-x (a native solc, or the shim over npm solc).

Outputs are cached in build/solc/ by a hash of the standard-JSON input, every Solidity file under
contracts/src and node_modules/@openzeppelin (imports are resolved by the compiler, so they are
hashed too) and the compiler binary, so repeated test runs and benchmarks skip solc.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import solcx

from zkrisk.prover.toolchain import find_node_modules, solc_binary

SOLC_SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "cancun",
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
}


#: npm packages whose Solidity is imported (remapped as in contracts/foundry.toml; hashed into
#: the cache key because the compiler reads them).
REMAPPED_PACKAGES = (
    "@openzeppelin/contracts",
    "@pythnetwork/pyth-sdk-solidity",
    "@safe-global/safe-contracts",
)
HASHED_SOURCES = (
    "@openzeppelin/contracts",
    "@pythnetwork/pyth-sdk-solidity",
    "@safe-global/safe-contracts/contracts",  # not its build/ folder of artefacts
)


class CompileError(RuntimeError):
    """solc reported errors; the message lists them."""


@dataclass(frozen=True)
class CompiledContract:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str


def _cache_key(standard_input: dict[str, Any], base: Path, node_modules: Path) -> str:
    h = hashlib.sha256(json.dumps(standard_input, sort_keys=True).encode())
    roots = [base / "src", *(node_modules / pkg for pkg in HASHED_SOURCES)]
    for root in roots:
        for path in sorted(p for p in root.rglob("*.sol") if p.is_file()) if root.is_dir() else []:
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
    binary = solc_binary()
    h.update(str(binary).encode())
    h.update(str(binary.stat().st_mtime_ns).encode())
    return h.hexdigest()[:24]


def _compile(
    standard_input: dict[str, Any], base: Path, node_modules: Path, cache: Path | None
) -> dict[str, Any]:
    cached = cache / f"{_cache_key(standard_input, base, node_modules)}.json" if cache else None
    if cached is not None and cached.is_file():
        result: dict[str, Any] = json.loads(cached.read_text())
        return result
    try:
        output: dict[str, Any] = solcx.compile_standard(
            standard_input,
            solc_binary=solc_binary(),
            base_path=str(base),
            allow_paths=[str(base), str(node_modules)],
        )
    except solcx.exceptions.SolcError as exc:
        raise CompileError(str(exc)) from None
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompileError("\n".join(e["formattedMessage"] for e in errors))
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a parallel run never reads a half-written cache file.
        tmp = cached.with_name(f"{cached.name}.{os.getpid()}-{secrets.token_hex(4)}")
        tmp.write_text(json.dumps(output))
        tmp.replace(cached)
    return output


def compile_sources(
    sources: dict[str, Path], *, base: Path, cache: Path | None = None
) -> dict[str, CompiledContract]:
    """Compile `{unit name: file}`; imports resolve from `base` and node_modules remappings.

    With `cache` (a folder), identical inputs are compiled once.
    """
    node_modules = find_node_modules()
    settings = dict(SOLC_SETTINGS)
    settings["remappings"] = [f"{pkg}/={node_modules}/{pkg}/" for pkg in REMAPPED_PACKAGES]
    standard_input = {
        "language": "Solidity",
        "sources": {unit: {"content": path.read_text()} for unit, path in sources.items()},
        "settings": settings,
    }
    output = _compile(standard_input, base, node_modules, cache)
    contracts: dict[str, CompiledContract] = {}
    for unit in output["contracts"].values():
        for name, data in unit.items():
            contracts[name] = CompiledContract(
                name, data["abi"], "0x" + data["evm"]["bytecode"]["object"]
            )
    return contracts


def dump_abi(contract: CompiledContract, path: Path) -> None:
    path.write_text(json.dumps(contract.abi, indent=1) + "\n")
