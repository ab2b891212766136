"""Read README.md's shell sessions and replay them in a fresh copy of the repository.

The convention (README.md follows it; tests/cli/test_readme_walkthrough.py enforces it):

- A session is a ```text block with at least one line starting with `$ `; other blocks (the
  demo transcript, the architecture picture, ```bash blocks such as `make demo`) are not run.
- `$ ` starts a command; a line ending in ` \\` continues it on the next line. Everything up to
  the next `$ ` line is the output the README promises.
- Output is compared line by line after `normalise` (addresses, hex hashes, durations, times,
  dates, unix timestamps, ports, gas amounts, absolute paths and runs of spaces). Each promised
  line must appear in the real output, in order within its stream (stdout or stderr: how a
  terminal interleaves the two is not reproducible through pipes); real output may have
  more lines (a warning the README leaves out). `…` in a promised line matches anything.
- Exit codes: 0 unless the next command is `$ echo $?`, whose output line is the expected code.
  (The README's older forms, an output line `(exit N)` or a trailing `# exit N` comment on an
  output line, mean the same and are read the same way.)
- A command ending in ` &` starts in the background and runs until the walkthrough ends; the
  next command waits until the ports the following commands use accept connections.
- `export` and `cd` carry over to later commands, as in a terminal.
- A `…` inside a command is an abbreviation no one can run: it fails the session.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

_EXIT_LINE = re.compile(r"^\(exit (\d+)\)$")
_EXIT_COMMENT = re.compile(r"\s+#\s*exit (\d+)\s*$")


@dataclass(frozen=True)
class Command:
    line: int  # README line of the `$ `
    text: str  # the command as bash gets it (continuations joined)
    output: tuple[str, ...]
    exit_code: int


@dataclass(frozen=True)
class Session:
    heading: str
    line: int  # README line of the opening fence
    commands: tuple[Command, ...]

    @property
    def name(self) -> str:
        return f"L{self.line}-{re.sub(r'[^a-z0-9]+', '-', self.heading.lower()).strip('-')}"


def sessions(readme: str) -> list[Session]:
    """Every session of the README, in order."""
    found: list[Session] = []
    heading, block, start, fence = "top", None, 0, ""
    for number, raw in enumerate(readme.splitlines(), 1):
        if block is None:
            if raw.startswith("#"):
                heading = raw.lstrip("#").strip()
            if raw.startswith("```"):
                block, start, fence = [], number, raw[3:].strip()
            continue
        if raw.startswith("```"):
            if fence == "text" and any(line.startswith("$ ") for _, line in block):
                found.append(Session(heading, start, tuple(_commands(block))))
            block = None
            continue
        block.append((number, raw))
    return found


def _commands(block: list[tuple[int, str]]) -> list[Command]:
    parsed: list[tuple[int, str, list[str]]] = []
    pending: list[str] | None = None
    for number, line in block:
        if pending is not None:
            pending.append(line.strip())
            if not line.endswith(" \\"):
                parsed[-1] = (parsed[-1][0], " ".join(p.removesuffix(" \\") for p in pending), [])
                pending = None
            continue
        if line.startswith("$ "):
            text = line[2:]
            parsed.append((number, text, []))
            if text.endswith(" \\"):
                pending = [text]
        elif parsed:
            parsed[-1][2].append(line)
    commands: list[Command] = []
    for number, text, output in parsed:
        if text.strip() == "echo $?":
            if commands:
                code = int(output[0].strip()) if output else 0
                last = commands[-1]
                commands[-1] = Command(last.line, last.text, last.output, code)
            continue
        commands.append(_with_exit(number, text, output))
    return commands


def _with_exit(number: int, text: str, output: list[str]) -> Command:
    lines, code = [], 0
    for line in output:
        match = _EXIT_LINE.match(line.strip())
        if match:
            code = int(match.group(1))
            continue
        comment = _EXIT_COMMENT.search(line)
        if comment:
            code = int(comment.group(1))
            line = line[: comment.start()]
        lines.append(line)
    while lines and not lines[-1].strip():
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    return Command(number, text, tuple(lines), code)


# ------------------------------------------------------------------ comparing output

_NORMALISERS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"\x1b\[[0-9;]*[A-Za-z]", ""),  # colours, if any slipped through
        (r"0x[0-9a-fA-F]{40}\b", "<address>"),
        (r"0x[0-9a-fA-F]{4,}…?(?:[0-9a-fA-F]*)", "<hex>"),
        (r"\b[0-9a-f]{16,}\b", "<hex>"),
        (r"\b\d{4}-\d{2}-\d{2}\b", "<date>"),
        (r"\b\d{1,2}:\d{2}:\d{2}\b", "<time>"),
        (r"\b1[6-9]\d{8}(?:\.\d+)?\b", "<unix-time>"),
        (r"\b\d+(?:\.\d+)?\s?(?:ms|µs|s)\b", "<duration>"),
        (r"(\w*(?:seconds|_ms)\"?:\s*)[\d.]+", r"\1<duration>"),
        (r"(?<=[\w\]]):\d{2,5}\b", ":<port>"),
        (r'("gas"|gas|gas_used)(["]?[:=]?\s*)[\d,]+', r"\1\2<gas>"),
        (r"(?<![\w.])~?/(?:[\w.+-]+/)+([\w.+-]+)", r"<path>/\1"),  # ~/… too
        (r"\s+", " "),
    )
)


def normalise(line: str) -> str:
    for pattern, replacement in _NORMALISERS:
        line = pattern.sub(replacement, line)
    return line.strip()


def _matches(promised: str, actual: str) -> bool:
    if "…" not in promised:
        return promised == actual
    parts = [re.escape(p) for p in promised.split("…")]
    return re.fullmatch(".*".join(parts), actual) is not None


def missing_lines(promised: tuple[str, ...], *streams: str) -> list[str]:
    """Promised lines not found in order (empty when the output matches).

    Each stream (stdout, stderr) keeps its own order, but how a terminal interleaves the two is
    not reproducible through pipes, so a promised line may come from either: it matches the
    next line of whichever stream has it first after that stream's last match.
    """
    reals = [[normalise(line) for line in stream.splitlines()] for stream in streams]
    reals = [[line for line in real if line] for real in reals]
    cursors = [0] * len(reals)
    missing = []
    for line in promised:
        want = normalise(line)
        if not want:
            continue
        for k, real in enumerate(reals):
            hit = next((i for i in range(cursors[k], len(real)) if _matches(want, real[i])), None)
            if hit is not None:
                cursors[k] = hit + 1
                break
        else:
            missing.append(line)
    return missing


# ------------------------------------------------------------------ a fresh copy, a shell


def fresh_copy(repo: Path, target: Path) -> Path:
    """Tracked and untracked-but-not-ignored files of `repo` (its working tree as a clone would
    have it after the same edits), node_modules linked, the circuit build cache copied."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=repo, check=True, capture_output=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = repo / name
        if not source.is_file():
            continue  # deleted in the working tree
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name)
    # A real node_modules of links, but circomlib copied: circom2 runs in WASI, which cannot
    # follow a symlink out of its working directory (a fresh clone has no cached build, so the
    # walkthrough compiles circuits in the copy).
    modules = target / "node_modules"
    modules.mkdir()
    for entry in (repo / "node_modules").iterdir():
        if entry.name == "circomlib":
            shutil.copytree(entry, modules / entry.name, symlinks=True)
        else:
            (modules / entry.name).symlink_to(entry)
    for cache in ("build/circuits", "build/solc"):  # content-addressed: a warm clone
        if (repo / cache).is_dir():
            shutil.copytree(repo / cache, target / cache, ignore=shutil.ignore_patterns("*.tmp-*"))
    return target


