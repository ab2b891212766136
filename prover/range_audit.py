"""Which public inputs of a circuit does its R1CS bound? A static interval analysis.

A circuit is compiled with `circom --O1` (cached by content hash under build/audit/), so
Num2Bits' linear constraint `in = Σ 2^i·b_i` and its boolean constraints `b_i·(b_i − 1) = 0`
survive instead of being folded away as --O2 does. Then every wire gets an integer interval
for its representative in (−p/2, p/2), propagated to a fixpoint:

  boolean   A·B − C is a polynomial in one wire x with roots {0, 1}        x ∈ [0, 1]
  linear    c·x + Σ c_j·x_j + c_0 = 0 and every x_j bounded                 x = −(c_0 + Σ c_j·x_j)/c
  product   A·B = C, x only in C, A and B bounded                          x = (A·B − rest of C)/c

A derivation is kept only when the whole integer interval lies inside (−p/2, p/2): then the
constraint, which holds mod p, holds over the integers, so the bound is true for every
satisfying witness (the analysis is sound but incomplete: what it cannot bound it reports as
unbounded). A public input is range-checked to n bits when its interval lies in [0, 2^n).
"""

from __future__ import annotations

import shutil
import struct
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .artifacts import sources_hash
from .binfmt import BinFormatError
from .publish import private_tmp, publish
from .registry import CircuitSpec
from .toolchain import find_node_modules, run_tool

LinearCombination = dict[int, int]  # wire → coefficient mod p; wire 0 is the constant 1
_MAX_UPDATES = 4  # tightenings per wire: cycles of constraints cannot loop for ever


@dataclass(frozen=True)
class R1cs:
    prime: int
    n_outputs: int
    n_public_inputs: int
    constraints: tuple[tuple[LinearCombination, LinearCombination, LinearCombination], ...]


@dataclass(frozen=True)
class InputBound:
    """A public input's derived interval (None: the R1CS does not bound it)."""

    name: str  # main.price[2] without the "main." prefix
    low: int | None
    high: int | None

    @property
    def bits(self) -> int | None:
        """n such that the input is < 2^n, when it is bounded and never negative."""
        if self.low is None or self.high is None or self.low < 0:
            return None
        return self.high.bit_length()


def _sections(data: bytes, path: Path) -> dict[int, tuple[int, int]]:
    if data[:4] != b"r1cs":
        raise BinFormatError(f"{path} is not an r1cs file (bad magic)")
    (n_sections,) = struct.unpack_from("<I", data, 8)
    sections: dict[int, tuple[int, int]] = {}
    offset = 12
    for _ in range(n_sections):
        kind, size = struct.unpack_from("<IQ", data, offset)
        sections.setdefault(kind, (offset + 12, size))
        offset += 12 + size
    return sections


def read_r1cs(path: Path) -> R1cs:
    """Every constraint of an iden3 .r1cs file (header and constraint sections)."""
    data = path.read_bytes()
    sections = _sections(data, path)
    if 1 not in sections or 2 not in sections:
        raise BinFormatError(f"{path}: r1cs header or constraint section missing")
    at = sections[1][0]
    (n8,) = struct.unpack_from("<I", data, at)
    prime = int.from_bytes(data[at + 4 : at + 4 + n8], "little")
    _wires, outs, pub_in, _prv, _labels, n_constraints = struct.unpack_from(
        "<IIIIQI", data, at + 4 + n8
    )
    at = sections[2][0]
    constraints = []
    for _ in range(n_constraints):
        abc = []
        for _part in range(3):
            (n_terms,) = struct.unpack_from("<I", data, at)
            at += 4
            lc: LinearCombination = {}
            for _t in range(n_terms):
                (wire,) = struct.unpack_from("<I", data, at)
                lc[wire] = int.from_bytes(data[at + 4 : at + 4 + n8], "little")
                at += 4 + n8
            abc.append(lc)
        constraints.append((abc[0], abc[1], abc[2]))
    return R1cs(prime, outs, pub_in, tuple(constraints))


