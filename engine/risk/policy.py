"""Load a RiskPolicy from TOML or YAML; every validation error names the field and its line.

Numbers with a fraction are read as exact Decimals straight from the file's text (never through
a binary float), so `max_var_usd = 1500000.10` means exactly that.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .models import RiskPolicy

if TYPE_CHECKING:  # yaml loads when a YAML file is read (most files are TOML)
    import yaml

Lines = dict[tuple[str, ...], int]


@dataclass(frozen=True, slots=True)
class PolicyIssue:
    """One problem in a policy file."""

    field: str  # dotted path, '' for the whole policy
    line: int | None
    message: str


class PolicyError(ValueError):
    """A policy file that cannot be read or does not validate; lists every problem."""

    def __init__(self, source: str, issues: list[PolicyIssue]) -> None:
        self.source = source
        self.issues = tuple(issues)
        super().__init__("\n".join(self._render(i) for i in issues))

    def _render(self, issue: PolicyIssue) -> str:
        where = self.source if issue.line is None else f"{self.source}:{issue.line}"
        field = issue.field or "policy"
        return f"{where}: {field}: {issue.message}"


def load_policy(path: str | Path) -> RiskPolicy:
    """Read and validate a policy file (.toml, .yaml or .yml)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in {".toml", ".yaml", ".yml"}:
        raise PolicyError(str(p), [PolicyIssue("", None, "unsupported format: use .toml or .yaml")])
    return parse_policy(
        p.read_text(encoding="utf-8"), "toml" if suffix == ".toml" else "yaml", str(p)
    )


def parse_policy(text: str, fmt: str, source: str = "<policy>") -> RiskPolicy:
    """Validate policy text in `fmt` ('toml' or 'yaml'); `source` names it in errors."""
    if fmt == "toml":
        data, lines = _read_toml(text, source)
    elif fmt == "yaml":
        data, lines = _read_yaml(text, source)
    else:
        raise ValueError(f"unknown policy format {fmt!r}: use 'toml' or 'yaml'")
    if not isinstance(data, dict):
        raise PolicyError(source, [PolicyIssue("", 1, "the policy must be a mapping of fields")])
    try:
        return RiskPolicy.model_validate(data)
    except ValidationError as exc:
        issues = []
        for err in exc.errors():
            loc = tuple(str(part) for part in err["loc"])
            message = err["msg"]
            if err["type"] == "missing":
                message = "required field is missing"
            elif "input" in err and err["type"] != "extra_forbidden":
                message = f"{message} (got {err['input']!r})"
            elif err["type"] == "extra_forbidden":
                message = "unknown field (check the spelling)"
            issues.append(PolicyIssue(".".join(loc), _line_of(loc, lines), message))
        raise PolicyError(source, issues) from None


class DuplicateKey(ValueError):
    """A key given twice in one mapping of a YAML or JSON document."""

    def __init__(self, key: str, line: int, first: int) -> None:
        super().__init__(key, line, first)
        self.key, self.line, self.first = key, line, first

    def issue(self) -> PolicyIssue:
        return PolicyIssue(
            self.key, self.line, f"duplicate key (first given on line {self.first}); "
            "each key may appear once: delete one of them"
        )  # fmt: skip


def _line_of(loc: tuple[str, ...], lines: Lines) -> int | None:
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


# ---- TOML ------------------------------------------------------------------------------------

_TOML_KEY = re.compile(
    r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)
_INLINE_KEY = re.compile(r"""[{,]\s*([A-Za-z0-9_-]+)\s*=""")


def _split_key(key: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in key.split("."))


def _toml_message(message: str, text: str, line: int | None) -> str:
    """tomllib's message, naming the key when it is a duplicate ("Cannot overwrite a value")."""
    if line is None or not message.startswith("Cannot overwrite"):
        return message
    match = _TOML_KEY.match(text.splitlines()[line - 1])
    key = match.group(1).strip() if match else "?"
    return f"duplicate key {key!r}: each key may appear once ({message})"


def _read_toml(text: str, source: str) -> tuple[Any, Lines]:
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's TOMLDecodeError has no lineno attribute; its message carries the line.
        found = re.search(r"at line (\d+)", str(exc))
        line = int(found.group(1)) if found else None
        raise PolicyError(
            source, [PolicyIssue("", line, _toml_message(str(exc), text, line))]
        ) from None
    # tomllib keeps no positions, so a light scan maps each key path to its line.
    lines: Lines = {}
    table: tuple[str, ...] = ()
    arrays: dict[tuple[str, ...], int] = {}  # [[name]] tables seen so far, for their index
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("["):
            header = stripped.strip("[").split("]", 1)[0]
            table = _split_key(header)
            lines.setdefault(table, number)
            if stripped.startswith("[["):  # the n-th [[positions]] is positions.n
                arrays[table] = arrays.get(table, -1) + 1
                table = (*table, str(arrays[table]))
                lines.setdefault(table, number)
            continue
        match = _TOML_KEY.match(raw)
        if match:
            key = table + _split_key(match.group(1))
            lines.setdefault(key, number)
            rest = raw[match.end() :]
            if rest.lstrip().startswith("{"):
                for sub in _INLINE_KEY.finditer(rest):
                    lines.setdefault((*key, sub.group(1)), number)
    return data, lines


# ---- YAML ------------------------------------------------------------------------------------


@cache
def _decimal_loader() -> type[yaml.SafeLoader]:
    """SafeLoader that reads floats as exact Decimals from their text (made on first use)."""
    import yaml

    class _DecimalLoader(yaml.SafeLoader):
        pass

    _DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
    return _DecimalLoader


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    import yaml

    text = str(loader.construct_scalar(node)).replace("_", "").lower()
    special = {".inf": "Infinity", "+.inf": "Infinity", "-.inf": "-Infinity", ".nan": "NaN"}
    try:
        return Decimal(special.get(text, text))
    except InvalidOperation:
        raise yaml.constructor.ConstructorError(
            None, None, f"not a number: {text!r}", node.start_mark
        ) from None


def _yaml_lines(node: yaml.Node, path: tuple[str, ...], lines: Lines) -> None:
    import yaml

    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, str(key.value))
            lines[child] = key.start_mark.line + 1
            _yaml_lines(value, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _yaml_lines(item, (*path, str(i)), lines)


def _refuse_duplicate_keys(node: yaml.Node, path: tuple[str, ...] = ()) -> None:
    """PyYAML keeps the last of duplicate keys silently, so a stray copy of a limit would win over
    the real one: refuse them (before construction, which flattens `<<` merges into dups)."""
    import yaml

    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            if key.tag == "tag:yaml.org,2002:merge":
                continue
            name, line = str(key.value), key.start_mark.line + 1
            if name in seen:
                raise DuplicateKey(".".join((*path, name)), line, seen[name])
            seen[name] = line
            _refuse_duplicate_keys(value, (*path, name))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _refuse_duplicate_keys(item, (*path, str(i)))


def _read_yaml(text: str, source: str) -> tuple[Any, Lines]:
    import yaml

    loader = _decimal_loader()(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _refuse_duplicate_keys(node)
        data = None if node is None else loader.construct_document(node)
    except DuplicateKey as dup:
        raise PolicyError(source, [dup.issue()]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1
        raise PolicyError(source, [PolicyIssue("", line, str(exc.problem or exc))]) from None
    finally:
        loader.dispose()
    lines: Lines = {}
    if node is not None:
        _yaml_lines(node, (), lines)
    return data, lines
