"""A Uniswap run's journal → the reconciled book → the attester → the vault, on a real Anvil with
real proofs: the in-process runner swaps on the pools (engine/demo_trading.py's run), then
`zkrisk reconcile` and `zkrisk attest-run` run as a user runs them."""

from __future__ import annotations

import asyncio
import shutil
from contextlib import closing
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from zkrisk.engine.chain import dev_scenario as ds
from zkrisk.engine.chain.anvil import DEV_ATTESTER, DEV_PRIVATE_KEYS, AnvilNode
from zkrisk.engine.chain.client import ChainClient
from zkrisk.engine.chain.deployments import save_deployment
from zkrisk.engine.chain.uniswap_deploy import deploy_uniswap, save_addresses
from zkrisk.engine.chain.vault_deploy import VaultStack, deploy_vault_stack
from zkrisk.engine.cli.main import app
from zkrisk.engine.demo_trading import KEY_ENV, trade_until_filled, trading_run, wallet_key
from zkrisk.engine.journal.events import (
    BookAttested,
    Draft,
    OrderFilled,
    Reconciled,
    ReconcileMismatch,
    Recorded,
)
from zkrisk.engine.journal.sqlite import SQLiteJournal
from zkrisk.engine.keeper.books import book_toml, load_book
from zkrisk.engine.keeper.devnet import OpenedDesk, open_desk
from zkrisk.engine.risk.models import Side
from zkrisk.engine.statements.book_slots import book_slots
from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.backends import create_backend

DESK_KEY = DEV_PRIVATE_KEYS[1]
ASSETS = Path(__file__).resolve().parents[2] / "examples" / "assets.toml"


@dataclass
class Traded:
    node: AnvilNode
    stack: VaultStack
    desk: OpenedDesk
    config: Path
    journal: Path
    deployments: Path
    base_book: Path
    tmp: Path


@pytest.fixture(scope="module")
def traded(
    anvil_node: AnvilNode, health4: CircuitArtifacts, tmp_path_factory: pytest.TempPathFactory
) -> Traded:
    """A vault with the desk's first book committed, and a journal of one filled Uniswap swap
    (1 WETH bought with USDC from the desk's wallet), not reconciled yet."""
    tmp = tmp_path_factory.mktemp("handoff")
    chain = ChainClient.connect(anvil_node.url, DEV_PRIVATE_KEYS[0])
    stack = deploy_vault_stack(chain, health4, listed=ds.listed_assets(), policy=ds.POLICY)
    with create_backend("best") as backend:
        desk = open_desk(stack, health4, backend, portfolio=ds.book(chain.account.address),
                         deposit=ds.DEPOSIT, key=DESK_KEY)  # fmt: skip
    uniswap = deploy_uniswap(chain)
    uniswap.mint("USDC", desk.client.account, Decimal(20_000))
    loaded = trading_run(tmp, desk.client.account, anvil_node.url,
                         save_addresses(uniswap.addresses, tmp / "uniswap.json"))  # fmt: skip
    with wallet_key(DESK_KEY):
        asyncio.run(trade_until_filled(loaded))
    (fill,) = [r.event for r in records(loaded.journal_path) if isinstance(r.event, OrderFilled)]
    assert (fill.symbol, fill.side, fill.quantity) == ("WETH", Side.BUY, Decimal(1))
    save_deployment(stack.record(), tmp / "deployments")
    base = tmp / "base-book.toml"
    base.write_text(book_toml(desk.book))
    return Traded(anvil_node, stack, desk, loaded.path, loaded.journal_path, tmp / "deployments",
                  base, tmp)  # fmt: skip


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, DESK_KEY)
    monkeypatch.setenv("ZKRISK_ATTESTER_KEY", DEV_PRIVATE_KEYS[DEV_ATTESTER])


def copy_run(traded: Traded, name: str) -> tuple[Path, Path]:
    """The run's config, journal and Uniswap baseline copied: each test changes its own journal."""
    folder = traded.tmp / name
    folder.mkdir()
    baseline = traded.journal.with_name(traded.journal.stem + ".uniswap-baseline.json")
    for source in (traded.journal, baseline):
        shutil.copy(source, folder / source.name)
    config = folder / "trading.toml"
    config.write_text(traded.config.read_text().replace(str(traded.journal),
                                                        str(folder / traded.journal.name)))  # fmt: skip
    return config, folder / traded.journal.name