def public_input_names(sym: Path, r1cs: R1cs) -> dict[int, str]:
    """Wire → name for the public inputs (wires 1 + outputs …), read from circom's .sym."""
    first = 1 + r1cs.n_outputs
    wanted = range(first, first + r1cs.n_public_inputs)
    names: dict[int, str] = {}
    for line in sym.read_text().splitlines():
        _label, wire, _component, name = line.split(",", 3)
        if int(wire) in wanted and name.count(".") == 1:
            names[int(wire)] = name.removeprefix("main.")
    return names


class _Intervals:
    def __init__(self, prime: int) -> None:
        self.p = prime
        self.half = prime // 2
        self.bounds: dict[int, tuple[int, int]] = {0: (1, 1)}
        self.updates: dict[int, int] = {}

    def signed(self, c: int) -> int:
        return c if c <= self.half else c - self.p

    def of(self, lc: LinearCombination, skip: int = -1) -> tuple[int, int] | None:
        """Integer interval of Σ signed(c)·x over lc (without wire `skip`), or None."""
        low = high = 0
        for wire, c in lc.items():
            if wire == skip:
                continue
            bound = self.bounds.get(wire)
            if bound is None:
                return None
            s = self.signed(c)
            a, b = s * bound[0], s * bound[1]
            low, high = low + min(a, b), high + max(a, b)
        return low, high

    def set(self, wire: int, low: int, high: int) -> bool:
        """Record a derived interval (intersected with the known one); True if it changed."""
        if not -self.half < low <= high < self.half:
            return False
        old = self.bounds.get(wire)
        if old is not None:
            low, high = max(low, old[0]), min(high, old[1])
            if (low, high) == old or self.updates.get(wire, 0) >= _MAX_UPDATES:
                return False
        self.bounds[wire] = (low, high)
        self.updates[wire] = self.updates.get(wire, 0) + 1
        return True


def _single_wire_boolean(a: LinearCombination, b: LinearCombination, c: LinearCombination,
                         p: int) -> int | None:  # fmt: skip
    """The wire x if A·B − C = k·x·(x − 1) for some k ≠ 0, else None."""
    wires = (set(a) | set(b) | set(c)) - {0}
    if len(wires) != 1:
        return None
    (x,) = wires
    a1, a0, b1, b0 = a.get(x, 0), a.get(0, 0), b.get(x, 0), b.get(0, 0)
    c1, c0 = c.get(x, 0), c.get(0, 0)
    square = a1 * b1 % p
    linear = (a1 * b0 + a0 * b1 - c1) % p
    constant = (a0 * b0 - c0) % p
    return x if square and constant == 0 and (linear + square) % p == 0 else None


def _linear_form(a: LinearCombination, b: LinearCombination, c: LinearCombination,
                 p: int) -> LinearCombination | None:  # fmt: skip
    """A·B − C as one linear combination when A or B is a constant (or empty), else None."""
    for const, other in ((a, b), (b, a)):
        if set(const) <= {0}:
            k = const.get(0, 0)
            out = {w: k * v % p for w, v in other.items()}
            for w, v in c.items():
                out[w] = (out.get(w, 0) - v) % p
            return {w: v for w, v in out.items() if v}
    return None


