"""`zkrisk feed serve`: the shipped market-data WebSocket server, for demos and tests.

Publishes a seeded random walk of WETH and WBTC quotes and trades (or a recorded file's rows,
in a loop) at `--rate` messages per second, with per-symbol sequence numbers, answering
subscribe / resume messages (see engine/pipeline/feed_server.py); the fault options make it
duplicate, reorder or corrupt a share of the messages.

Exit codes: 0 stopped (Ctrl-C / SIGTERM, or `--count` messages sent), 2 bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import bad_input
from .help import FullHelpGroup

feed_app = typer.Typer(
    help="The market-data feed server (WebSocket) for demos and tests.",
    no_args_is_help=True,
    rich_markup_mode=None,
    cls=FullHelpGroup,
)

Rate = Annotated[float, typer.Option(min=0.0, max=1.0)]


async def _serve(host: str, port: int, file: Path | None, rate: float, count: int | None,
                 burst: int, faults: object) -> None:  # fmt: skip
    import asyncio
    import signal

    from ..pipeline.feed_server import Faults, FeedServer

    assert isinstance(faults, Faults)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with FeedServer(
        host=host, port=port, file=file, faults=faults, keep_truth=False
    ) as server:
        typer.echo(f"feed server on {server.url} (symbols {', '.join(server.symbols)}; "
                   f"{rate:g} msg/s, {burst} a time)", err=True)  # fmt: skip
        publisher = asyncio.create_task(server.run(rate, count, burst=burst))
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({publisher, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if publisher.done():
            publisher.result()
            await asyncio.sleep(0.5)  # let clients read the tail
        publisher.cancel()
        stopper.cancel()


@feed_app.command(epilog="Exit codes: 0 stopped, 2 bad input.")
def serve(
    port: Annotated[int, typer.Option(help="TCP port (0: any free one).", min=0, max=65535)] = 8765,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    file: Annotated[
        Path | None,
        typer.Option(
            help="Replay this recorded .jsonl / .csv (in a loop) instead of a random walk.",
            dir_okay=False,
        ),
    ] = None,
    rate: Annotated[float, typer.Option(help="Messages per second.", min=0.001)] = 20.0,
    count: Annotated[int | None, typer.Option(help="Stop after this many messages.", min=1)] = None,
    burst: Annotated[
        int, typer.Option(help="Messages sent together, every burst/rate seconds.", min=1)
    ] = 1,
    duplicate_rate: Rate = 0.0,
    reorder_rate: Rate = 0.0,
    corrupt_rate: Rate = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the prices and of the faults.")] = 7,
) -> None:
    """Serve quotes and trades over WebSocket until interrupted.

    Clients send {"op": "subscribe", "symbols": [...], "resume": {"WETH": 41}} and receive one JSON message per frame; a resume point makes the server resend what followed it.
    """
    import asyncio  # here, not at the top: asyncio costs every `zkrisk` command start-up time

    from ..pipeline.feed_server import Faults

    with bad_input():
        faults = Faults(duplicate_rate, reorder_rate, corrupt_rate, seed)
        if file is not None and not file.is_file():
            raise ValueError(f"--file {file}: no such file")
    asyncio.run(_serve(host, port, file, rate, count, burst, faults))
