"""`zkrisk prover worker` (alias `zkrisk prover-worker`): a prover-pool worker over NATS.

The worker loads each circuit's artefacts and its backend once, then proves jobs from the
pool's JetStream work queue until SIGTERM / Ctrl-C, when it finishes the job in hand and exits.
Clients reach the pool with `--backend pool` and ZKRISK_PROVER_POOL=URL (or backend `best`
while ZKRISK_PROVER_POOL is set).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from typing import Annotated

import typer

from .common import bad_input, fail

prover_app = typer.Typer(
    help="The prover pool: workers that prove jobs from NATS JetStream, on any machine.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

LOCAL_BACKENDS = ("multicore", "native", "worker", "snarkjs-cli", "best")


def worker(
    nats_url: Annotated[str, typer.Option("--nats", help="NATS server URL (nats://host:port).")],
    backend: Annotated[
        str, typer.Option(help=f"Local prover backend: {', '.join(LOCAL_BACKENDS)}.")
    ] = "best",
    circuits: Annotated[
        str, typer.Option(help="Comma-separated circuits to serve (from circuits.json).")
    ] = "health16",
    worker_id: Annotated[
        str | None, typer.Option(help="Name in results and logs (default: host-pid).")
    ] = None,
    ack_wait: Annotated[
        float,
        typer.Option(
            help="Seconds without an ack or heartbeat before a job is redelivered.", min=0.1
        ),
    ] = 30.0,
    max_deliver: Annotated[
        int, typer.Option(help="Deliveries before a failing job goes to the dead letter.", min=1)
    ] = 5,
    hold: Annotated[
        float,
        typer.Option(hidden=True, help="Fault injection: wait this long before each proof."),
    ] = 0.0,
) -> None:
    """Prove jobs from the prover pool until SIGTERM / Ctrl-C (log lines on stderr).

    Each circuit's artefacts and the backend are loaded once and kept warm. A job is acked only after its result is stored, so a worker that dies mid-job loses nothing: the job is delivered to another worker after --ack-wait seconds.
    """
    from zkrisk.prover.backends import create_backend
    from zkrisk.prover.errors import BackendUnavailable
    from zkrisk.prover.pool.queue import PoolConfig, PoolUnreachable
    from zkrisk.prover.pool.worker import PoolWorker

    from .prove import artifacts_for

    if backend not in LOCAL_BACKENDS:
        fail([f"--backend {backend!r}: a worker proves locally; choose one of "
              f"{', '.join(LOCAL_BACKENDS)}"])  # fmt: skip
    names = [n.strip() for n in circuits.split(",") if n.strip()]
    if not names:
        fail(["--circuits is empty: name at least one circuit, e.g. --circuits health16"])
    with bad_input():
        artifacts = {name: artifacts_for(name, quiet=False) for name in names}
        config = PoolConfig(ack_wait_s=ack_wait, max_deliver=max_deliver)
    chosen = backend
    if chosen == "best":
        from zkrisk.prover.backends import best_backend_name

        chosen = best_backend_name()
    try:
        prover = create_backend(chosen)
    except BackendUnavailable as exc:
        fail([str(exc)])
    name = worker_id or f"{socket.gethostname()}-{os.getpid()}"

    def say(line: str) -> None:
        typer.echo(line, err=True)

    pool_worker = PoolWorker(nats_url, prover, artifacts, worker_id=name, config=config,
                             hold_s=hold, log=say)  # fmt: skip

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await pool_worker.run(stop)

    try:
        with prover:
            asyncio.run(serve())
    except PoolUnreachable as exc:
        fail([str(exc)])
    say(f"worker {name}: stopped after {pool_worker.proved} proofs")


prover_app.command("worker")(worker)


@prover_app.command(epilog="Exit codes: 0, 2 NATS unreachable.")
def status(
    nats_url: Annotated[str, typer.Option("--nats", help="NATS server URL (nats://host:port).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """The pool's jobs waiting and in flight per consumer, results stored, dead letters."""
    import json

    from zkrisk.prover.pool.queue import PoolUnreachable, connect, pool_status

    async def read() -> dict[str, object]:
        nc = await connect(nats_url, "zkrisk-prover-status")
        try:
            return await pool_status(nc.jetstream())
        finally:
            await nc.close()

    try:
        report = asyncio.run(read())
    except PoolUnreachable as exc:
        fail([str(exc)])
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    dead = report["dead"]
    assert isinstance(dead, list) and isinstance(report["consumers"], dict)
    typer.echo(f"jobs queued {report['queued']}, results stored {report['results']}, "
               f"dead letters {len(dead)}")  # fmt: skip
    for name, c in sorted(report["consumers"].items()):
        typer.echo(f"  {name:28} waiting {c['waiting']}, in flight {c['in_flight']}, "
                   f"redelivered {c['redelivered']}")  # fmt: skip
    for letter in dead:
        typer.echo(f"  dead: {letter['kind']}: {letter['reason']}")
