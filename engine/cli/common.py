"""What every `zkrisk` command shares: exit codes and turning bad input into `error:` lines.

Imports that cost start-up time (rich, pydantic, the risk domain) wait inside the functions:
every command imports this module, most never fail.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from ..journal.chain import ChainReport

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
#: The latest unix time a --now option takes: 9999-12-31T23:59:59Z, the end of the calendar
#: that trading windows and UTC days are judged in (timestamps themselves are 64 bits wide).
UNIX_TIME_MAX = 253_402_300_799


def fail(lines: list[str], code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print `error: line` for each line on stderr and exit with `code`."""
    from rich.console import Console
    from rich.markup import escape

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for line in lines:
        err.print(f"[bold red]error:[/] {escape(line)}", markup=True)
    raise typer.Exit(code)


@contextmanager
def bad_input() -> Iterator[None]:
    """Turn input problems into `error: file:line: field: what` lines and exit code 2."""
    from pydantic import ValidationError

    from ..risk.fixed_point import FixedPointError
    from ..risk.policy import PolicyError

    try:
        yield
    except PolicyError as exc:  # InputError too: every file loader reports this way
        fail(str(exc).splitlines())
    except ValidationError as exc:
        fail([f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in exc.errors()])
    except (FixedPointError, ValueError) as exc:
        fail([str(exc)])


def report_chain(db: Path | str, report: ChainReport, *, log: str, unit: str, at: str, bad_key: str,
                 as_json: bool, extra: Mapping[str, object] | None = None) -> None:  # fmt: skip
    """Print a hash-chain check (the audit log's or the journal's) and exit 1 when it is broken:
    `unit` names the rows ('entries'), `at` where a bad one sits ('entry seq'), `bad_key` its
    JSON field; `extra` adds keys to the JSON (the audit log's checkpoints)."""
    if as_json:
        typer.echo(json.dumps({"db": str(db), "intact": report.intact, unit: report.entries,
                               "head": report.head, bad_key: report.bad,
                               "problem": report.problem or None, **(extra or {})}))  # fmt: skip
    elif report.intact:
        typer.echo(f"OK: {db}: {report.entries} {unit}, hash chain intact; head {report.head}")
    if not report.intact:
        fail([f"{db}: {log} chain broken at {at} {report.bad}: {report.problem} "
              f"({report.entries} {unit} before it verify)"], EXIT_FAILED)  # fmt: skip
