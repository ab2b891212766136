"""The `zkrisk` command line: pre-trade checks, risk reports, the risk service, circuits and
their setup, proofs (prove / verify), the vault (`chain …`), the keeper, the demo.

Exit codes mean something: `check` answers 0 APPROVE, 1 REJECT, 3 FLAG_FOR_REVIEW; every
command answers 2 for bad input (a file that is missing or does not validate, a bad option),
printing one line per problem that names the file (and line) and what is wrong.
"""

from __future__ import annotations

import gc
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

# Only what the command signatures need is imported here: every import at the top of a
# command module is paid by every `zkrisk` invocation (tests/cli/test_cli_startup.py).
from ..risk.kinds import Side, TradingState, VerdictKind
from . import attest as cli_attest
from . import hedge as cli_hedge
from . import keeper as cli_keeper
from . import prove as cli_prove
from .attest_run import attest_run as attest_run_command
from .audit import audit_app
from .backtest import backtest as backtest_command
from .chain import chain_app
from .common import UNIX_TIME_MAX, bad_input, fail
from .feed import feed_app
from .help import FullHelpGroup
from .journal import journal_app
from .margin import EPILOG as MARGIN_EPILOG
from .margin import margin as margin_command
from .prover_worker import prover_app
from .prover_worker import worker as prover_worker_command
from .run import killswitch_app
from .run import run as run_command
from .run import status as status_command
from .signer import signer_app
from .simex import simex_app
from .storm import storm as storm_command
from .trading import orders as orders_command
from .trading import positions as positions_command
from .trading import reconcile as reconcile_command

if TYPE_CHECKING:
    from ..risk.models import OrderIntent

app = typer.Typer(
    help="zkrisk: a private trading risk engine with Groth16-proven verdicts.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold a book or a key
    # Help texts are plain text: rich markup would eat words in brackets ("[health]").
    rich_markup_mode=None,
    cls=FullHelpGroup,
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version as package_version

        typer.echo(f"zkrisk {package_version('zkrisk')}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the installed zkrisk version and exit.",
        ),
    ] = False,
) -> None:
    """zkrisk: a private trading risk engine with Groth16-proven verdicts."""


EXIT_APPROVE, EXIT_REJECT, EXIT_FLAG = 0, 1, 3
VERDICT_EXIT = {
    VerdictKind.APPROVE: EXIT_APPROVE,
    VerdictKind.REJECT: EXIT_REJECT,
    VerdictKind.FLAG_FOR_REVIEW: EXIT_FLAG,
}

FileOpt = Annotated[Path, typer.Option(dir_okay=False, show_default=False)]


_fail = fail
_bad_input = bad_input


@app.command()
def toolchain() -> None:
    """Show where every tool of the pinned toolchain was found."""
    from zkrisk.prover.toolchain import ToolchainError, check_all

    try:
        found = check_all()
    except ToolchainError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(found, indent=2))


@app.command("build")
def build_circuits(
    name: Annotated[
        list[str] | None, typer.Argument(help="circuits to build (default: all)")
    ] = None,
) -> None:
    """Compile circuits and run their Groth16 setup (cached by content hash)."""
    from zkrisk.prover.artifacts import build
    from zkrisk.prover.registry import load_registry

    from ..paths import registry_path, repo_root

    registry = load_registry(registry_path())
    for circuit in name or list(registry):
        artifacts = build(registry[circuit], repo_root(), log=typer.echo)
        flag = "  (DEV ptau — insecure)" if artifacts.dev_ptau else ""
        typer.echo(
            f"{circuit}: {artifacts.meta['constraints']:,} constraints → {artifacts.folder}{flag}"
        )


def _order_from_options(
    symbol: str | None,
    side: Side | None,
    quantity: str | None,
    limit_price: str | None,
    max_slippage_bps: int | None,
    counterparty: str | None,
    client_order_id: str | None,
    strategy: str,
) -> OrderIntent:
    from ..files import validate
    from ..risk.models import OrderIntent, OrderType

    market = max_slippage_bps is not None and limit_price is None
    data = {
        "client_order_id": client_order_id or f"cli-{time.time_ns()}",
        "symbol": symbol,
        "side": None if side is None else side.value,
        "quantity": None if quantity is None else Decimal(quantity),
        "order_type": (OrderType.MARKET if market else OrderType.LIMIT).value,
        "limit_price": None if limit_price is None else Decimal(limit_price),
        "max_slippage_bps": max_slippage_bps,
        "counterparty": counterparty,
        "strategy_id": strategy,
    }
    present = {k: v for k, v in data.items() if v is not None}
    return validate(present, {}, OrderIntent, "order options")


