"""`zkrisk run`, `zkrisk status` and `zkrisk killswitch`: the bot runner and its controls.

`run` starts ingest → signal → pre-trade → order send → fills → monitor on one event loop (paper
mode: approvals fill at the quote; `--venue simex`: they go to the simulated exchange;
`--venue uniswap`: they are swaps on Uniswap v2 pools, with `--fork-url/--addresses` on a
forked node's existing pools) and stops on Ctrl-C, SIGTERM or `--duration`; a restart
continues the journal.
`status` rebuilds the pipeline's view from the journal (read-only), so it works against a live
run. `killswitch engage|release` appends an operator command to the journal; the running
monitor halts (or resumes) through the same transition its breakers use.
"""

from __future__ import annotations

import json
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .common import EXIT_BAD_INPUT, bad_input, fail
from .help import FullHelpGroup

if TYPE_CHECKING:  # the pipeline loads in the commands: every `zkrisk` command would pay for it
    from ..journal.sqlite import SQLiteJournal
    from ..pipeline.run_config import LoadedRun
    from ..pipeline.runner import Pipeline

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="The run config (TOML), e.g. examples/run.toml.")
]


def _load(config: Path) -> LoadedRun:
    from ..pipeline.run_config import load_run_config

    if not config.is_file():
        fail([f"{config}: run config not found (see examples/run.toml)"])
    with bad_input():
        return load_run_config(config)
    raise AssertionError("unreachable")  # bad_input exits


def _view(pipeline: Pipeline, journal: SQLiteJournal, title: str) -> object:
    from .run_view import run_view

    monitor, strategies = pipeline.status(time.time_ns())
    return run_view(title, monitor, strategies, dict(pipeline.signal.health), journal.streams())


def run(
    config: ConfigOption,
    venue: Annotated[
        str | None,
        typer.Option(
            help="Where approvals go: paper (fill at the quote), simex (the simulated "
            "exchange of [venue.simex]) or uniswap (the Uniswap v2 pools of [venue.uniswap]); "
            "default: the config's [venue] kind."
        ),
    ] = None,
    fork_url: Annotated[
        str | None,
        typer.Option(
            help="Fork mode: trade on the node at URL (e.g. an Anvil forked from another "
            "chain), using the tokens and pools the addresses file names; overrides "
            "[venue.uniswap] rpc_url."
        ),
    ] = None,
    addresses: Annotated[
        Path | None,
        typer.Option(
            help="The Uniswap deployment's addresses file (JSON); overrides [venue.uniswap] "
            "addresses."
        ),
    ] = None,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: until Ctrl-C).")
    ] = None,
    live: Annotated[
        bool | None,
        typer.Option("--live/--no-live", help="The live terminal view (default: on a terminal)."),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Serve Prometheus metrics on 127.0.0.1:PORT/metrics.", min=1, max=65535),
    ] = None,
) -> None:
    """Run the bot: ingest → signal → pre-trade → order send → fills → monitor, journaled.

    Prints a summary when it stops. Ctrl-C or SIGTERM stop it cleanly; a SIGKILL loses nothing
    (the next run folds what was journaled and not yet decided).
    """
    import asyncio
    import signal

    from rich.console import Console
    from rich.live import Live

    from ..journal.base import JournalError
    from ..journal.sqlite import SQLiteJournal
    from ..pipeline.runner import RunLocked, Runner, decision_percentiles, lock_journal

    loaded = _load(config)
    if venue is not None:
        if venue not in ("paper", "simex", "uniswap"):
            fail([f"--venue {venue}: use paper, simex or uniswap"], EXIT_BAD_INPUT)
        loaded = loaded.with_venue(venue)
    if fork_url is not None or addresses is not None:
        if loaded.config.venue.kind != "uniswap":
            fail(["--fork-url / --addresses trade on Uniswap: add --venue uniswap"],
                 EXIT_BAD_INPUT)  # fmt: skip
        with bad_input():
            loaded = loaded.with_uniswap(rpc_url=fork_url, addresses=addresses)
    loaded.journal_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        lock = lock_journal(loaded.journal_path)
    except RunLocked as exc:
        fail([str(exc)])
    try:
        journal = SQLiteJournal(loaded.journal_path)
    except JournalError as exc:
        fail([str(exc)])
    console = Console(highlight=False, soft_wrap=True)
    show_live = sys.stdout.isatty() if live is None else live
    from ..pipeline.venues.factory import VenueConfigError

    try:
        runner = Runner(journal, loaded)
    except VenueConfigError as exc:
        journal.close()
        fail([str(exc)], EXIT_BAD_INPUT)
    if metrics_port is not None:
        from prometheus_client import start_http_server

        try:
            start_http_server(metrics_port, addr="127.0.0.1", registry=runner.registry)
        except OSError as exc:
            fail([f"--metrics-port {metrics_port}: {exc.strerror}: choose a free port"])
    kind = loaded.config.venue.kind
    mode = "paper mode" if kind == "paper" else f"trading on {kind}"
    title = f"zkrisk run: {mode}, journal {loaded.journal_path}"

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if duration is not None:
            loop.call_later(duration, stop.set)
        task = asyncio.create_task(runner.run_until(stop))
        if show_live:
            with Live(console=console, refresh_per_second=4) as view:
                while not task.done():
                    view.update(_view(runner.pipeline, journal, title))  # type: ignore[arg-type]
                    await asyncio.wait({task}, timeout=0.25)
        await task

    from ..pipeline.order_send import VenueUnusable

    try:
        asyncio.run(main())
    except VenueUnusable as exc:  # journaled as an alert; no retry can help
        fail([str(exc), "the run stopped (journaled as a VenueUnusable alert)"])
    finally:
        journal.close()
        lock.close()
    with closing(SQLiteJournal(loaded.journal_path, readonly=True)) as reader:
        console.print(_view(runner.pipeline, reader, title))
        stats = runner.pipeline.stats
        timing = decision_percentiles(stats.decision_ns)
        folded = ", ".join(f"{n} {t}" for t, n in sorted(stats.by_type.items()))
        console.print(f"\nfolded {stats.records:,} records this run ({folded}); "
                      f"derived {stats.derived:,}")  # fmt: skip
        if timing:
            console.print(f"quote → verdict: p50 {timing['p50_us']:.0f} µs, "
                          f"p99 {timing['p99_us']:.0f} µs")  # fmt: skip


