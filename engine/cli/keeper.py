"""`zkrisk keeper`: the liquidation keeper as a long-running process (JSON log lines on stderr)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from zkrisk.prover.backend_names import CHOICES

from .chain import (
    DEFAULT_TOKEN_ENV,
    Deployments,
    DevAccount,
    PrivateKey,
    RpcUrl,
    SignerTokenEnv,
    SignerUrl,
    SignerWallet,
    open_handle,
    signer_choice,
)
from .common import bad_input

MAX_BATCH_SIZE = 50
"""Most liquidations per liquidateMany: ~300k gas each, so 50 use about half a 30M-gas block
and the batch still fits beside other traffic."""


def keeper(
    rpc_url: RpcUrl,
    books: Annotated[
        Path, typer.Option(help="A book file, or a folder of them (salt + [portfolio]).")
    ],
    assets: Annotated[Path, typer.Option(help="Assets file.", dir_okay=False)],
    private_key: PrivateKey = None,
    dev_account: DevAccount = None,
    signer: SignerUrl = None,
    signer_token_env: SignerTokenEnv = DEFAULT_TOKEN_ENV,
    signer_wallet: SignerWallet = None,
    deployments: Deployments = None,
    state_db: Annotated[
        Path | None,
        typer.Option(
            help="SQLite file of sent liquidations (default: build/keeper/<chain>.sqlite).",
            dir_okay=False,
        ),
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus /metrics on this port (0: any free).")
    ] = None,
    backend: Annotated[str, typer.Option(help=f"Prover backend: {', '.join(CHOICES)}.")] = "best",
    poll_interval: Annotated[float, typer.Option(help="Seconds between polls.", min=0.01)] = 0.25,
    max_ticks: Annotated[
        int | None,
        typer.Option(
            help="Stop after this many polls, failed ones included (default: run until stopped); "
            "exit 1 if the last one failed."
        ),
    ] = None,
    health_port: Annotated[
        int | None,
        typer.Option(help="Serve /livez, /readyz and /metrics on this port (0: any free)."),
    ] = None,
    live_within: Annotated[
        float,
        typer.Option(help="/livez fails when no poll finished within this many seconds.", min=1),
    ] = 60.0,
    batch_size: Annotated[
        int,
        typer.Option(
            help=f"Proof-path liquidations per transaction (1 to {MAX_BATCH_SIZE}): above 1 the "
            "accounts due in one poll are proven together and sent with liquidateMany."
        ),
    ] = 1,
) -> None:
    """Run the liquidation keeper until Ctrl-C / SIGTERM (JSON log lines on stderr).

    Watches the oracle, snapshots new rounds, re-evaluates the books it can see, proves HF < 1 and liquidates; liquidates without a proof an account whose last health proof is too old. Every error is classified: retry, re-sync the nonce, drop the attempt, or alert. With --signer the keeper holds no key: the signer process signs its snapshots and liquidations when a [[calls]] rule of its policy covers them.
    """
    # Imported here, not at the top: every `zkrisk` command would pay for them.
    from zkrisk.prover.backends import create_backend
    from zkrisk.prover.errors import BackendUnavailable

    from ..files import load_assets
    from ..keeper.books import load_books
    from ..keeper.factory import build_keeper
    from ..keeper.health import serve_health
    from ..keeper.keeper import KeeperSettings
    from ..keeper.metrics import KeeperMetrics, serve_metrics
    from ..paths import repo_root

    with bad_input():
        _check_batch_size(batch_size)
        chosen = signer_choice(signer, signer_token_env, signer_wallet)
        handle = open_handle(rpc_url, private_key, dev_account, deployments, chosen)
        watched = load_books(books)
        listed = load_assets(assets)
        try:
            prover = create_backend(backend)
        except BackendUnavailable as exc:
            raise ValueError(str(exc)) from None
    db = state_db or repo_root() / "build" / "keeper" / f"{handle.record.chain_id}.sqlite"
    metrics = KeeperMetrics()
    with prover, bad_input():
        runner = build_keeper(handle, watched, listed, prover, db, metrics=metrics,
                              settings=KeeperSettings(poll_interval=poll_interval,
                                                      batch_size=batch_size))  # fmt: skip
        server = None if metrics_port is None else serve_metrics(metrics, metrics_port)
        if server is not None:
            runner.log("metrics", url=f"http://127.0.0.1:{server.server_port}/metrics")
        health = None
        if health_port is not None:
            health = serve_health(lambda: runner.health, runner.artifacts, metrics, health_port,
                                  live_within=live_within)  # fmt: skip
            url = f"http://127.0.0.1:{health.server_port}"
            runner.log("health", livez=f"{url}/livez", readyz=f"{url}/readyz",
                       metrics=f"{url}/metrics")  # fmt: skip
        stop = threading.Event()

        def _stop(signum: int, _frame: FrameType | None) -> None:
            runner.log("signal", signal=signal.Signals(signum).name)
            stop.set()

        previous = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            runner.run(stop, max_ticks=max_ticks)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            for http in (server, health):
                if http is not None:
                    http.shutdown()
                    http.server_close()
            runner.store.close()
    if stop.is_set() and max_ticks is None:
        raise typer.Exit(0)
    if runner.health.last_failed:
        raise typer.Exit(1)


def _check_batch_size(batch_size: int) -> None:
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(
            f"--batch-size {batch_size}: must be 1 to {MAX_BATCH_SIZE} liquidations per "
            f"transaction (1: one liquidate each; more: liquidateMany)"
        )
