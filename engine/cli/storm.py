"""`zkrisk storm`: a liquidation storm on a fresh Anvil vault (engine/storm)."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import fail


def storm(
    accounts: Annotated[int, typer.Option(help="Attested accounts to open.", min=1)] = 6,
    workers: Annotated[
        int, typer.Option(help="Prover-pool workers, one core each; 0 proves locally.", min=0)
    ] = 0,
    batch: Annotated[
        int, typer.Option(help="Liquidations per liquidateMany transaction.", min=1)
    ] = 10,
    nats: Annotated[
        str | None, typer.Option("--nats", help="NATS URL of the pool (default: start one).")
    ] = None,
) -> None:
    """Crash prices under N accounts and time the keeper until every one is liquidated.

    Starts Anvil, deploys the dev vault, opens the accounts (deposit + attested book; not timed), starts W `zkrisk prover-worker` processes (each pinned to one core with taskset) or proves locally, crashes the oracle, runs the keeper until every account is liquidated, and prints the time from the oracle update to the last liquidation mined.
    """
    from ..storm.harness import StormConfig, run_storm

    def say(line: str) -> None:
        typer.echo(line, err=True)

    config = StormConfig(accounts=accounts, workers=workers, batch_size=batch, nats_url=nats)
    try:
        result = run_storm(config, log=say)
    except (RuntimeError, TimeoutError) as exc:
        fail([str(exc)], code=1)
    for line in result.lines():
        typer.echo(line)
