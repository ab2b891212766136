"""Read the engine's input files (portfolio, assets, prices, scenarios, order) into models.

Every file may be TOML, YAML or JSON (scenarios also CSV). Numbers are read as exact Decimals
from the text, as for policy files, and every problem is reported as `file:line: field: what`
(an `InputError`, the same shape as `PolicyError`) so a command line can print it and stop.
"""

from __future__ import annotations

import csv
import io
import json
import re
from bisect import bisect_right
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Self, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from .risk import fixed_point as fp
from .risk.models import Asset, OrderIntent, Portfolio, PriceSnapshot, RiskPolicy, ScenarioSet
from .risk.policy import (
    DuplicateKey,
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
            data, lines = _read_toml(text, str(path))
            return data, {(): 1, **lines}
        if suffix in {".yaml", ".yml"}:
            return _read_yaml(text, str(path))
    except PolicyError as exc:
        raise InputError(exc.source, list(exc.issues)) from None
    except RecursionError:
        raise InputError(str(path), [PolicyIssue("", None, "nested too deeply")]) from None
    if suffix == ".json":
        try:
            return json.loads(text, parse_float=Decimal), json_lines(text)
        except json.JSONDecodeError as exc:
            raise InputError(str(path), [PolicyIssue("", exc.lineno, exc.msg)]) from None
        except DuplicateKey as dup:
            raise InputError(str(path), [dup.issue()]) from None
        except RecursionError:
            raise InputError(str(path), [PolicyIssue("", None, "nested too deeply")]) from None
    raise InputError(str(path), [PolicyIssue("", None, "unsupported format: use .toml, .yaml or .json")])  # fmt: skip


_JSON_SPACE = " \t\n\r"
_JSON_DECODER = json.JSONDecoder(parse_float=Decimal)


def json_lines(text: str) -> Lines:
    """Key path → line of a valid JSON document; raises DuplicateKey for a key given twice in one
    object (json.loads keeps the last silently, so a stray copy of a limit would win)."""
    starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
    lines: Lines = {}

    def line_at(i: int) -> int:
        return bisect_right(starts, i)

    def skip(i: int) -> int:
        while i < len(text) and text[i] in _JSON_SPACE:
            i += 1
        return i

    def walk(i: int, path: tuple[str, ...]) -> int:
        i = skip(i)
        lines.setdefault(path, line_at(i))
        if text[i] == "{":
            seen: dict[str, int] = {}
            i = skip(i + 1)
            while text[i] != "}":
                key, end = _JSON_DECODER.raw_decode(text, i)
                if key in seen:
                    raise DuplicateKey(".".join((*path, key)), line_at(i), seen[key])
                seen[key] = lines[(*path, key)] = line_at(i)
                i = skip(walk(skip(end) + 1, (*path, key)))  # past the ':' and the value
                i = skip(i + 1) if text[i] == "," else i
            return i + 1
        if text[i] == "[":
            i, n = skip(i + 1), 0
            while text[i] != "]":
                i = skip(walk(i, (*path, str(n))))
                i, n = (skip(i + 1) if text[i] == "," else i), n + 1
            return i + 1
        return _JSON_DECODER.raw_decode(text, i)[1]

    walk(0, ())
    return lines


def validate(data: Any, lines: Lines, model: type[M], source: str) -> M:
    """`model` from parsed data; every validation error names its field and line."""
    if not isinstance(data, dict):
        raise InputError(source, [PolicyIssue("", 1, "expected a mapping of fields")])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(source, _issues(exc, lines, data)) from None


# Errors raised while a model is built (fixed-point conversion in model_post_init, whole-model
# checks) carry the model's location, not the field's: these name the field so the error can
# point at its line.
_FIELD_OF_MESSAGE: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(r"^position \S+ quantity: "), ("quantity",)),
    (re.compile(r"^(?:order )?quantity: "), ("quantity",)),
    (re.compile(r"^price: "), ("price",)),
    (re.compile(r"^limit_price: "), ("limit_price",)),
    (re.compile(r"^margin: "), ("margin",)),
)
_SCENARIO_ROW = re.compile(r"^scenario (\d+) (?:\S+ return: |has \d+ returns)")
_DUPLICATE = re.compile(r"^duplicate (position|asset) symbols: ([^,\s]+)")


