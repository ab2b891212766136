"""Read the engine's input files (portfolio, assets, prices, scenarios, order) into models.

Every file may be TOML, YAML or JSON (scenarios also CSV). Numbers are read as exact Decimals
from the text, as for policy files, and every problem is reported as `file:line: field: what`
(an `InputError`, the same shape as `PolicyError`) so a command line can print it and stop.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Self, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from .risk.models import Asset, OrderIntent, Portfolio, PriceSnapshot, RiskPolicy, ScenarioSet
from .risk.policy import (
    Lines,
    PolicyError,
    PolicyIssue,
    _line_of,
    _read_toml,
    _read_yaml,
    load_policy,
)

M = TypeVar("M", bound=BaseModel)


class InputError(PolicyError):
    """An input file that cannot be read or does not validate; lists every problem."""

    def _render(self, issue: PolicyIssue) -> str:
        where = self.source if issue.line is None else f"{self.source}:{issue.line}"
        return (
            f"{where}: {issue.field}: {issue.message}"
            if issue.field
            else f"{where}: {issue.message}"
        )


class AssetList(BaseModel):
    """The assets file: every asset the engine may see, with its lending parameters."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    assets: tuple[Asset, ...]
    """One entry per symbol (positions, the margin and the quote asset all need one)."""

    @model_validator(mode="after")
    def _unique(self) -> Self:
        symbols = [a.symbol for a in self.assets]
        duplicates = sorted({s for s in symbols if symbols.count(s) > 1})
        if duplicates:
            raise ValueError(f"duplicate asset symbols: {', '.join(duplicates)}")
        return self


def read_document(path: Path) -> tuple[Any, Lines]:
    """Parse a TOML, YAML or JSON file with exact decimals; returns data and key → line."""
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(str(path), [PolicyIssue("", None, "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(path), [PolicyIssue("", None, f"cannot read: {exc}")]) from None
    try:
        if suffix == ".toml":
            return _read_toml(text, str(path))
        if suffix in {".yaml", ".yml"}:
            return _read_yaml(text, str(path))
    except PolicyError as exc:
        raise InputError(exc.source, list(exc.issues)) from None
    if suffix == ".json":
        try:
            return json.loads(text, parse_float=Decimal), {}
        except json.JSONDecodeError as exc:
            raise InputError(str(path), [PolicyIssue("", exc.lineno, exc.msg)]) from None
    raise InputError(str(path), [PolicyIssue("", None, "unsupported format: use .toml, .yaml or .json")])  # fmt: skip


def validate(data: Any, lines: Lines, model: type[M], source: str) -> M:
    """`model` from parsed data; every validation error names its field and line."""
    if not isinstance(data, dict):
        raise InputError(source, [PolicyIssue("", 1, "expected a mapping of fields")])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(source, _issues(exc, lines)) from None


def _issues(exc: ValidationError, lines: Lines) -> list[PolicyIssue]:
    issues = []
    for err in exc.errors():
        loc = tuple(str(part) for part in err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            message = "required field is missing"
        elif err["type"] == "extra_forbidden":
            message = "unknown field (check the spelling)"
        elif "input" in err and not isinstance(err["input"], dict | list):
            message = f"{message} (got {err['input']!r})"
        issues.append(PolicyIssue(".".join(loc), _line_of(loc, lines), message))
    return issues


def load_model(path: str | Path, model: type[M]) -> M:
    p = Path(path)
    data, lines = read_document(p)
    return validate(data, lines, model, str(p))


def load_portfolio(path: str | Path) -> Portfolio:
    """A desk's book: account, margin, margin_symbol and a list of positions."""
    return load_model(path, Portfolio)


def load_assets(path: str | Path) -> tuple[Asset, ...]:
    """The `assets = [...]` list (TOML: one `[[assets]]` table per asset)."""
    return load_model(path, AssetList).assets


def load_prices(path: str | Path) -> PriceSnapshot:
    """An oracle snapshot: snapshot_id, taken_at and `prices.SYMBOL = {price, timestamp, round_id}`."""
    return load_model(path, PriceSnapshot)


def load_order(path: str | Path) -> OrderIntent:
    return load_model(path, OrderIntent)


def load_policy_file(path: str | Path) -> RiskPolicy:
    """A policy (TOML or YAML), with a clear error for a missing file too."""
    p = Path(path)
    if not p.is_file():
        raise InputError(str(p), [PolicyIssue("", None, "file not found")])
    return load_policy(p)


def load_scenarios(path: str | Path) -> ScenarioSet:
    """A scenario set: CSV (a header of symbols, one row of returns per scenario) or a document
    with `symbols` and `returns`."""
    p = Path(path)
    if p.suffix.lower() != ".csv":
        return load_model(p, ScenarioSet)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(str(p), [PolicyIssue("", None, "file not found")]) from None
    reader = csv.reader(io.StringIO(text))
    rows = [(reader.line_num, r) for r in reader if r and not r[0].lstrip().startswith("#")]
    if len(rows) < 2:
        raise InputError(str(p), [PolicyIssue("", 1, "needs a header of symbols and ≥ 1 scenario row")])  # fmt: skip
    symbols = tuple(s.strip() for s in rows[0][1])
    returns = []
    lines: Lines = {("symbols",): rows[0][0]}
    for k, (number, row) in enumerate(rows[1:]):
        try:
            returns.append(tuple(Decimal(cell.strip()) for cell in row))
        except InvalidOperation:
            raise InputError(str(p), [PolicyIssue(f"returns.{k}", number, f"not a number in {row}")]) from None  # fmt: skip
        lines[("returns", str(k))] = number
    return validate({"symbols": symbols, "returns": tuple(returns)}, lines, ScenarioSet, str(p))


def asset_map(assets: tuple[Asset, ...]) -> Mapping[str, Asset]:
    return {a.symbol: a for a in assets}