def _decimal_option(name: str, value: str | None) -> None:
    if value is None:
        return
    try:
        Decimal(value)
    except ArithmeticError:
        raise ValueError(f"--{name}: {value!r} is not a decimal number") from None


@app.command(
    epilog="Exit codes: 0 APPROVE, 1 REJECT, 3 FLAG_FOR_REVIEW, 2 bad input "
    "(a missing or invalid file, a bad option)."
)
def check(
    portfolio: Annotated[Path, typer.Option(help="The book (TOML, YAML or JSON).", dir_okay=False)],
    policy: Annotated[Path, typer.Option(help="Risk policy (TOML or YAML).", dir_okay=False)],
    assets: Annotated[Path, typer.Option(help="Assets and lending parameters.", dir_okay=False)],
    prices: Annotated[
        Path, typer.Option(help="Reference prices (oracle snapshot).", dir_okay=False)
    ],
    scenarios: Annotated[
        Path | None,
        typer.Option(
            help="Scenario set (CSV or document) for post-trade VaR / ES; without "
            "one every order is refused (fail closed).",
            dir_okay=False,
        ),
    ] = None,
    risk_arrays: Annotated[
        Path | None,
        typer.Option(
            help="Public risk arrays: adds the portfolio-margin rule (post-trade SPAN "
            "requirement ≤ margin held).",
            dir_okay=False,
        ),
    ] = None,
    order_file: Annotated[
        Path | None,
        typer.Option(help="The order as a file (instead of the options below).", dir_okay=False),
    ] = None,
    side: Annotated[Side | None, typer.Option(help="BUY or SELL.", case_sensitive=False)] = None,
    symbol: Annotated[str | None, typer.Option(help="Instrument, e.g. WETH.")] = None,
    quantity: Annotated[str | None, typer.Option(help="Order size (exact decimal).")] = None,
    limit_price: Annotated[str | None, typer.Option(help="LIMIT price, USD.")] = None,
    max_slippage_bps: Annotated[
        int | None, typer.Option(help="Make it a MARKET order with this slippage tolerance.")
    ] = None,
    counterparty: Annotated[str | None, typer.Option(help="Venue or counterparty.")] = None,
    client_order_id: Annotated[
        str | None, typer.Option(help="Idempotency key (default: generated).")
    ] = None,
    strategy: Annotated[str, typer.Option(help="Strategy id, for the record.")] = "cli",
    now: Annotated[
        int | None,
        typer.Option(
            help="Check at this unix time (default: the system clock); "
            "replays a recorded price snapshot.",
            min=0,
            max=UNIX_TIME_MAX,
        ),
    ] = None,
    state: Annotated[
        TradingState, typer.Option(help="Desk trading state.", case_sensitive=False)
    ] = TradingState.ACTIVE,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
) -> None:
    """Pre-trade verdict for one order against a book, a policy and reference prices.

    Prints APPROVE, REJECT or FLAG_FOR_REVIEW with every reason. Give the order with --order-file FILE, or with --side --symbol --quantity --limit-price --counterparty (--max-slippage-bps instead of --limit-price makes it a MARKET order).
    """
    from rich.console import Console

    from ..files import (
        load_assets,
        load_model,
        load_order,
        load_policy_file,
        load_portfolio,
        load_prices,
        load_scenarios,
        refuse_oversized_notionals,
    )
    from ..risk.checks import RiskEngine
    from ..risk.margin.arrays import RiskArraySet
    from ..risk.models import CheckState

    with _bad_input():
        if order_file is not None:
            given = [n for n, v in (("--side", side), ("--symbol", symbol), ("--quantity", quantity),
                     ("--limit-price", limit_price), ("--counterparty", counterparty)) if v is not None]  # fmt: skip
            if given:
                raise ValueError(f"--order-file and {', '.join(given)} exclude each other")
            intent = load_order(order_file)
        else:
            _decimal_option("quantity", quantity)
            _decimal_option("limit-price", limit_price)
            intent = _order_from_options(symbol, side, quantity, limit_price, max_slippage_bps,
                                         counterparty, client_order_id, strategy)  # fmt: skip
        book = load_portfolio(portfolio)
        engine = RiskEngine(
            load_policy_file(policy),
            load_assets(assets),
            None if scenarios is None else load_scenarios(scenarios),
            risk_arrays=None if risk_arrays is None else load_model(risk_arrays, RiskArraySet),
        )
        snapshot = load_prices(prices)
        refuse_oversized_notionals(book, portfolio, snapshot, prices, intent, order_file)
    verdict = engine.check(
        intent,
        book,
        snapshot,
        CheckState(trading_state=state, now=int(time.time()) if now is None else now),
    )
    if as_json:
        typer.echo(verdict.model_dump_json(indent=2))
    else:
        from .render import verdict_view

        Console(highlight=False).print(verdict_view(verdict, intent))
    raise typer.Exit(VERDICT_EXIT[verdict.kind])


