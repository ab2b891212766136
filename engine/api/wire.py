"""A JSON reader that hostile bytes cannot hurt: bounded nesting, bounded numbers, no NaN.

Python's `json` recurses in C (a document nested 100,000 deep overflows the C stack when the
recursion limit is high) and turns any number literal into a Decimal, whose exponent can make
later arithmetic run for minutes with the GIL held (`1e999999999`). So the nesting depth is
measured before parsing, every number literal is checked for length and exponent before it
becomes a Decimal, and NaN / Infinity are refused; problems carry the field's location.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

MAX_NUMBER_CHARS = 40
"""Longest number literal accepted (a uint256 has 78 digits, but no order field needs 30)."""
MAX_EXPONENT = 30
"""Largest |adjusted exponent| of a number: 10^30 is far beyond every fixed-point range."""

# A JSON string literal (the unrolled form is linear; escapes cannot end it early).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_INNERMOST = re.compile(rb"\[\]|\{\}")  # one left-to-right pass: pairs innermost at its start
Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the body: where (FastAPI's `loc`), what kind, and how to fix it."""

    loc: Loc
    kind: str
    message: str
    literal: str = ""


class WireError(ValueError):
    """The body cannot be read safely; `problems` says where and why."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, p.loc))}: {p.message}" for p in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class _Refused:
    """Stands in for a literal the parser refused, until its location is known."""

    kind: str
    message: str
    literal: str


def nests_deeper_than(body: bytes, limit: int) -> bool:
    """Whether arrays / objects in `body` nest more than `limit` levels deep.

    Strings are dropped, then everything but brackets, then the innermost pairs are removed a
    level per pass (each pass runs in C): at most `limit` + 1 passes whatever the input.
    Brackets left unbalanced make the JSON invalid; they count as nesting only while more than
    `limit` of them remain (the parser reports the rest as a syntax error).
    """
    if body.count(b"[") + body.count(b"{") <= limit:  # a check request has 2 openers: done
        return False
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    if len(brackets) > limit and not brackets[: limit + 1].strip(b"[{"):
        return True  # the usual attack: nothing but openers for more than `limit` levels
    depth = 0
    while brackets:
        shorter = _INNERMOST.sub(b"", brackets)
        if len(shorter) == len(brackets):  # unbalanced: what is left nests at most this deep
            return depth + len(brackets) > limit
        brackets = shorter
        depth += 1
        if depth > limit:
            return True
    return False


def number_problem(text: str) -> str | None:
    """Why the number literal `text` is refused, or None when it is safe to make a Decimal."""
    if len(text) > MAX_NUMBER_CHARS:
        return f"number literal of {len(text)} characters; at most {MAX_NUMBER_CHARS} are read"
    try:
        value = Decimal(text)
    except ArithmeticError:
        return None  # not a number at all: the field's own validation says so
    if not value.is_finite():
        return f'{text} is not a finite number; send a decimal such as "10.5"'
    if abs(value.adjusted()) > MAX_EXPONENT:
        return (f"{text} has exponent {value.adjusted()}, beyond ±{MAX_EXPONENT}; "
                "send the plain decimal, e.g. \"0.001\" or \"2500\"")  # fmt: skip
    return None


def _float(text: str) -> Decimal | _Refused:
    why = number_problem(text)
    return Decimal(text) if why is None else _Refused("number_out_of_bounds", why, text)


def _int(text: str) -> int | _Refused:
    why = number_problem(text)
    return int(text) if why is None else _Refused("number_out_of_bounds", why, text)


def _constant(text: str) -> _Refused:
    return _Refused("number_not_finite",
                    f"{text} is not a finite number; JSON has no NaN or Infinity, send a decimal "
                    "such as \"10.5\"", text)  # fmt: skip


def read_json(body: bytes, *, max_depth: int, decimal_fields: Iterable[Loc] = ()) -> Any:
    """`body` parsed with fractions as exact Decimals; WireError (with locations) when unsafe.

    `decimal_fields` are locations whose string values are read as decimals downstream: they
    get the same length and exponent bounds as number literals.
    """
    if nests_deeper_than(body, max_depth):
        raise WireError([Problem((), "json_too_deep",
                                 f"JSON nested deeper than {max_depth} levels; a check request "
                                 "nests 2")])  # fmt: skip
    try:
        data = json.loads(body, parse_float=_float, parse_int=_int, parse_constant=_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8
        raise WireError([Problem((), "json_invalid", f"not valid JSON: {exc}")]) from None
    problems: list[Problem] = []
    _collect(data, (), problems)
    for loc in decimal_fields:
        value = _at(data, loc)
        if isinstance(value, str):
            why = number_problem(value)
            if why is not None:
                problems.append(Problem(loc, "number_out_of_bounds", why, value))
    if problems:
        raise WireError(problems)
    return data


def _collect(value: Any, loc: Loc, problems: list[Problem]) -> None:
    # Recursion is bounded: nesting_depth() has already capped the depth.
    if isinstance(value, _Refused):
        problems.append(Problem(loc, value.kind, value.message, value.literal))
    elif isinstance(value, dict):
        for key, item in value.items():
            _collect(item, (*loc, key), problems)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _collect(item, (*loc, i), problems)


def _at(data: Any, loc: Loc) -> Any:
    for key in loc:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


RECURSION_LIMIT = 1000
"""Python's default. py_ecc (imported through eth_account) raises the limit to 100,000 on import,
and at that depth C-recursive code (json, pydantic, repr) overflows the C stack and kills the
process instead of raising RecursionError."""


def restore_recursion_limit() -> None:
    """Import py_ecc now (so no later import raises the limit again) and restore the default."""
    import importlib.util

    if importlib.util.find_spec("py_ecc") is not None:
        import py_ecc  # noqa: F401
    sys.setrecursionlimit(RECURSION_LIMIT)
