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
    from ..journal.base import Journal
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


def _view(pipeline: Pipeline, journal: Journal, title: str) -> object:
    from .run_view import run_view

    monitor, strategies = pipeline.status(time.time_ns())
    streams: dict[str, int] = getattr(journal, "streams", dict)()  # both backends; not the protocol
    return run_view(title, monitor, strategies, dict(pipeline.signal.health), streams)


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
    journal_spec: Annotated[
        str | None,
        typer.Option(
            "--journal",
            help="The journal: a SQLite file (path or sqlite:///path) or NATS JetStream "
            "(nats://host:port[/prefix]); default: the config's [run] journal.",
        ),
    ] = None,
    stage: Annotated[
        str | None,
        typer.Option(
            help="Run one stage in this process: ingest (market data into the journal), "
            "monitor (breakers, alerts, heartbeats) or pipeline (signal, pre-trade, orders, "
            "fills), each from its own cursor; all starts each stage as a process of its own "
            "and supervises them (default: every stage in this one process)."
        ),
    ] = None,
) -> None:
    """Run the bot: ingest → signal → pre-trade → order send → fills → monitor, journaled.

    Prints a summary when it stops. Ctrl-C or SIGTERM stop it cleanly; a SIGKILL loses nothing
    (the next run folds what was journaled and not yet decided).
    """
    import asyncio
    import signal

    # A SIGTERM while the run starts (a supervisor stopping its stages early) is a clean stop,
    # not a death by signal: remembered here, acted on once the loop runs.
    stopped_early: list[int] = []
    if stage != "all":
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda signum, frame: stopped_early.append(signum))

    from rich.console import Console
    from rich.live import Live

    from ..journal.base import JournalError
    from ..journal.opening import open_journal
    from ..pipeline.runner import STAGES, RunLocked, Runner, decision_percentiles, lock_journal

    if stage is not None and stage not in ("all", *STAGES):
        fail([f"--stage {stage}: use {', '.join(STAGES)} or all"], EXIT_BAD_INPUT)
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
    spec = journal_spec or str(loaded.journal_path)
    if stage == "all":
        from .run_stages import supervise

        own = ["--config", str(config.resolve())]
        for flag, value in (
            ("--venue", venue),
            ("--fork-url", fork_url),
            ("--addresses", None if addresses is None else addresses.resolve()),
        ):
            own += [] if value is None else [flag, str(value)]  # fmt: skip
        raise typer.Exit(supervise(own, spec, duration))
    local = _local_path(spec)
    if local is not None:
        loaded = loaded.with_journal(local)
    loaded.journal_path.parent.mkdir(parents=True, exist_ok=True)
    locks = []
    try:  # a file journal: one process per stage (NATS: the cursors' expected sequences)
        for held in [] if local is None else (STAGES if stage is None else (stage,)):
            locks.append(lock_journal(loaded.journal_path, held))
    except RunLocked as exc:
        fail([str(exc)])
    try:
        journal = open_journal(spec)
    except JournalError as exc:
        fail([str(exc)])
    console = Console(highlight=False, soft_wrap=True)
    show_live = sys.stdout.isatty() if live is None else live
    from ..pipeline.venues.factory import VenueConfigError

    try:
        runner = Runner(journal, loaded, stage=stage or "all")
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
    title = f"zkrisk run: {mode}, journal {spec if local is None else loaded.journal_path}"
    if stage is not None:
        title = f"{title}, stage {stage}"
    show_live = show_live and stage in (None, "pipeline")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if stopped_early:
            stop.set()
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
        if local is not None:
            journal.close()
        for lock in locks:
            lock.close()
    if stage == "ingest":
        counts = ", ".join(f"{n} {o}" for o, n in sorted(runner.ingest.counts.by_outcome.items()))
        console.print(f"{title}: stopped; messages: {counts or 'none'}")
        return
    if runner.monitor_stage is not None:
        watched = runner.monitor_stage
        console.print(f"{title}: stopped; folded {watched.folded:,} records, trading "
                      f"{watched.monitor.state.value} at position {watched.monitor.position}")  # fmt: skip
        return
    with closing(journal if local is None else open_journal(spec, readonly=True)) as reader:
        console.print(_view(runner.pipeline, reader, title))
        stats = runner.pipeline.stats
        timing = decision_percentiles(stats.decision_ns)
        folded = ", ".join(f"{n} {t}" for t, n in sorted(stats.by_type.items()))
        console.print(f"\nfolded {stats.records:,} records this run ({folded}); "
                      f"derived {stats.derived:,}")  # fmt: skip
        if timing and timing["p50_us"] < 60_000_000:  # else receive times are a tape's clock
            console.print(f"quote → verdict: p50 {timing['p50_us']:.0f} µs, "
                          f"p99 {timing['p99_us']:.0f} µs")  # fmt: skip


def _local_path(spec: str) -> Path | None:
    """The file of a SQLite journal spec (None: a NATS one); exits on an unknown scheme, before
    any lock file is made for it."""
    from ..journal.opening import ACCEPTED, SQLITE_SCHEME

    if spec.startswith("nats://"):
        return None
    if "://" in spec and not spec.startswith(SQLITE_SCHEME):
        fail([f"--journal {spec}: unknown scheme; give {ACCEPTED}"], EXIT_BAD_INPUT)
    return Path(spec.removeprefix(SQLITE_SCHEME)).resolve()


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