def _derive(iv: _Intervals, constraint: tuple[LinearCombination, ...], p: int) -> list[int]:
    """Wires whose interval this constraint newly bounds or tightens."""
    a, b, c = constraint
    changed: list[int] = []
    x = _single_wire_boolean(a, b, c, p)
    if x is not None:
        return [x] if iv.set(x, 0, 1) else []
    linear = _linear_form(a, b, c, p)
    if linear is not None:
        unknown = [w for w in linear if w not in iv.bounds]
        # One unknown wire: derive it. None: tighten the non-boolean ones (bits cannot improve).
        targets = unknown if unknown else [w for w in linear if iv.bounds[w] != (0, 1)]
        for wire in targets:
            if wire == 0 or len(unknown) > 1:
                continue
            inv = pow(linear[wire], -1, p)
            rest = iv.of({w: -v * inv % p for w, v in linear.items()}, skip=wire)
            if rest is not None and iv.set(wire, *rest):
                changed.append(wire)
        return changed
    ab = (iv.of(a), iv.of(b))
    if ab[0] is None or ab[1] is None:
        return changed
    products = [u * v for u in ab[0] for v in ab[1]]
    for wire in [w for w in c if w and w not in a and w not in b]:
        inv = pow(c[wire], -1, p)
        rest = iv.of({w: -v * inv % p for w, v in c.items()}, skip=wire)
        s = iv.signed(inv)
        if rest is None:
            continue
        scaled = (s * min(products), s * max(products))
        if iv.set(wire, min(scaled) + rest[0], max(scaled) + rest[1]):
            changed.append(wire)
    return changed


def wire_bounds(r1cs: R1cs) -> dict[int, tuple[int, int]]:
    """Sound integer intervals for every wire the constraints bound (worklist to a fixpoint)."""
    iv = _Intervals(r1cs.prime)
    touching: dict[int, list[int]] = {}
    for i, (a, b, c) in enumerate(r1cs.constraints):
        for wire in set(a) | set(b) | set(c):
            touching.setdefault(wire, []).append(i)
    queue = deque(range(len(r1cs.constraints)))
    queued = set(queue)
    while queue:
        i = queue.popleft()
        queued.discard(i)
        for wire in _derive(iv, r1cs.constraints[i], r1cs.prime):
            for j in touching.get(wire, ()):
                if j not in queued:
                    queued.add(j)
                    queue.append(j)
    return iv.bounds


def compile_for_audit(spec: CircuitSpec, repo: Path) -> Path:
    """circom --O1 → main.r1cs + main.sym in build/audit/<name>-<sources hash>/ (cached)."""
    repo = repo.resolve()
    folder = repo / "build" / "audit" / f"{spec.name}-{sources_hash(spec, repo)}"
    if (folder / ".compiled").exists():
        return folder
    tmp = private_tmp(folder)
    try:
        main = tmp / "main.circom"
        include = Path(*[".."] * len(tmp.relative_to(repo).parts)) / spec.file
        main.write_text(spec.main_source(include.as_posix()))
        # circom2 (WASM) sees only files below its working directory: run from the repo root.
        run_tool(
            "circom",
            [str(main.relative_to(repo)), "--r1cs", "--sym", "--O1",
             "-l", str(find_node_modules().relative_to(repo)), "-o", str(tmp.relative_to(repo))],
            cwd=repo,
        )  # fmt: skip
        (tmp / ".compiled").write_text("ok\n")
        publish(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def public_input_bounds(spec: CircuitSpec, repo: Path) -> list[InputBound]:
    """Every public input of `spec` (arrays element by element) with its derived interval."""
    folder = compile_for_audit(spec, repo)
    r1cs = read_r1cs(folder / "main.r1cs")
    names = public_input_names(folder / "main.sym", r1cs)
    bounds = wire_bounds(r1cs)
    out = []
    for wire in sorted(names):
        low, high = bounds.get(wire, (None, None))
        out.append(InputBound(names[wire], low, high))
    return out


def base_name(name: str) -> str:
    """price[2] → price, returns[3][1] → returns (the registry's public-input names)."""
    return name.split("[", 1)[0]


def unbounded(bounds: Iterable[InputBound], widths: dict[str, int]) -> list[str]:
    """Inputs not range-checked within their expected width (`widths` by base name)."""
    return [
        f"{b.name}: {'unbounded' if b.bits is None else f'{b.bits} bits'}, "
        f"expected ≤ {widths[base_name(b.name)]}"
        for b in bounds
        if base_name(b.name) in widths and (b.bits is None or b.bits > widths[base_name(b.name)])
    ]
