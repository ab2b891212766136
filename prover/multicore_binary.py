"""The multicore Groth16 prover's binary (prover/multicore_rs: Rust, standard library only):
where it is, and building it with cargo when it is missing or its sources changed.

The binary lives under build/multicore/<digest of its sources>/, so an edited source builds a
new binary instead of running a stale one, and two processes building at once wait on cargo's
lock file (a half-copied binary is never run).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from .errors import BackendUnavailable
from .toolchain import ToolFailed, find_node_modules

SOURCE = Path(__file__).resolve().parent / "multicore_rs"
BINARY = "zkrisk-groth16"
INSTALL_HINT = "apt-get install -y cargo (or rustup), then `make setup` builds prover/multicore_rs"


def _sources() -> list[Path]:
    return [SOURCE / "Cargo.toml", *sorted((SOURCE / "src").glob("*.rs"))]


def source_digest() -> str:
    """A digest of the crate's sources: the binary's folder."""
    digest = hashlib.sha256()
    for path in _sources():
        digest.update(path.relative_to(SOURCE).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def target_dir() -> Path:
    # Beside the real node_modules (a linked copy of the repository shares it): the folder is
    # named by the sources' digest, so any checkout with the same sources may run it.
    return find_node_modules().resolve().parent / "build" / "multicore" / source_digest()


def binary_path() -> Path:
    return target_dir() / BINARY


def cargo() -> Path | None:
    found = shutil.which("cargo")
    if found:
        return Path(found)
    home = Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo")) / "bin" / "cargo"
    return home if home.is_file() and os.access(home, os.X_OK) else None


def missing() -> str | None:
    """Why the multicore prover cannot run here (nothing built, no cargo to build it), or None."""
    if not SOURCE.joinpath("Cargo.toml").is_file():
        return f"the multicore prover's sources are not at {SOURCE}"
    if binary_path().is_file() or cargo() is not None:
        return None
    return f"cargo is not installed, so prover/multicore_rs cannot be built: {INSTALL_HINT}"


def ensure_binary(log: Callable[[str], None] | None = None) -> Path:
    """The binary for the current sources, built first when it is not there (~40 s)."""
    binary = binary_path()
    if binary.is_file():
        return binary
    tool = cargo()
    if tool is None:
        raise BackendUnavailable(f"no multicore prover binary at {binary}: {INSTALL_HINT}")
    folder = target_dir()
    folder.parent.mkdir(parents=True, exist_ok=True)
    with (folder.parent / f"{folder.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building it right now
        if binary.is_file():
            return binary
        if log is not None:
            log(f"building the multicore Groth16 prover (cargo, ~40 s) into {folder} …")
        argv = [str(tool), "build", "--release", "--offline", "--quiet",
                "--manifest-path", str(SOURCE / "Cargo.toml"), "--target-dir", str(folder / "cargo")]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=1800)
        if done.returncode != 0:
            raise ToolFailed("cargo", argv, done.returncode, done.stdout, done.stderr)
        built = folder / "cargo" / "release" / BINARY
        os.replace(built, binary)  # in one step: a reader sees no binary or the whole of it
    _drop_older_builds(folder)
    return binary


def _drop_older_builds(current: Path) -> None:
    """Binaries of earlier sources are never run again: free their space (~40 MB each)."""
    for other in current.parent.iterdir():
        if other.name != current.name and other.name != f"{current.name}.lock":
            if other.is_dir():
                shutil.rmtree(other, ignore_errors=True)
            else:
                other.unlink(missing_ok=True)


def main() -> int:
    """`python -m zkrisk.prover.multicore_binary`: build the binary (make setup), or say why not."""
    reason = missing()
    if reason is not None:
        print(f"note: {reason}; the multicore backend is unavailable (native proves instead)")
        return 0
    binary = ensure_binary(log=print)
    print(f"multicore prover: {binary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
