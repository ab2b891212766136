"""Compile zkrisk's contracts with py-solc-x (a native solc, or the shim over npm solc)."""

from __future__ import annotations

import json
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


class CompileError(RuntimeError):
    """solc reported errors; the message lists them."""


@dataclass(frozen=True)
class CompiledContract:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str


def compile_sources(sources: dict[str, Path], *, base: Path) -> dict[str, CompiledContract]:
    """Compile `{unit name: file}`; imports resolve from `base` and node_modules remappings."""
    node_modules = find_node_modules()
    settings = dict(SOLC_SETTINGS)
    settings["remappings"] = [
        f"@openzeppelin/contracts/={node_modules}/@openzeppelin/contracts/",
    ]
    standard_input = {
        "language": "Solidity",
        "sources": {unit: {"content": path.read_text()} for unit, path in sources.items()},
        "settings": settings,
    }
    try:
        output = solcx.compile_standard(
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
    contracts: dict[str, CompiledContract] = {}
    for unit in output["contracts"].values():
        for name, data in unit.items():
            contracts[name] = CompiledContract(
                name, data["abi"], "0x" + data["evm"]["bytecode"]["object"]
            )
    return contracts


def dump_abi(contract: CompiledContract, path: Path) -> None:
    path.write_text(json.dumps(contract.abi, indent=1) + "\n")