def _refine(loc: tuple[str, ...], message: str, data: Any) -> tuple[str, ...]:
    """The field a model-level error is about (see _FIELD_OF_MESSAGE), else `loc` itself."""
    for pattern, field in _FIELD_OF_MESSAGE:
        if pattern.match(message):
            return (*loc, *field)
    if row := _SCENARIO_ROW.match(message):
        return (*loc, "returns", row.group(1))
    if dup := _DUPLICATE.match(message):
        key = f"{dup.group(1)}s"
        entries = data.get(key, []) if isinstance(data, dict) else []
        seen = [
            i
            for i, e in enumerate(entries)
            if isinstance(e, dict) and e.get("symbol") == dup.group(2)
        ]
        return (*loc, key, str(seen[-1])) if len(seen) > 1 else (*loc, key)
    return loc


def _issues(exc: ValidationError, lines: Lines, data: Any = None) -> list[PolicyIssue]:
    issues = []
    for err in exc.errors():
        message = err["msg"].removeprefix("Value error, ")
        loc = tuple(str(part) for part in err["loc"])
        loc = _refine(loc, message, data) if err["type"] == "value_error" else loc
        if err["type"] == "missing":
            message = "required field is missing"
        elif err["type"] == "extra_forbidden":
            message = "unknown field (check the spelling)"
        elif "input" in err and not isinstance(err["input"], dict | list):
            message = f"{message} (got {err['input']!r})"
        # A missing top-level field is at no line of its own: point at the document's start.
        line = _line_of(loc, lines) or lines.get(())
        issues.append(PolicyIssue(".".join(loc), line, message))
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


_MAX_NOTIONAL = fp.MAX_NOTIONAL_USD * fp.VALUE_SCALE


def _notional_issue(
    field: str, line: int | None, what: str, value: int, price_at: str
) -> PolicyIssue:
    usd = fp.from_fixed(value, fp.VALUE_DECIMALS).normalize()
    return PolicyIssue(field, line, (
        f"{what}: notional |quantity| × price = ${usd:,f} (price from {price_at}) is at or above "
        f"the fixed-point limit ${fp.MAX_NOTIONAL_USD:,} (fixed_point.MAX_NOTIONAL_USD); "
        "check the units, or split the book"
    ))  # fmt: skip


def refuse_oversized_notionals(
    portfolio: Portfolio,
    portfolio_path: str | Path,
    snapshot: PriceSnapshot,
    prices_path: str | Path,
    order: OrderIntent | None = None,
    order_path: str | Path | None = None,
) -> None:
    """Refuse a position, margin or order whose notional reaches fixed_point.MAX_NOTIONAL_USD,
    naming the file and line (quantity and price each fit their widths; their product may not)."""
    book_lines: Lines | None = None
    price_lines: Lines | None = None

    def price_at(symbol: str) -> str:
        nonlocal price_lines
        if price_lines is None:
            price_lines = read_document(Path(prices_path))[1]
        line = _line_of(("prices", symbol, "price"), price_lines)
        return f"{prices_path}:{line}" if line else str(prices_path)

    def book_line(loc: tuple[str, ...]) -> int | None:
        nonlocal book_lines
        if book_lines is None:
            book_lines = read_document(Path(portfolio_path))[1]
        return _line_of(loc, book_lines)

    price = {s: p.price_fixed for s, p in snapshot.prices.items()}
    issues = []
    for i, pos in enumerate(portfolio.positions):
        value = abs(pos.quantity_fixed) * price.get(pos.symbol, 0)
        if value >= _MAX_NOTIONAL:
            loc = ("positions", str(i), "quantity")
            issues.append(_notional_issue(".".join(loc), book_line(loc),
                          f"position {pos.symbol}", value, price_at(pos.symbol)))  # fmt: skip
    symbol = portfolio.margin_symbol
    margin = 0 if symbol is None else portfolio.margin_fixed * price.get(symbol, 0)
    if symbol is not None and margin >= _MAX_NOTIONAL:
        issues.append(_notional_issue("margin", book_line(("margin",)), f"margin {symbol}",
                                      margin, price_at(symbol)))  # fmt: skip
    if issues:
        raise InputError(str(portfolio_path), issues)
    if order is not None:
        reference = price.get(order.symbol, 0)
        value = order.quantity_fixed * max(reference, order.limit_price_fixed or 0)
        if value >= _MAX_NOTIONAL:
            lines = read_document(Path(order_path))[1] if order_path is not None else {}
            at = (
                price_at(order.symbol)
                if reference >= (order.limit_price_fixed or 0)
                else "limit_price"
            )
            source = str(order_path) if order_path is not None else "order options (--quantity)"
            raise InputError(source, [_notional_issue("quantity", _line_of(("quantity",), lines),
                             f"order {order.symbol}", value, at)])  # fmt: skip


def asset_map(assets: tuple[Asset, ...]) -> Mapping[str, Asset]:
    return {a.symbol: a for a in assets}
