"""`zkrisk backtest` on real files: the table, the exit code, a valid PNG, bad input → exit 2."""

from __future__ import annotations

import json
import random
import shutil
import struct
import subprocess
import sys
import zlib
from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zkrisk.engine.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "backtest-pnl.csv"
runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) of a PNG after checking its signature and every chunk's CRC."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    at, chunks = 8, []
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        chunks.append(kind)
        at += 12 + length
    assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND" and b"IDAT" in chunks
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_backtest_of_the_shipped_series_prints_the_table_rejects_and_writes_the_chart(
    tmp_path: Path,
) -> None:
    chart = tmp_path / "out" / "chart.png"
    code, out, _ = run("backtest", str(EXAMPLE), "--chart", str(chart))
    assert code == 1, out
    lines = out.splitlines()
    assert "historical VaR α = 0.99, 250-day window" in lines[0]
    assert lines[1].split()[:2] == ["observations", "250"]
    assert "2024-12-16 to 2025-11-28 (lines 255–504)" in lines[1]
    assert lines[2].split()[:4] == ["exceptions", "8", "expected", "2.50;"]
    pof, ind, cc = (next(line.split() for line in lines if line.startswith(name))
                    for name in ("Kupiec POF", "Christoffersen", "conditional"))  # fmt: skip
    assert pof[-4:] == ["7.7336", "1", "0.0054", "reject"]
    assert ind[-4:] == ["5.5852", "1", "0.0181", "reject"]
    assert cc[-4:] == ["13.3187", "2", "0.0013", "reject"]
    assert "Basel zone: YELLOW (green 0–4, yellow 5–9, red ≥ 10 exceptions in 250 days)" in out
    assert "P(X ≤ 8) = 99.89% under a correct model; plus factor 0.75 (multiplier 3.75)" in out
    assert "verdict: REJECT at 5%: POF, independence, conditional coverage" in out
    assert lines[-1] == f"chart: {chart}"
    width, height = png_size(chart)
    assert (width, height) == (1210, 528)
    assert 10_000 < chart.stat().st_size < 1_000_000


def test_backtest_at_a_stricter_significance_does_not_reject_what_only_5_percent_did(
    tmp_path: Path,
) -> None:
    code, out, _ = run("backtest", str(EXAMPLE), "--significance", "0.001", "--chart",
                       str(tmp_path / "c.png"), "--json")  # fmt: skip
    result = json.loads(out)
    assert code == 0 and result["rejected_by"] == []
    assert result["exceptions"] == 8 and result["zone"] == "yellow"
    assert result["exception_dates"][0] == "2024-12-27"
    assert result["transitions"] == {"n00": 235, "n01": 6, "n10": 6, "n11": 2}


def test_backtest_of_a_well_specified_model_exits_0_and_says_not_rejected(tmp_path: Path) -> None:
    rng, start = random.Random(3), date(2020, 1, 1)
    rows = [f"{start + timedelta(days=d)},{rng.gauss(0, 10_000):.2f}" for d in range(750)]
    path = tmp_path / "iid.csv"
    path.write_text("date,pnl\n" + "\n".join(rows) + "\n")
    code, out, _ = run("backtest", str(path), "--window", "500", "--chart", str(tmp_path / "g.png"))
    assert code == 0, out
    assert "Basel zone: GREEN" in out and "verdict: not rejected at 5%" in out
    assert png_size(tmp_path / "g.png") == (1210, 528)


def test_zero_exceptions_in_200_days_is_too_few_for_kupiec_but_green_for_basel(
    tmp_path: Path,
) -> None:
    path = tmp_path / "calm.csv"
    rows = [f"{date(2020, 1, 1) + timedelta(days=d)},{(-1) ** d * (d % 7)}" for d in range(300)]
    path.write_text("date,pnl\n" + "\n".join(rows) + "\n")
    code, out, _ = run("backtest", str(path), "--window", "100", "--chart", str(tmp_path / "c.png"))
    assert code == 1 and "exceptions         0" in out and "worst excess      none" in out
    assert "Basel zone: GREEN" in out and "verdict: REJECT at 5%: POF" in out


def _bad(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        ("date,profit\n2025-01-02,1\n", (), "bad.csv:1: the header has no 'pnl' column"),
        ("date,pnl\n2025-01-02,1\n2025-01-03,x1\n", (), "bad.csv:3: pnl: 'x1' is not a number"),
        ("date,pnl\n" + "".join(f"2025-01-{d:02d},1\n" for d in range(1, 21)), ("--window", "20"),
         "bad.csv:21: 20 P&L rows end here; a 20-day window needs at least 21"),
        ("date,pnl\n2025-01-02,1\n2025-01-03,1\n", ("--window", "1", "--alpha", "1.2"),
         "alpha='1.2' must lie strictly between 0 and 1"),
        ("date,pnl\n2025-01-02,1\n2025-01-03,1\n", ("--window", "1", "--significance", "5%"),
         "--significance '5%' is not a number"),
        ("date,pnl\n2025-01-02,1\n2025-01-03,1\n", ("--window", "1", "--significance", "1"),
         "--significance 1 must lie strictly between 0 and 1"),
        ("date,pnl\n2025-01-02,1\n2025-01-03,1\n", ("--window", "1", "--significance", "nan"),
         "--significance nan must lie strictly between 0 and 1"),
    ],
    ids=["no-pnl-column", "not-a-number", "too-few-rows", "alpha", "significance-text",
         "significance-range", "significance-nan"],
)  # fmt: skip
def test_backtest_of_bad_input_exits_2_naming_the_file_line_or_option(
    tmp_path: Path, text: str, args: tuple[str, ...], message: str
) -> None:
    chart = tmp_path / "never.png"
    code, out, err = run("backtest", str(_bad(tmp_path, text)), *args, "--chart", str(chart))
    assert code == 2, out + err
    assert message in " ".join(err.split()), err
    assert err.startswith("error: ") and not chart.exists()


def test_backtest_of_a_missing_file_exits_2(tmp_path: Path) -> None:
    code, _, err = run("backtest", str(tmp_path / "nope.csv"), "--chart", str(tmp_path / "c.png"))
    assert code == 2 and "nope.csv: file not found" in err


def test_backtest_that_cannot_write_its_chart_exits_2_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run("backtest", str(EXAMPLE), "--chart", str(blocker / "c.png"))
    assert code == 2 and f"--chart {blocker / 'c.png'}: cannot write the PNG" in " ".join(
        err.split()
    )


def test_the_installed_command_runs_from_a_directory_outside_the_repository(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / "series.csv")
    zkrisk = Path(sys.executable).parent / "zkrisk"
    done = subprocess.run([str(zkrisk), "backtest", "series.csv"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "chart: build/backtest.png" in done.stdout
    assert png_size(tmp_path / "build" / "backtest.png") == (1210, 528)
