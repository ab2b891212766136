"""Compile a registered circuit and run its Groth16 setup, cached by content hash.

Layout (one folder per circuit build, under <repo>/build/circuits/):

    <name>-<sources hash>/            compile output: main.circom, main.r1cs, main.sym, main_js/
        main_cpp/                     optional C++ witness generator (main_c + main_c.dat)
        setup-<ptau hash>/            circuit.zkey, verification_key.json, <Name>Verifier.sol,
                                      meta.json (constraints, ptau, dev flag, zkey verified,
                                      versions)

The sources hash covers the circuit's file and every file it includes (transitively, circomlib
too), the registry entry and the toolchain versions; the setup hash adds the ptau. Nothing is
rebuilt unless one of those changes, and editing one template rebuilds only the circuits that
include it. Builds write to a private temporary folder and rename it into place, so two
processes building the same circuit at once cannot corrupt each other.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import cpp_witness
from .binfmt import R1csInfo, read_r1cs_info
from .ptau import Ptau, resolve_ptau
from .publish import private_tmp as _private_tmp
from .publish import publish as _publish
from .registry import CircuitSpec
from .toolchain import find_node_modules, run_tool, tool_versions

Log = Callable[[str], None]


class BudgetExceeded(RuntimeError):
    """A circuit has more constraints than its registry budget allows."""


@dataclass(frozen=True)
class CompiledCircuit:
    spec: CircuitSpec
    folder: Path
    info: R1csInfo

    @property
    def r1cs(self) -> Path:
        return self.folder / "main.r1cs"

    @property
    def wasm(self) -> Path:
        return self.folder / "main_js" / "main.wasm"

    @property
    def sym(self) -> Path:
        return self.folder / "main.sym"

    @property
    def witness_binary(self) -> Path | None:
        """The C++ witness generator, when it was built (`compile_circuit(..., cpp=True)`)."""
        return cpp_witness.binary_in(self.folder)


@dataclass(frozen=True)
class CircuitArtifacts:
    """Everything needed to prove and verify one circuit."""

    compiled: CompiledCircuit
    folder: Path
    dev_ptau: bool

    @property
    def spec(self) -> CircuitSpec:
        return self.compiled.spec

    @property
    def zkey(self) -> Path:
        return self.folder / "circuit.zkey"

    @property
    def vkey(self) -> Path:
        return self.folder / "verification_key.json"

    @property
    def verifier_sol(self) -> Path:
        return self.folder / f"{self.spec.contract_name}.sol"

    @property
    def meta(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.folder / "meta.json").read_text())
        return data


def _digest(parts: list[bytes]) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()[:16]


_INCLUDE = re.compile(r'^\s*include\s+"([^"]+)"\s*;', re.MULTILINE)


def include_closure(entry: Path, search: list[Path]) -> list[Path]:
    """`entry` and every file it includes, resolved as circom does (own folder, then -l paths)."""
    seen: dict[Path, None] = {}
    stack = [entry.resolve()]
    while stack:
        path = stack.pop()
        if path in seen:
            continue
        seen[path] = None
        for name in _INCLUDE.findall(path.read_text()):
            candidates = [path.parent / name, *(root / name for root in search)]
            found = next((c.resolve() for c in candidates if c.is_file()), None)
            if found is None:
                raise FileNotFoundError(f"{path}: include {name!r} not found")
            stack.append(found)
    return sorted(seen)


def sources_hash(spec: CircuitSpec, repo: Path) -> str:
    parts = [json.dumps(asdict(spec), sort_keys=True).encode()]
    parts.append(json.dumps(tool_versions().as_dict(), sort_keys=True).encode())
    for path in include_closure(repo / spec.file, [find_node_modules()]):
        parts.append(path.name.encode())
        parts.append(path.read_bytes())
    return _digest(parts)


def build_root(repo: Path) -> Path:
    return repo / "build" / "circuits"


def compile_circuit(
    spec: CircuitSpec, repo: Path, *, cpp: bool = False, log: Log = print
) -> CompiledCircuit:
    """circom → r1cs, wasm, sym; skipped when the same sources were compiled before.

    `cpp=True` also builds circom's C++ witness generator (cached beside the rest) when the
    Debian build deps are present; without them it logs what to install and carries on: the
    WASM calculator computes the same witness.
    """
    repo = repo.resolve()
    folder = build_root(repo) / f"{spec.name}-{sources_hash(spec, repo)}"
    done = folder / ".compiled"
    if not done.exists():
        tmp = _private_tmp(folder)
        try:
            main = tmp / "main.circom"
            include = Path(*[".."] * len(main.parent.relative_to(repo).parts)) / spec.file
            main.write_text(spec.main_source(include.as_posix()))
            log(f"compiling {spec.name} ({spec.template}{list(spec.params)}) with circom --O2 …")
            # circom2 (WASM) only sees files below its working directory: run from the repo root
            # with repo-relative paths.
            node_modules = find_node_modules().relative_to(repo)
            run_tool(
                "circom",
                [str(main.relative_to(repo)), "--r1cs", "--wasm", "--sym", "--O2",
                 "-l", str(node_modules), "-o", str(tmp.relative_to(repo))],
                cwd=repo,
            )  # fmt: skip
            (tmp / ".compiled").write_text("ok\n")
            _publish(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # gone already unless the build failed
    compiled = CompiledCircuit(spec, folder, read_r1cs_info(folder / "main.r1cs"))
    check_budget(compiled)
    if cpp:
        cpp_witness.build(folder, repo, log=log)
    return compiled


def check_budget(compiled: CompiledCircuit) -> None:
    budget = compiled.spec.budget
    n = compiled.info.n_constraints
    if budget is not None and n > budget:
        raise BudgetExceeded(
            f"{compiled.spec.name}: {n:,} constraints exceed the budget of {budget:,} "
            "set in circuits/circuits.json"
        )


def _add_header(source: str, spec: CircuitSpec, ptau: Ptau) -> str:
    versions = tool_versions()
    warning = (
        "// WARNING: set up from a DEVELOPMENT ptau whose toxic waste is known — NOT for real funds.\n"
        if ptau.dev
        else ""
    )
    header = (
        f"// GENERATED by zkrisk.prover with snarkjs {versions.snarkjs} "
        f"(circom2 {versions.circom}) for circuit {spec.name!r}: {spec.template}{list(spec.params)}\n"
        f"// Public signals, in order: {', '.join(spec.public)}\n{warning}"
    )
    renamed = re.sub(r"contract Groth16Verifier\b", f"contract {spec.contract_name}", source)
    return header + renamed


def _verify_zkey(compiled: CompiledCircuit, ptau: Ptau, zkey: Path, log: Log) -> float:
    """snarkjs zkey verify against the r1cs and the ptau; returns the seconds it took."""
    log(f"verifying the {compiled.spec.name} zkey against its r1cs and ptau (zkey verify) …")
    start = time.perf_counter()
    run_tool("snarkjs", ["zkey", "verify", str(compiled.r1cs), str(ptau.path), str(zkey)])
    return round(time.perf_counter() - start, 1)


def _mark_verified(artifacts: CircuitArtifacts, seconds: float) -> None:
    """Record a late zkey verification in meta.json (atomic replace: readers see old or new)."""
    meta = artifacts.meta
    meta.update(zkey_verified=True, zkey_verify_seconds=seconds)
    tmp = artifacts.folder / f"meta.json.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    tmp.write_text(json.dumps(meta, indent=2) + "\n")
    tmp.replace(artifacts.folder / "meta.json")


def setup_circuit(
    compiled: CompiledCircuit,
    *,
    ptau_path: Path | None = None,
    generate_ptau: bool = True,
    verify_zkey: bool = True,
    log: Log = print,
) -> CircuitArtifacts:
    """Groth16 setup with one phase-2 contribution; exports the vkey and Solidity verifier.

    `verify_zkey` (default on) checks the zkey against the r1cs and the ptau with snarkjs once
    per setup, recorded in meta.json; a setup cached before without the check is checked now.
    """
    ptau = resolve_ptau(compiled.info.min_ptau_power, ptau_path, generate=generate_ptau, log=log)
    folder = compiled.folder / f"setup-{_digest([ptau.sha256().encode()])}"
    if (folder / "meta.json").exists():
        artifacts = CircuitArtifacts(compiled, folder, ptau.dev)
        if verify_zkey and not artifacts.meta.get("zkey_verified"):
            _mark_verified(artifacts, _verify_zkey(compiled, ptau, artifacts.zkey, log))
        return artifacts
    tmp = _private_tmp(folder)
    spec = compiled.spec
    label = " (DEV ptau — insecure)" if ptau.dev else ""
    log(f"setting up {spec.name}: {compiled.info.n_constraints:,} constraints, "
        f"ptau power {ptau.power} from {ptau.source}{label} …")  # fmt: skip
    z0, zkey = tmp / "circuit_0000.zkey", tmp / "circuit.zkey"
    run_tool("snarkjs", ["groth16", "setup", str(compiled.r1cs), str(ptau.path), str(z0)])
    run_tool(
        "snarkjs",
        ["zkey", "contribute", str(z0), str(zkey), "--name=zkrisk phase-2 (single party)",
         f"-e={secrets.token_hex(32)}"],
    )  # fmt: skip
    z0.unlink()
    verify_seconds = _verify_zkey(compiled, ptau, zkey, log) if verify_zkey else None
    run_tool(
        "snarkjs",
        ["zkey", "export", "verificationkey", str(zkey), str(tmp / "verification_key.json")],
    )
    sol = tmp / "verifier.sol"
    run_tool("snarkjs", ["zkey", "export", "solidityverifier", str(zkey), str(sol)])
    (tmp / f"{spec.contract_name}.sol").write_text(_add_header(sol.read_text(), spec, ptau))
    sol.unlink()
    meta = {
        "circuit": asdict(spec),
        "constraints": compiled.info.n_constraints,
        "public_signals": compiled.info.n_public,
        "ptau": {"path": str(ptau.path), "power": ptau.power, "source": ptau.source},
        "dev_ptau_insecure": ptau.dev,
        "zkey_verified": verify_zkey,
        "zkey_verify_seconds": verify_seconds,
        "toolchain": tool_versions().as_dict(),
    }
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    _publish(tmp, folder)
    return CircuitArtifacts(compiled, folder, ptau.dev)


def build(
    spec: CircuitSpec,
    repo: Path,
    *,
    ptau_path: Path | None = None,
    generate_ptau: bool = True,
    verify_zkey: bool = True,
    cpp: bool = False,
    log: Log = print,
) -> CircuitArtifacts:
    """Compile and set up one circuit (every step cached); see compile_circuit for `cpp`."""
    compiled = compile_circuit(spec, repo, cpp=cpp, log=log)
    return setup_circuit(
        compiled, ptau_path=ptau_path, generate_ptau=generate_ptau, verify_zkey=verify_zkey,
        log=log,
    )  # fmt: skip
