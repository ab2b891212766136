"""Find a powers-of-tau file big enough for a circuit, or make a development one.

Order: a path the user gives (`--ptau`), then the folders the user names in $ZKRISK_PTAU_DIRS,
then `../shared/ptau/` beside the repository, then the cache (`$ZKRISK_CACHE/ptau`, else
`$XDG_CACHE_HOME/zkrisk/ptau` or `~/.cache/zkrisk/ptau`), then a freshly generated development
ptau (written to the cache). The first folder holding a big enough file wins, and within it the
smallest such file (it sets up fastest). The cache comes last because any process may write
into it: a file another run generated there must never replace the ptau a project pinned
beside its checkout. Hidden and partial files (a generation in progress) are never candidates,
and a file that does not parse is skipped with a warning. A dev ptau has known toxic waste:
anything set up from it is labelled insecure in its metadata.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import struct
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .binfmt import BinFormatError, read_ptau_power
from .toolchain import find_node_modules, tool_command

MAX_POWER = 28


class PtauError(RuntimeError):
    """No usable ptau; the message says what to do."""


@dataclass(frozen=True)
class Ptau:
    path: Path
    power: int
    dev: bool  # True when its toxic waste is known (a development file)
    source: str  # "user" | "cache" | "shared" | "generated"

    def sha256(self) -> str:
        digest = hashlib.sha256()
        with self.path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()


def cache_dir() -> Path:
    """Where generated dev ptau files go (and are found again)."""
    base = os.environ.get("ZKRISK_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "zkrisk"
    )
    return Path(base) / "ptau"


def search_dirs() -> list[tuple[Path, str]]:
    """The folders searched, in priority order, with the source label each gives its files."""
    extra = os.environ.get("ZKRISK_PTAU_DIRS", "")
    dirs = [(Path(d), "shared") for d in extra.split(os.pathsep) if d]
    repo = find_node_modules().parent
    dirs.append((repo.parent / "shared" / "ptau", "shared"))
    dirs.append((cache_dir(), "cache"))
    return dirs


def _is_dev_name(path: Path) -> bool:
    return path.name.startswith("dev_")


def _is_candidate_name(path: Path) -> bool:
    """Hidden files and temporaries are work in progress (see generate_dev_ptau), never used."""
    name = path.name
    return not name.startswith(".") and ".tmp" not in name and not name.endswith(".part")


def _say_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _in_folder(
    folder: Path, source: str, min_power: int, warn: Callable[[str], None]
) -> list[Ptau]:
    found: list[Ptau] = []
    for path in sorted(folder.glob("*.ptau")):
        if not _is_candidate_name(path) or not path.is_file():
            continue
        try:
            power = read_ptau_power(path)
        except Exception as exc:  # a truncated or foreign file must not stop the search
            warn(f"warning: skipping {path}: not a usable ptau ({exc})")
            continue
        if power >= min_power:
            found.append(Ptau(path, power, _is_dev_name(path), source))
    return found


def _search(min_power: int, warn: Callable[[str], None]) -> Ptau | None:
    """The smallest big-enough ptau of the first folder (in priority order) that has one."""
    for folder, source in search_dirs():
        if not folder.is_dir():
            continue
        found = _in_folder(folder, source, min_power, warn)
        if found:
            return min(found, key=lambda p: (p.power, p.path.name))
    return None


def resolve_ptau(
    min_power: int,
    explicit: Path | None = None,
    *,
    generate: bool = True,
    log: Callable[[str], None] | None = None,
) -> Ptau:
    """A prepared ptau with power ≥ min_power, in the order the module docstring gives."""
    if not 1 <= min_power <= MAX_POWER:
        raise PtauError(f"a circuit needing ptau power {min_power} is outside 1..{MAX_POWER}")
    if explicit is not None:
        if not explicit.is_file():
            raise PtauError(f"ptau file {explicit} not found: check the path given with --ptau")
        try:
            power = read_ptau_power(explicit)
        except BinFormatError as exc:
            raise PtauError(str(exc)) from None
        except (OSError, struct.error) as exc:  # unreadable or cut short
            raise PtauError(f"{explicit} is not a usable ptau ({exc}): check --ptau") from None
        if power < min_power:
            raise PtauError(
                f"{explicit} has power {power} but the circuit needs ≥ {min_power}: "
                "use a larger ptau"
            )
        return Ptau(explicit, power, _is_dev_name(explicit), "user")
    # Skipped files are always reported on stderr: even a quiet build must not hide them.
    found = _search(min_power, _say_stderr)
    if found is not None:
        return found
    if not generate:
        raise PtauError(
            f"no ptau with power ≥ {min_power} in {[str(d) for d, _ in search_dirs()]}: pass one "
            "with --ptau, put one in ../shared/ptau/, or allow generation of a dev ptau"
        )
    return generate_dev_ptau(min_power, log=log)


def generate_dev_ptau(power: int, *, log: Callable[[str], None] | None = None) -> Ptau:
    """Generate an INSECURE development ptau with snarkjs (one throw-away contribution)."""
    say = log or _say_stderr
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"dev_pot{power}.ptau"
    stem = folder / f".dev_pot{power}.{os.getpid()}"
    steps = [
        ("new", ["powersoftau", "new", "bn128", str(power), f"{stem}_0.ptau"]),
        (
            "contribute",
            [
                "powersoftau", "contribute", f"{stem}_0.ptau", f"{stem}_1.ptau",
                "--name=zkrisk dev (insecure)", f"-e={secrets.token_hex(32)}",
            ],
        ),
        ("prepare phase2", ["powersoftau", "prepare", "phase2", f"{stem}_1.ptau", f"{stem}_2.ptau", "-v"]),
    ]  # fmt: skip
    say(f"generating an INSECURE development ptau of power {power} (no ceremony file found)")
    try:
        for i, (label, args) in enumerate(steps, 1):
            say(f"  [{i}/{len(steps)}] snarkjs powersoftau {label} …")
            _run_streaming([*tool_command("snarkjs"), *args], say)
        Path(f"{stem}_2.ptau").replace(final)
    finally:
        for i in range(3):
            Path(f"{stem}_{i}.ptau").unlink(missing_ok=True)
    say(f"  wrote {final}")
    return Ptau(final, power, True, "generated")


def _run_streaming(argv: list[str], say: Callable[[str], None]) -> None:
    lines: list[str] = []
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            # snarkjs -v logs one line per batch; show a sparse heartbeat as progress.
            if len(lines) % 25 == 0:
                say(f"      … {line.strip()[-100:]}")
    if proc.returncode != 0:
        raise PtauError(f"snarkjs failed: {''.join(lines[-10:]).strip()}")
