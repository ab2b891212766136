"""Reading a P&L series for backtesting: the shipped example, and every bad input named by file
and line."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from zkrisk.engine.files import InputError
from zkrisk.engine.pnl_series import PNL_SCALE, load_pnl_series

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "backtest-pnl.csv"
EXPOSURES = {"WETH": 2_000_000, "WBTC": 1_500_000, "LINK": -500_000}


def test_the_shipped_series_is_500_business_days_whose_pnl_is_the_books_return() -> None:
    series = load_pnl_series(EXAMPLE)
    assert len(series.pnl) == 500 and series.lines[0] == 5
    assert all(d.weekday() < 5 for d in series.dates)
    rows = [line.split(",") for line in EXAMPLE.read_text().splitlines()[4:]]
    for row, pnl in zip(rows, series.pnl, strict=True):
        recomputed = sum(v * Decimal(r) for v, r in zip(EXPOSURES.values(), row[1:4], strict=True))
        assert recomputed * PNL_SCALE == pnl


def test_the_shipped_series_is_what_its_generator_writes() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_backtest_series.py"),
                           "--check"], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_another_pnl_column_is_read_by_name_and_comments_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "desk.csv"
    path.write_text("# a comment\ndate,hypothetical,actual\n2025-01-02,1.5,-2\n"
                    "# another\n2025-01-03,-0.000001,3\n")  # fmt: skip
    series = load_pnl_series(path, "hypothetical")
    assert series.pnl == (1_500_000, -1) and series.lines == (3, 5)


BAD = [
    ("date,pnl\n2025-01-02,12\n2025-01-03,abc\n", "pnl", ":3: pnl: 'abc' is not a number"),
    ("date,pnl\n2025-01-02,NaN\n", "pnl", ":2: pnl: 'NaN' is not a finite number"),
    ("date,pnl\n2025-01-02,Infinity\n", "pnl", ":2: pnl: 'Infinity' is not a finite number"),
    ("date,pnl\n2025-01-02,0.1234567\n", "pnl", ":2: pnl: 0.1234567 has more than 6 decimals"),
    ("date,pnl\n2025-01-02,2e15\n", "pnl", ":2: pnl: 2e15 is beyond ±1,000,000,000,000,000 USD"),
    ("date,pnl\n2025-01-02,1,2\n", "pnl", ":2: 3 cells, the header has 2"),
    ("date,pnl\n02/01/2025,1\n", "pnl", ":2: date: '02/01/2025' is not a date (yyyy-mm-dd)"),
    ("date,pnl\n2025-02-30,1\n", "pnl", ":2: date: '2025-02-30' is not a date"),
    ("date,pnl\n2025-01-03,1\n2025-01-03,2\n", "pnl",
     ":3: date: 2025-01-03 does not follow 2025-01-03 (line 2): dates must increase"),
    ("# only\n# comments\n", "pnl", ": no header row: the file needs columns date,pnl"),
    ("# c\ndate,pnl\n", "pnl", ":2: the header is followed by no P&L rows"),
    ("# c\nday,WETH,profit\n2025-01-02,0.1,3\n", "pnl",
     ":2: the header has no 'date' or 'pnl' column (it has day, WETH, profit); name it with --column"),
    ("date,pnl\n2025-01-02,3\n", "actual", ":1: the header has no 'actual' column (it has date, pnl)"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "column", "message"), BAD, ids=[m for _, _, m in BAD])
def test_a_bad_series_is_refused_naming_the_file_line_and_problem(
    tmp_path: Path, text: str, column: str, message: str
) -> None:
    path = tmp_path / "pnl.csv"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_pnl_series(path, column)
    assert str(caught.value).startswith(f"{path}{message}")


def test_a_spreadsheets_byte_order_mark_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfdate,pnl\r\n2025-01-02,-12.5\r\n")
    assert load_pnl_series(path).pnl == (-12_500_000,)


def test_a_missing_directory_or_binary_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.csv: file not found"):
        load_pnl_series(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="is a directory"):
        load_pnl_series(tmp_path)
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00date")
    with pytest.raises(InputError, match=r"bin\.csv: is not UTF-8"):
        load_pnl_series(tmp_path / "bin.csv")