@app.command(epilog="Exit codes: 0 report printed, 2 bad input.")
def risk(
    portfolio: Annotated[Path, typer.Option(help="The book (TOML, YAML or JSON).", dir_okay=False)],
    assets: Annotated[Path, typer.Option(help="Assets and lending parameters.", dir_okay=False)],
    prices: Annotated[Path, typer.Option(help="Prices (oracle snapshot).", dir_okay=False)],
    scenarios: Annotated[
        Path | None,
        typer.Option(help="Scenario set for VaR / ES (CSV or document).", dir_okay=False),
    ] = None,
    alpha: Annotated[str, typer.Option(help="VaR / ES confidence level, in (0, 1).")] = "0.99",
    paths: Annotated[int, typer.Option(help="Monte Carlo paths.", min=1)] = 20_000,
    seed: Annotated[int, typer.Option(help="Monte Carlo seed.")] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Health factor, exposures and VaR / ES by method (historical, parametric, Monte Carlo)."""
    from rich.console import Console

    from ..files import (
        asset_map,
        load_assets,
        load_portfolio,
        load_prices,
        load_scenarios,
        refuse_oversized_notionals,
    )
    from ..risk.report import MissingData, risk_report

    with _bad_input():
        book = load_portfolio(portfolio)
        market = asset_map(load_assets(assets))
        snapshot = load_prices(prices)
        refuse_oversized_notionals(book, portfolio, snapshot, prices)
        scenario_set = None if scenarios is None else load_scenarios(scenarios)
        try:
            report = risk_report(
                book, snapshot, market, scenario_set, alpha=alpha, mc_paths=paths, seed=seed
            )
        except MissingData as exc:
            source = {"assets": assets, "prices": prices, "scenarios": scenarios}[exc.source]
            raise ValueError(f"{source}: {exc}") from None
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return
    from .render import report_view

    Console(highlight=False).print(report_view(report))


@app.command(
    epilog="Exit codes: 2 bad config, input file or secret; on Ctrl-C / SIGTERM it shuts down "
    "gracefully and exits 130 / 143."
)
def serve(
    config: Annotated[
        Path | None, typer.Option(help="Service config (TOML, YAML or JSON).", dir_okay=False)
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Override the config's port (0: any free).")
    ] = None,
    hash_key: Annotated[
        bool,
        typer.Option("--hash-key", help="Read an API key on stdin, print its sha256 line, exit."),
    ] = False,
) -> None:
    """Run the risk service (HTTP API) with uvicorn until interrupted.

    POST /v1/orders/check (API key: X-API-Key or Authorization: Bearer), POST /v1/killswitch (kill-switch token), GET /healthz, GET /metrics, GET /docs. The signing key and kill-switch token come from the environment variables the config names (ZKRISK_SIGNER_KEY and ZKRISK_KILLSWITCH_TOKEN by default); the config holds only sha256 hashes of API keys (--hash-key makes one).
    """
    from ..api.auth import MIN_KEY_LENGTH
    from ..api.auth import hash_key as sha256_of

    if hash_key:
        key = typer.get_text_stream("stdin").read().strip()
        if len(key) < MIN_KEY_LENGTH:
            fail([f"an API key needs ≥ {MIN_KEY_LENGTH} characters; make one with: python -c "
                  "\"import secrets; print(secrets.token_urlsafe(32))\""])  # fmt: skip
        typer.echo(f'sha256 = "{sha256_of(key)}"')
        return
    if config is None:
        fail(["--config is required (or --hash-key to hash an API key)"])

    from ..api.config import load_serve_config, read_secrets
    from ..api.server import build_server

    with _bad_input():
        settings = load_serve_config(config)
        if port is not None:
            settings = settings.model_copy(update={"port": port})
        secrets = read_secrets(settings)
        server, _service = build_server(settings, secrets)
    # Everything loaded so far lives as long as the server: keep the collector off it.
    gc.freeze()
    if settings.replay_now is not None:
        typer.echo(f"warning: replay_now = {settings.replay_now}: the clock is frozen (demo mode)",
                   err=True)  # fmt: skip
    server.run()


@app.command()
def demo(
    fork_url: Annotated[
        str | None, typer.Option(help="Fork this chain instead of starting an empty Anvil.")
    ] = None,
    addresses: Annotated[
        Path | None,
        typer.Option(
            help="With --fork-url: run on the tokens, feeds, pools (and vault) this JSON file "
            "names on the forked chain instead of deploying mocks (`zkrisk chain deploy "
            "--uniswap --addresses-out FILE` writes one).",
            dir_okay=False,
        ),
    ] = None,
    backend: Annotated[str, typer.Option(help="Prover backend (default: the fastest).")] = "best",
) -> None:
    """Run the end-to-end demo on a local Anvil node it starts and stops.

    Deploys the vault, deposits, proves health to withdraw, crashes a price, lets the keeper prove and liquidate, and shows forged and replayed proofs rejected. With --fork-url and --addresses, every address of the file is checked on the fork and the story runs on that stack (a file without a vault gets one deployed over its tokens and feeds); a missing or wrong address exits 2 naming its key.
    """
    from zkrisk.prover.errors import BackendUnavailable
    from zkrisk.prover.toolchain import ToolchainError

    from ..chain.anvil import AnvilError
    from ..demo import run_demo

    try:
        run_demo(fork_url=fork_url, addresses=addresses, backend_name=backend)
    except (ToolchainError, BackendUnavailable, ValueError) as exc:
        fail([str(exc)])
    except AnvilError as exc:  # an unreachable --fork-url, most likely
        fail([f"--fork-url {fork_url}: {exc}" if fork_url else str(exc)])


app.command(epilog="Exit codes: 0 proven, 1 the statement does not hold, 2 bad input.")(
    cli_prove.prove
)
app.command(epilog="Exit codes: 0 accepted (valid), 1 refused (invalid), 2 bad input.")(
    cli_prove.verify
)
app.command()(cli_prove.setup)
app.command(epilog="Exit codes: 0 signed, 2 bad input.")(cli_attest.attest)
app.add_typer(chain_app, name="chain")
app.add_typer(audit_app, name="audit")
app.add_typer(feed_app, name="feed")
app.add_typer(journal_app, name="journal")
app.add_typer(simex_app, name="simex")
app.add_typer(signer_app, name="signer")
app.add_typer(prover_app, name="prover")
# The spelling; hidden: the listing keeps command names within 10 columns.
app.command("prover-worker", hidden=True, epilog="Exit codes: 0 stopped, 2 bad input.")(
    prover_worker_command
)
app.command("run", epilog="Exit codes: 0 stopped, 2 bad input (config, journal).")(run_command)
app.command("storm", epilog="Exit codes: 0 every account liquidated, 1 timeout or a "
            "failed worker, 2 bad input.")(storm_command)  # fmt: skip
app.command("status", epilog="Exit codes: 0, 2 bad input (config, no journal).")(status_command)
app.add_typer(killswitch_app, name="killswitch")
app.command("orders", epilog="Exit codes: 0, 2 bad input (config, no journal).")(orders_command)
app.command("positions", epilog="Exit codes: 0, 2 bad input (config, no journal).")(
    positions_command
)
app.command("reconcile", epilog="Exit codes: 0 agree, 1 mismatch or venue unreachable, 2 bad "
            "input.")(reconcile_command)  # fmt: skip
app.command("attest-run", epilog="Exit codes: 0 committed, 1 refused (the journal is not "
            "reconciled, the book not healthy enough, a revert), 2 bad input (config, files, "
            "keys, an asset the vault does not list).")(attest_run_command)  # fmt: skip
app.command(epilog="Exit codes: 0 stopped, 2 bad input (books, assets, RPC URL).")(
    cli_keeper.keeper
)
app.command("backtest", epilog="Exit codes: 0 the VaR model is not rejected, 1 a test rejects it "
            "at --significance, 2 bad input.")(backtest_command)  # fmt: skip
app.command("margin", epilog=MARGIN_EPILOG)(margin_command)
app.command("hedge", epilog=cli_hedge.EPILOG)(cli_hedge.hedge)
