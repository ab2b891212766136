"""A deployment's trusted setup, pinned: prove only with the zkey its verifier was made from.

A Groth16 verifier accepts proofs of exactly one proving key. Rebuilding the circuit's setup
(another ptau found, a fresh phase-2 contribution) yields a new zkey whose proofs the deployed
verifier rejects. So a deployment record names the setup folder, the sha256 of its zkey and of
its verification key, and everything that proves for that deployment loads exactly that setup
(never `build()`, which may set up anew) or refuses, naming both hashes and the fix.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from zkrisk.prover.artifacts import CircuitArtifacts, CompiledCircuit, build_root
from zkrisk.prover.binfmt import read_r1cs_info
from zkrisk.prover.registry import get_circuit, load_registry

from ..paths import registry_path, repo_root


class SetupMismatch(ValueError):
    """The proving key at hand is not the one a deployment's verifier was generated from."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class SetupPin:
    """What a deployment record pins: the setup folder (repo-relative) and its key hashes."""

    setup: str
    zkey_sha256: str
    vkey_sha256: str


def pin_of(artifacts: CircuitArtifacts, repo: Path | None = None) -> SetupPin:
    root = (repo or repo_root()).resolve()
    folder = artifacts.folder.resolve()
    shown = folder.relative_to(root).as_posix() if folder.is_relative_to(root) else str(folder)
    return SetupPin(shown, file_sha256(artifacts.zkey), file_sha256(artifacts.vkey))


def _setup_folders(circuit: str, pinned: Path, repo: Path) -> list[Path]:
    """The pinned folder first, then every other setup of the circuit in the build cache."""
    others = sorted(build_root(repo).glob(f"{circuit}-*/setup-*/"))
    return [pinned, *(f for f in others if f.resolve() != pinned.resolve())]


def _matches(folder: Path, pin: SetupPin) -> bool:
    zkey, vkey = folder / "circuit.zkey", folder / "verification_key.json"
    if not (zkey.is_file() and vkey.is_file() and (folder / "meta.json").is_file()):
        return False
    return file_sha256(vkey) == pin.vkey_sha256 and file_sha256(zkey) == pin.zkey_sha256


def _artifacts_at(circuit: str, folder: Path) -> CircuitArtifacts:
    spec = get_circuit(load_registry(registry_path()), circuit)
    compiled_folder = folder.parent
    compiled = CompiledCircuit(spec, compiled_folder, read_r1cs_info(compiled_folder / "main.r1cs"))
    meta = json.loads((folder / "meta.json").read_text())
    return CircuitArtifacts(compiled, folder, bool(meta["dev_ptau_insecure"]))


def pinned_artifacts(
    circuit: str, pin: SetupPin | None, *, deployment: str, repo: Path | None = None
) -> CircuitArtifacts:
    """The artefacts whose zkey and vkey hash to `pin`'s; SetupMismatch naming the fix otherwise.

    `deployment` names the record in messages (e.g. its file). The pinned folder is tried
    first; a byte-identical setup elsewhere in the build cache (a restored copy) is accepted.
    """
    root = (repo or repo_root()).resolve()
    if pin is None:
        raise SetupMismatch(
            f"deployment {deployment} does not name the zkey its verifier was made from (it "
            "predates pinned setups): redeploy with `zkrisk chain deploy`"
        )
    pinned = root / pin.setup
    for folder in _setup_folders(circuit, pinned, root):
        if _matches(folder, pin):
            return _artifacts_at(circuit, folder)
    zkey = pinned / "circuit.zkey"
    at_hand = (
        f"the zkey at hand ({pin.setup}/circuit.zkey, sha256 {file_sha256(zkey)})"
        if zkey.is_file()
        else f"no zkey is at hand ({pin.setup}/circuit.zkey is missing)"
    )
    raise SetupMismatch(
        f"{at_hand} is not the one deployment {deployment} was made with (zkey sha256 "
        f"{pin.zkey_sha256}, verification key sha256 {pin.vkey_sha256}): restore "
        f"{pin.setup}/ from a backup, or redeploy (`zkrisk chain deploy`) and prove with the "
        "new setup"
    )
