"""Read a daily P&L series (CSV) for `zkrisk backtest`.

The file has a header row naming its columns, one row per day after it; `#` lines are
comments. Two columns are read: `date` (ISO yyyy-mm-dd, strictly increasing) and the P&L
column (`pnl` unless told otherwise: USD, a gain positive, at most PNL_DECIMALS decimals). Other
columns (the returns the P&L came from, say) are kept out of the way. Every problem is an
`InputError` naming the file, the line and what to fix.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from .files import InputError
from .risk.policy import PolicyIssue

#: P&L is read exactly into integers at this many decimals (micro-USD).
PNL_DECIMALS = 6
PNL_SCALE = 10**PNL_DECIMALS
#: Beyond any desk's daily P&L: a number this large is a unit mistake, not a loss.
MAX_ABS_PNL = Decimal(10) ** 15


@dataclass(frozen=True, slots=True)
class PnlSeries:
    """A daily P&L series: dates, P&L at PNL_SCALE, and the file line of each day."""

    source: str
    dates: tuple[date, ...]
    pnl: tuple[int, ...]
    lines: tuple[int, ...]


def _problem(source: str, line: int | None, field: str, message: str) -> InputError:
    return InputError(source, [PolicyIssue(field, line, message)])


def _read_text(p: Path) -> str:
    try:
        return p.read_text(encoding="utf-8-sig")  # a spreadsheet's byte-order mark is no column
    except FileNotFoundError:
        raise _problem(str(p), None, "", "file not found") from None
    except IsADirectoryError:
        raise _problem(str(p), None, "", "is a directory, not a CSV file") from None
    except UnicodeDecodeError:
        raise _problem(str(p), None, "", "is not UTF-8 text (a CSV file is expected)") from None


def _parse_pnl(source: str, line: int, column: str, cell: str) -> int:
    text = cell.strip()
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _problem(source, line, column, f"{text!r} is not a number") from None
    if not value.is_finite():
        raise _problem(source, line, column, f"{text!r} is not a finite number")
    if abs(value) > MAX_ABS_PNL:
        raise _problem(source, line, column,
                       f"{text} is beyond ±{MAX_ABS_PNL:,f} USD: check the units")  # fmt: skip
    scaled = value * PNL_SCALE
    if scaled != scaled.to_integral_value():
        raise _problem(source, line, column, f"{text} has more than {PNL_DECIMALS} decimals")
    return int(scaled)


def _parse_date(source: str, line: int, cell: str) -> date:
    text = cell.strip()
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise _problem(source, line, "date", f"{text!r} is not a date (yyyy-mm-dd)") from None


def load_pnl_series(path: str | Path, column: str = "pnl") -> PnlSeries:
    """The `date` and `column` columns of a P&L CSV, checked row by row."""
    p = Path(path)
    source = str(p)
    reader = csv.reader(io.StringIO(_read_text(p)))
    rows = [(reader.line_num, r) for r in reader if r and not r[0].lstrip().startswith("#")]
    if not rows:
        raise _problem(source, None, "", f"no header row: the file needs columns date,{column}")
    header_line, header = rows[0]
    names = [name.strip() for name in header]
    missing = [name for name in ("date", column) if name not in names]
    if missing:
        hint = "" if column != "pnl" or "pnl" not in missing else "; name it with --column"
        raise _problem(source, header_line, "",
                       f"the header has no {' or '.join(map(repr, missing))} column "
                       f"(it has {', '.join(names)}){hint}")  # fmt: skip
    at_date, at_pnl = names.index("date"), names.index(column)
    dates: list[date] = []
    pnl: list[int] = []
    lines: list[int] = []
    for line, row in rows[1:]:
        if len(row) != len(names):
            raise _problem(source, line, "",
                           f"{len(row)} cells, the header has {len(names)}")  # fmt: skip
        day = _parse_date(source, line, row[at_date])
        if dates and day <= dates[-1]:
            raise _problem(source, line, "date",
                           f"{day} does not follow {dates[-1]} (line {lines[-1]}): "
                           "dates must increase")  # fmt: skip
        dates.append(day)
        pnl.append(_parse_pnl(source, line, column, row[at_pnl]))
        lines.append(line)
    if not pnl:
        raise _problem(source, header_line, "", "the header is followed by no P&L rows")
    return PnlSeries(source, tuple(dates), tuple(pnl), tuple(lines))
