"""Turn a witness calculator's failure into a WitnessError naming template, line and signals.

The WASM calculator reports a call stack of template *instances* ("Error in template
Num2Bits_4 line: 38 / Error in template RangeCheck_5 line: 12 / Error in template Health_161
line: 68"); the C++ one reports the innermost template and the exact component
("Failed assert in template/function Num2Bits line 38. Followed trace of components:
main.collateralBits[2].bits"). We find each template's source file in the circuit's include
closure, read the failing line, and match the signals it names against main.sym. When the WASM
stack does not say which array element failed, every matching instance is listed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .artifacts import CompiledCircuit, include_closure
from .errors import ConstraintFailure, WitnessError
from .toolchain import find_node_modules

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_WASM_FRAME = re.compile(r"Error in template (\w+?)_(\d+) line: (\d+)")
_CPP_ASSERT = re.compile(
    r"Failed assert in template/function (\w+) line (\d+)\. Followed trace of components: (\S+)"
)
_INPUT_PROBLEM = re.compile(
    r"Signal \S+ not found|Signal not found|Not enough values for input signal \S+|"
    r"Too many values for input signal \S+|Not all inputs have been set[^\n]*|"
    r"Error loading signal \S+: [^\n]*|"
    r"Cannot convert [^\n]* to a BigInt|Invalid JSON[^\n]*"
)
_REFERENCE = re.compile(r"[A-Za-z_]\w*(?:\[[^\]]*\])*(?:\.[A-Za-z_]\w*(?:\[[^\]]*\])*)*")
_KEYWORDS = frozenset(
    ("signal", "input", "output", "var", "component", "template", "function", "for", "while",
     "if", "else", "return", "log", "assert", "include", "pragma", "public", "parallel", "custom")
)  # fmt: skip
_MAX_LISTED = 8


@dataclass(frozen=True)
class _Frame:
    template: str
    line: int


def _wasm_frames(text: str) -> list[_Frame]:
    """Innermost first; the calculator's message is printed twice by the CLI, so dedupe."""
    frames: list[_Frame] = []
    seen: set[tuple[str, str, str]] = set()
    for match in _WASM_FRAME.finditer(text):
        key = (match.group(1), match.group(2), match.group(3))
        if key not in seen:
            seen.add(key)
            frames.append(_Frame(match.group(1), int(match.group(3))))
    return frames


@cache
def _template_sources(main_circom: Path) -> dict[str, Path]:
    """template/function name -> file defining it, over the circuit's include closure."""
    definition = re.compile(
        r"^\s*(?:template|function)\s+(?:(?:parallel|custom)\s+)*([A-Za-z_]\w*)\s*\(", re.M
    )
    found: dict[str, Path] = {}
    for path in include_closure(main_circom, [find_node_modules()]):
        for name in definition.findall(path.read_text()):
            found.setdefault(name, path)
    return found


@cache
def _sym_names(sym: Path) -> tuple[str, ...]:
    """Every signal's full name, from lines `signal,witness,component,name`."""
    with sym.open() as f:
        return tuple(line.rstrip("\n").split(",", 3)[3] for line in f if line.count(",") >= 3)


def _source_line(file: Path | None, line: int) -> str | None:
    if file is None:
        return None
    lines = file.read_text().splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else None


def _references(code: str) -> list[list[str]]:
    """Dotted signal references in a line, each as its segments without index expressions."""
    code = code.split("//", 1)[0]
    refs = []
    for ref in _REFERENCE.findall(code):
        segments = re.sub(r"\[[^\]]*\]", "", ref).split(".")
        if segments[0] not in _KEYWORDS:
            refs.append(segments)
    return refs


_INDEX = r"(?:\[\d+\])*"


def _segments_pattern(segments: list[str]) -> str:
    return r"\.".join(re.escape(s) + _INDEX for s in segments)


def _caller_component(code: str | None) -> str:
    """Pattern for the subcomponent a caller's line feeds (`bits.in <== x` -> `bits`)."""
    for segments in _references(code or ""):
        if len(segments) >= 2:
            return _segments_pattern(segments[:-1])
    return r"[^.]+(?:\.[^.]+)*?"  # an anonymous component: any path