@dataclass
class Shell:
    """Runs commands one by one like a terminal: env and cwd persist, `&` runs in background."""

    cwd: Path
    env: dict[str, str]
    substitutions: dict[str, str] = field(default_factory=dict)
    background: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def prepare(self, text: str) -> str:
        for old, new in self.substitutions.items():
            text = text.replace(old, new)
        return text

    def run(self, text: str, timeout: float) -> tuple[int, str, str]:
        """(exit code, stdout, stderr) of one command."""
        text = self.prepare(text)
        if text.rstrip().endswith("&"):
            self._start(text.rstrip()[:-1])
            return 0, "", ""
        env_file = self.cwd.parent / ".readme-env"
        script = f"cd {shlex.quote(str(self.cwd))}\n{text}\n__rc=$?\nenv -0 > {env_file}\npwd > {env_file}.cwd\nexit $__rc\n"
        done = subprocess.run(
            ["bash", "-c", script], env=self.env, capture_output=True, timeout=timeout
        )
        if env_file.is_file():
            pairs = [
                p.split("=", 1) for p in env_file.read_bytes().decode().split("\0") if "=" in p
            ]
            self.env = {k: v for k, v in pairs}
            self.cwd = Path(Path(f"{env_file}.cwd").read_text().strip())
            env_file.unlink()
        return done.returncode, done.stdout.decode(), done.stderr.decode()

    def _start(self, text: str) -> None:
        process = subprocess.Popen(
            ["bash", "-c", f"exec {text}"], cwd=self.cwd, env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self.background.append(process)

    def wait_for_ports(self, texts: list[str], timeout: float = 30) -> None:
        """Wait until the local ports the coming commands name accept connections, while a
        background process that could open them is still running."""
        named = (re.findall(r"(?:127\.0\.0\.1|localhost):(\d+)", self.prepare(t)) for t in texts)
        deadline = time.monotonic() + timeout
        for port in sorted({int(p) for found in named for p in found}):
            while time.monotonic() < deadline and any(p.poll() is None for p in self.background):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    time.sleep(0.1)

    def close(self) -> None:
        for process in self.background:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        self.background.clear()
