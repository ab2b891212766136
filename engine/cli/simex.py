"""`zkrisk simex serve`: the shipped simulated exchange (WebSocket), for demos, tests and the
soak. It stands in for centralised venues that cannot be reached from here; its messages
follow ccxt's unified order and trade structures (engine/pipeline/venues/simex_server.py).

Exit codes: 0 stopped (Ctrl-C / SIGTERM), 2 bad input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from .common import bad_input
from .help import FullHelpGroup

if TYPE_CHECKING:
    from decimal import Decimal

    from ..pipeline.venues.simex_server import SimexServer

simex_app = typer.Typer(
    help="The simulated exchange (WebSocket, ccxt-shaped orders and trades) for demos and tests.",
    no_args_is_help=True,
    rich_markup_mode=None,
    cls=FullHelpGroup,
)

Rate = Annotated[float, typer.Option(min=0.0, max=1.0)]


def parse_assignments(option: str, items: list[str]) -> dict[str, Decimal]:
    """['WETH=3000', ...] → {'WETH': Decimal('3000')}; a bad item raises ValueError naming it."""
    from decimal import Decimal, InvalidOperation

    out: dict[str, Decimal] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            number = Decimal(value)
        except InvalidOperation:
            number = Decimal("NaN")
        if not sep or not name or not number.is_finite():
            raise ValueError(f"{option} {item!r}: expected SYMBOL=NUMBER, e.g. {option} WETH=3000")
        out[name.strip().upper()] = number
    return out


def parse_tokens(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        account, sep, token = item.partition("=")
        if not sep or not account or len(token) < 8:
            raise ValueError(f"--token {item!r}: expected ACCOUNT=TOKEN with a token of ≥ 8 "
                             "characters")  # fmt: skip
        out[account] = token
    return out


async def _serve(server: SimexServer) -> None:
    import asyncio
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        mids = ", ".join(f"{s}={m}" for s, m in server.book.mids.items())
        typer.echo(f"simex on {server.url} (mids {mids})", err=True)
        await stop.wait()


@simex_app.command(epilog="Exit codes: 0 stopped, 2 bad input.")
def serve(
    port: Annotated[int, typer.Option(help="TCP port (0: any free one).", min=0, max=65535)] = 8766,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    seed: Annotated[
        int, typer.Option(help="Seed of the book's maker, the walk and the faults.")
    ] = 7,
    mid: Annotated[
        list[str] | None,
        typer.Option(
            help="A symbol and its start mid, SYMBOL=PRICE (repeatable; default "
            "WETH=3000 and WBTC=60000)."
        ),
    ] = None,
    walk_ms: Annotated[
        int,
        typer.Option(help="Move the mids by a seeded random walk every N ms (0: never).", min=0),
    ] = 500,
    follow: Annotated[
        str | None,
        typer.Option(
            help="Follow this market-data feed's quotes instead of walking (a `zkrisk "
            "feed serve` URL, e.g. ws://127.0.0.1:8765).",
            metavar="URL",
        ),
    ] = None,
    balance: Annotated[
        list[str] | None,
        typer.Option(
            help="Every account's starting holding, ASSET=AMOUNT (repeatable; default none)."
        ),
    ] = None,
    token: Annotated[
        list[str] | None,
        typer.Option(
            help="Require auth: ACCOUNT=TOKEN (repeatable); clients send "
            "Authorization: Bearer TOKEN."
        ),
    ] = None,
    taker_fee_bps: Annotated[int, typer.Option(min=0, max=10_000)] = 5,
    maker_fee_bps: Annotated[int, typer.Option(min=0, max=10_000)] = 1,
    drop_rate: Rate = 0.0,
    duplicate_rate: Rate = 0.0,
    reorder_rate: Rate = 0.0,
    delay_rate: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of acks and fills delayed by --delay-ms "
            "(default: all of them when --delay-ms is set).",
        ),
    ] = 1.0,
    delay_ms: Annotated[int, typer.Option(min=0, help="Delay of a delayed ack or fill.")] = 0,
    reject_rate: Rate = 0.0,
    reject_all: Annotated[bool, typer.Option(help="Reject every new order.")] = False,
) -> None:
    """Serve the simulated exchange over WebSocket until interrupted.

    Requests are {"id": 1, "method": "createOrder", "params": {"symbol": "WETH/USDC", "type": "limit", "side": "buy", "amount": "0.5", "price": "2990", "params": {"clientOrderId": "c1"}}}; also cancelOrder, fetchOrder, fetchOpenOrders, fetchBalance, ping, subscribe and admin (faults, mids, silence, disconnect, report at run time). The fault options apply to acks, fills and order updates.
    """
    import asyncio  # here, not at the top: asyncio costs every `zkrisk` command start-up time

    from ..pipeline.venues.simex_server import DEFAULT_MIDS, Faults, SimexServer

    with bad_input():
        mids = parse_assignments("--mid", mid) if mid else dict(DEFAULT_MIDS)
        for symbol, price in mids.items():
            if price <= 0:
                raise ValueError(f"--mid {symbol}={price}: a mid must be > 0")
        if follow is not None and not follow.startswith(("ws://", "wss://")):
            raise ValueError(f"--follow {follow}: a feed URL starts with ws:// or wss://")
        faults = Faults(seed=seed, drop_rate=drop_rate, duplicate_rate=duplicate_rate,
                        reorder_rate=reorder_rate, delay_rate=delay_rate, delay_ms=delay_ms,
                        reject_rate=reject_rate, reject_all=reject_all)  # fmt: skip
        server = SimexServer(
            host=host, port=port, mids=mids, seed=seed, faults=faults,
            taker_fee_bps=taker_fee_bps, maker_fee_bps=maker_fee_bps,
            walk_interval_s=walk_ms / 1000 or None, follow_url=follow,
            initial_balances=parse_assignments("--balance", balance or []),
            tokens=parse_tokens(token or []) or None,
        )  # fmt: skip
    asyncio.run(_serve(server))