def _matching_signals(
    sym: Path, prefix: str, code: str | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(components matching `prefix`, signals of theirs that `code` names), from main.sym."""
    refs = _references(code or "")
    if not refs or not sym.is_file():
        return (), ()
    pattern = re.compile(rf"({prefix})\.(?:{'|'.join(_segments_pattern(r) for r in refs)})")
    instances: dict[str, None] = {}
    signals = []
    for name in _sym_names(sym):
        match = pattern.fullmatch(name)
        if match:
            instances[match.group(1)] = None
            signals.append(name)
    return tuple(instances), tuple(signals)


def _relative(path: Path) -> str:
    root = find_node_modules().parent
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _constraint_failure(compiled: CompiledCircuit, text: str) -> ConstraintFailure | None:
    sources = _template_sources(compiled.folder / "main.circom")
    cpp = _CPP_ASSERT.search(text)
    frames = _wasm_frames(text)
    if cpp:
        template, line = cpp.group(1), int(cpp.group(2))
        prefix = re.escape(cpp.group(3))
        callers: tuple[tuple[str, int], ...] = ()
    elif frames:
        template, line = frames[0].template, frames[0].line
        # The outermost frame is main; each caller's line names the subcomponent it feeds.
        prefix = "main"
        for frame in reversed(frames[1:]):
            code = _source_line(sources.get(frame.template), frame.line)
            prefix += r"\." + _caller_component(code)
        callers = tuple((f.template, f.line) for f in frames[1:])
    else:
        return None
    file = sources.get(template)
    source = _source_line(file, line)
    instances, signals = _matching_signals(compiled.sym, prefix, source)
    if cpp and not instances:
        instances = (cpp.group(3),)
    return ConstraintFailure(template, line, file, source, callers, instances, signals)


def _listed(names: tuple[str, ...]) -> str:
    more = len(names) - _MAX_LISTED
    return ", ".join(names[:_MAX_LISTED]) + (f" … and {more} more" if more > 0 else "")


def _describe(circuit: str, failure: ConstraintFailure, sources: dict[str, Path]) -> str:
    where = f"{_relative(failure.file)}:{failure.line}" if failure.file else f"line {failure.line}"
    text = f"{circuit}: the inputs do not satisfy the circuit: a constraint failed in template "
    text += f"{failure.template} at {where}"
    if failure.source:
        text += f": `{failure.source}`"
    if len(failure.instances) == 1:
        text += f"\n  component: {failure.instances[0]}"
    elif failure.instances:
        text += f"\n  one of the components: {_listed(failure.instances)}"
    if failure.callers:
        chain = ", ".join(
            f"{name} ({_relative(sources[name]) if name in sources else '?'}:{line})"
            for name, line in failure.callers
        )
        text += f"\n  called from: {chain}"
    if failure.signals:
        text += f"\n  signals: {_listed(failure.signals)}"
    return text + (
        "\n  Check the inputs that feed these signals: a value out of its range, or a statement "
        "that does not hold for them."
    )


def witness_error(compiled: CompiledCircuit, raw: str) -> WitnessError:
    """A WitnessError for a witness calculator's output `raw` (WASM, C++ or snarkjs CLI)."""
    text = _ANSI.sub("", raw)
    name = compiled.spec.name
    problem = _INPUT_PROBLEM.search(text)
    if problem:
        return WitnessError(
            f"{name}: bad input: {problem.group(0).strip()}. Pass each input signal of the "
            "circuit once, as a decimal integer (or nested lists of them, of its declared "
            "array length).",
            raw=raw,
        )
    failure = _constraint_failure(compiled, text)
    if failure is None:
        first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "no output")
        return WitnessError(f"{name}: witness generation failed: {first}", raw=raw)
    sources = _template_sources(compiled.folder / "main.circom")
    return WitnessError(_describe(name, failure, sources), raw=raw, failure=failure)