def attest(traded: Traded, config: Path, *extra: str) -> Result:
    out = config.parent / "book-next.toml"
    return CliRunner().invoke(app, [
        "attest-run", "--config", str(config), "--rpc-url", traded.node.url,
        "--assets", str(ASSETS), "--dev-account", "1", "--deployments", str(traded.deployments),
        "--base-book", str(traded.base_book), "--out", str(out), *extra,
    ])  # fmt: skip


def records(journal: Path) -> list[Recorded]:
    with closing(SQLiteJournal(journal, readonly=True)) as j:
        return list(j.iter_from(0))


@pytest.mark.usefixtures("cli_env")
def test_a_journal_never_reconciled_is_refused_and_says_to_run_reconcile(traded: Traded) -> None:
    config, _ = copy_run(traded, "never")
    sequence = traded.desk.client.book_sequence()
    result = attest(traded, config)
    assert result.exit_code == 1, result.output
    assert "no reconciliation with uniswap yet: run `zkrisk reconcile`" in result.stderr
    assert traded.desk.client.book_sequence() == sequence


@pytest.mark.usefixtures("cli_env")
def test_a_journal_whose_last_reconciliation_found_a_mismatch_is_refused(traded: Traded) -> None:
    config, journal = copy_run(traded, "mismatch")
    assert CliRunner().invoke(app, ["reconcile", "--config", str(config)]).exit_code == 0
    mismatch = ReconcileMismatch(venue="uniswap", symbol="WETH", book_quantity=Decimal(1),
                                 venue_quantity=Decimal("0.5"), tolerance=Decimal("1e-8"),
                                 detail="the book holds 1 WETH, uniswap reports 0.5")  # fmt: skip
    with closing(SQLiteJournal(journal)) as j:
        j.append([Draft("fills", "recon:uniswap:WETH:1:0.5", mismatch, 1, 1)])
    result = attest(traded, config)
    assert result.exit_code == 1, result.output
    assert "found a mismatch: the book holds 1 WETH, uniswap reports 0.5" in result.stderr
    assert "run `zkrisk reconcile` again" in result.stderr


@pytest.mark.usefixtures("cli_env")
def test_a_cash_leg_in_an_asset_the_vault_does_not_list_is_refused_naming_it(
    traded: Traded,
) -> None:
    config, _ = copy_run(traded, "unlisted")
    assert CliRunner().invoke(app, ["reconcile", "--config", str(config)]).exit_code == 0
    result = attest(traded, config, "--quote", "DAI")
    assert result.exit_code == 2, result.output
    assert "DAI (" in result.stderr and "is not an asset the vault lists (USDC, WETH, WBTC)" in (
        result.stderr
    )
    assert "--map DAI=SYMBOL" in result.stderr


@pytest.mark.usefixtures("cli_env")
def test_the_reconciled_uniswap_book_is_attested_and_the_vault_stores_its_commitment(
    traded: Traded,
) -> None:
    """Runs last in the module: it moves the vault's book sequence on."""
    config, journal = copy_run(traded, "reconciled")
    reconciled = CliRunner().invoke(app, ["reconcile", "--config", str(config)])
    assert reconciled.exit_code == 0, reconciled.output
    (record,) = [r for r in records(journal) if isinstance(r.event, Reconciled)]
    assert record.event.book == {"WETH": Decimal(1)}  # type: ignore[union-attr]
    result = attest(traded, config)
    assert result.exit_code == 0, result.output
    book = load_book(config.parent / "book-next.toml")
    held = {p.symbol: p.quantity for p in book.portfolio.positions}
    assert held["WBTC"] == Decimal("1.5") and held["WETH"] == Decimal(-11)  # -12 + 1 bought
    assert Decimal(-3100) < held["USDC"] < Decimal(-3000)  # the USDC paid for it, a debt
    symbols = [a.symbol for a in traded.stack.assets]
    commitment = book_slots(book.portfolio, symbols, slots=traded.desk.client.slots(),
                            salt=book.salt).commitment()  # fmt: skip
    state = traded.desk.client.account_state()
    assert state.commitment == commitment and state.book_sequence == 2
    assert f"commitment: {commitment:#066x}" in result.output
    (attested,) = [r.event for r in records(journal) if isinstance(r.event, BookAttested)]
    assert attested.commitment == f"{commitment:#066x}" and attested.sequence == 2
    assert attested.through_position == record.event.through_position  # type: ignore[union-attr]