def status(
    config: ConfigOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Trading state, heartbeats, feed health and strategies, rebuilt from the run's journal."""
    from rich.console import Console

    from ..journal.base import JournalError
    from ..journal.sqlite import SQLiteJournal
    from ..pipeline.runner import rebuild

    loaded = _load(config)
    if not loaded.journal_path.is_file():
        fail([f"{loaded.journal_path}: no journal yet: start the run with "
              f"`zkrisk run --config {config}`"])  # fmt: skip
    try:
        with closing(SQLiteJournal(loaded.journal_path, readonly=True)) as journal:
            pipeline = rebuild(journal, loaded)
            # A stopped (or stuck) run sends no heartbeats: judge their ages against now.
            pipeline.monitor.check_heartbeats(time.time_ns())
            if as_json:
                monitor, strategies = pipeline.status(time.time_ns())
                typer.echo(json.dumps({
                    "trading_state": monitor.trading_state.value,
                    "reason": monitor.reason,
                    "equity_usd": str(monitor.equity_usd),
                    "drawdown_bps": str(monitor.drawdown_bps),
                    "daily_loss_usd": str(monitor.daily_loss_usd),
                    "heartbeats": {c: {"age_seconds": str(h.age_seconds), "missed": h.missed}
                                   for c, h in monitor.heartbeats.items()},
                    "feeds": {s: v.value for s, v in pipeline.signal.health.items()},
                    "streams": journal.streams(),
                    "strategies": {s.id: {"enabled": s.enabled, "pnl_usd": str(s.pnl_usd),
                                          "intents": s.intents_total} for s in strategies},
                    "position": pipeline.position,
                }, indent=2))  # fmt: skip
                return
            Console(highlight=False, soft_wrap=True).print(
                _view(pipeline, journal, f"zkrisk status: {loaded.journal_path}")
            )
    except JournalError as exc:
        fail([str(exc)])


killswitch_app = typer.Typer(
    cls=FullHelpGroup,
    help="Halt or resume a run through its journal (the monitor's own transition).",
    no_args_is_help=True,
)


def _command(config: Path, engaged: bool, reason: str, actor: str) -> None:
    from ..journal.base import JournalError
    from ..journal.sqlite import SQLiteJournal
    from ..pipeline.monitor import kill_switch_draft

    loaded = _load(config)
    if not loaded.journal_path.is_file():
        fail([f"{loaded.journal_path}: no journal: nothing runs with this config"])
    if not reason.strip():
        fail(["--reason must say why (it is journaled with the command)"], EXIT_BAD_INPUT)
    try:
        with closing(SQLiteJournal(loaded.journal_path)) as journal:
            rec = journal.append(
                [kill_switch_draft(engaged, reason, actor=actor, now_ns=time.time_ns())]
            )[0]
    except JournalError as exc:
        fail([str(exc)])
    verb = "engaged: the run halts" if engaged else "released: the run resumes to ACTIVE"
    typer.echo(f"kill switch {verb} (journal position {rec.position})")


@killswitch_app.command()
def engage(
    config: ConfigOption,
    reason: Annotated[str, typer.Option(help="Why (journaled).")],
    actor: Annotated[str, typer.Option(help="Who (journaled).")] = "operator",
) -> None:
    """Halt the run: no new intent reaches the gate until a release."""
    _command(config, True, reason, actor)


@killswitch_app.command()
def release(
    config: ConfigOption,
    reason: Annotated[str, typer.Option(help="Why (journaled).")],
    actor: Annotated[str, typer.Option(help="Who (journaled).")] = "operator",
) -> None:
    """Resume the run to ACTIVE (an explicit resume; breaker baselines reset)."""
    _command(config, False, reason, actor)
