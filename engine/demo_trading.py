"""The demo's trading act: strategy → gate → swap on Anvil → fill → position → reconciled book →
attested commitment → health proof.

The real runner (`pipeline.runner.Runner`, in this process) trades a short recorded tape on the
Uniswap v2 pools it is given, from the desk's own wallet: the momentum strategy turns, the
pre-trade gate approves, order send swaps through the router, the Swap log is the fill, the
fills are the position. The runner holds no key (`demo_signer`): a risk service approves the
swap with its exact transaction, the journal queues it, and a `zkrisk signer` process, the only
one that opens the wallet's keystore, signs it. The runner stopped, the book is reconciled against the wallet (the
`Reconciled` record `zkrisk reconcile` journals), handed to the attester with the desk's book
from the earlier steps (`pipeline.book_handoff`), signed and committed on the vault with a
proof of health. The desk that leaves the act holds the new book (the keeper proves on it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from zkrisk.prover.backends import ProvingBackend

from .chain.book_attester import DEV_ATTESTER_KEY
from .chain.uniswap_deploy import UniswapDeployment, save_addresses
from .chain.vault_deploy import VaultStack
from .demo_signer import Keyless, keyless_trading
from .journal.events import (
    OrderAccepted,
    OrderFilled,
    OrderRejected,
    OrderTxQueued,
    Reconciled,
    VerdictIssued,
)
from .journal.sqlite import SQLiteJournal
from .keeper.books import BookFile
from .keeper.devnet import OpenedDesk, snapshot_now
from .paths import repo_root
from .pipeline.book_handoff import (
    JournalBook,
    attest_and_commit,
    attested_draft,
    handed_book,
    read_journal,
    reconcile_drafts,
)
from .pipeline.run_config import LoadedRun, load_run_config
from .pipeline.runner import Runner
from .pipeline.venues.factory import make_venue
from .pipeline.venues.uniswap import LocalKeySigner, UniswapVenue
from .statements.book_slots import book_slots
from .statements.commitment import new_salt

Say = Callable[[str], None]
KEY_ENV = "ZKRISK_DEMO_DESK_KEY"
"""Where a run config of the act with a key finds the desk wallet's key (`wallet_key`)."""
TAPE_WETH = "3040"
"""The tape's last mid: the act's oracle price for the risk service."""
WALLET_USDC = Decimal(20_000)
QUANTITY = Decimal(1)
FILL_TIMEOUT_S = 90.0
"""A few seconds on an idle machine; a loaded one (a CI box) takes much longer."""


def _tape(path: Path, now_ns: int) -> Path:
    """WETH quotes that fall, then rise through the pool's price: momentum (fast 2, slow 4)
    takes the side on the fourth and turns up on the sixth (a BUY at the ask)."""
    mids = ["3000", "2999", "2998", "2997", "3020", "3040", "3040"]
    rows = [{"type": "quote", "symbol": "WETH", "seq": i + 1, "ts_ns": now_ns + i * 1_000_000,
             "bid": str(Decimal(m) - Decimal("0.5")), "ask": str(Decimal(m) + Decimal("0.5")),
             "bid_size": "5", "ask_size": "5"} for i, m in enumerate(mids)]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def trading_run(
    tmp: Path, account: str, node_url: str, addresses: Path, signer: str = ""
) -> LoadedRun:
    """The act's run config (written to `tmp`, with its tape): the momentum strategy on WETH,
    the Uniswap venue at `node_url` / `addresses`, signing through `signer` (its
    `[venue.uniswap]` lines: `Keyless.venue_toml`), else with the wallet key read from
    $ZKRISK_DEMO_DESK_KEY (`wallet_key`). 40 bps of slippage: inside the policy's 50."""
    examples = repo_root() / "examples"
    text = f"""
[run]
journal = "{tmp / "trading.db"}"
account = "{account}"
heartbeat_ms = 200
[pretrade]
policy = "{examples / "run-policy.toml"}"
assets = "{examples / "assets.toml"}"
scenarios = "{examples / "scenarios.csv"}"
[venue]
kind = "uniswap"
reconcile_every_s = 0.5
[venue.uniswap]
rpc_url = "{node_url}"
addresses = "{addresses}"
key_env = "{KEY_ENV}"
default_slippage_bps = 40
{signer}[ingest]
symbols = ["WETH"]
[[ingest.sources]]
name = "tape"
kind = "file"
path = "{_tape(tmp / "tape.jsonl", time.time_ns())}"
[[signal.strategies]]
id = "mom-weth"
strategy = "momentum"
symbols = ["WETH"]
params = {{ fast = 2, slow = 4, quantity = "{QUANTITY}" }}
max_quote_age_ms = 600000  # a recorded tape: its age against the run's heartbeats means nothing
[monitor]
starting_equity_usd = "1000000"
heartbeats = {{ ingest = {{ interval_ms = 60000 }}, pipeline = {{ interval_ms = 60000 }} }}
"""
    path = tmp / "trading.toml"
    path.write_text(text)
    return load_run_config(path)


@contextmanager
def wallet_key(key: str) -> Iterator[None]:
    """The wallet key in the environment for the venue factory (never in a file), then gone."""
    os.environ[KEY_ENV] = key
    try:
        yield
    finally:
        os.environ.pop(KEY_ENV, None)


async def trade_until_filled(loaded: LoadedRun) -> None:
    """Run until the order's fill is journaled (or it is rejected), then stop cleanly."""
    with closing(SQLiteJournal(loaded.journal_path)) as journal:
        runner = Runner(journal, loaded)
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run_until(stop))
        deadline = time.monotonic() + FILL_TIMEOUT_S
        events: list[object] = []
        try:
            while not task.done() and time.monotonic() < deadline:
                events = [r.event for r in journal.read(0, streams=("orders", "fills", "pretrade"),
                                                        limit=10_000)]  # fmt: skip
                if any(isinstance(e, OrderFilled | OrderRejected) for e in events):
                    break
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await task
        if not any(isinstance(e, OrderFilled | OrderRejected) for e in events):
            kinds = Counter(r.event.type for r in journal.iter_from(0))
            raise TimeoutError(f"the act's order neither filled nor was rejected within "
                               f"{FILL_TIMEOUT_S:.0f} s; the journal holds {dict(kinds)}")  # fmt: skip


def trading_act(
    stack: VaultStack,
    desk: OpenedDesk,
    uniswap: UniswapDeployment,
    backend: ProvingBackend,
    say: Say,
    tmp: Path,
) -> OpenedDesk:
    """The act (see the module docstring); returns the desk with its newly committed book."""
    started = time.perf_counter()
    wallet = desk.client.account
    quote = uniswap.addresses.quote
    uniswap.mint(quote, wallet, WALLET_USDC)
    addresses = save_addresses(uniswap.addresses, tmp / "uniswap.json")
    tokens = ", ".join(f"{s} ({t.decimals} decimals)" for s, t in uniswap.addresses.tokens.items())
    say(f"6a. trading act: Uniswap v2 (Router02 {uniswap.addresses.router[:10]}…) on this chain, "
        f"pools of {tokens} against {quote} — {_same_tokens(stack, uniswap)}; the desk's wallet "
        f"gets {WALLET_USDC:,} {quote}")  # fmt: skip
    url = str(stack.chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    key = _desk_key_of(desk)

    def approve_router() -> None:  # the owner's one-time set-up, by its key
        asyncio.run(_approve_router(uniswap, key, url))

    with keyless_trading(tmp, wallet, key, desk.book.portfolio, addresses=addresses,
                         node_url=url, weth_price=TAPE_WETH, chain_id=uniswap.addresses.chain_id,
                         meanwhile=approve_router) as keyless, _quiet():  # fmt: skip
        loaded = trading_run(tmp, wallet, url, addresses, keyless.venue_toml(wallet))
        asyncio.run(trade_until_filled(loaded))
        _say_trade(loaded, stack, say, keyless)
        state = _reconcile(loaded, say)
    handed = handed_book(state, venue=loaded.config.venue.kind, account=wallet,
                         listed=stack.assets, base=desk.book.portfolio)  # fmt: skip
    new = BookFile(salt=new_salt(), portfolio=handed.portfolio)
    snapshot_now(desk.client)
    assert stack.artifacts is not None
    committed = attest_and_commit(desk.client, new, stack.assets, stack.artifacts, backend,
                                  attester_key=DEV_ATTESTER_KEY)  # fmt: skip
    with closing(SQLiteJournal(loaded.journal_path)) as journal:
        journal.append([attested_draft(handed, committed, time.time_ns())])
    onchain = desk.client.account_state().commitment
    symbols = [a.symbol for a in stack.assets]
    expected = book_slots(new.portfolio, symbols, slots=desk.client.slots(),
                          salt=new.salt).commitment()  # fmt: skip
    if onchain != expected:
        raise RuntimeError(f"the vault holds {onchain:#x}, the book's commitment is {expected:#x}")
    earlier = ", ".join(f"{_qty(p.quantity)} {p.symbol}" for p in desk.book.portfolio.positions)
    traded = ", ".join(f"{_qty(q)} {s}" for s, q in sorted(handed.traded.items()))
    positions = ", ".join(f"{_qty(p.quantity)} {p.symbol}" for p in new.portfolio.positions)
    say(f"6e. the reconciled book goes to the attester: the desk's {earlier} plus the run's "
        f"{traded} (the quote leg: the fills' cash) = {positions}; attester signs book "
        f"#{committed.signed.attestation.sequence} (EIP-712); desk commits it: HF = "
        f"{committed.proven.health_factor} proven in {committed.proven.prove_seconds:.2f}s; "
        f"updateBook() gas {committed.gas:,}; the vault's commitment "
        f"{f'{onchain:#x}'[:18]}… = the book's Poseidon commitment [act "
        f"{time.perf_counter() - started:.1f}s]")  # fmt: skip
    return replace(desk, book=new, commit=committed.proven, commit_gas=committed.gas,
                   attestation=committed.signed)  # fmt: skip


def _reconcile(loaded: LoadedRun, say: Say) -> JournalBook:
    """What `zkrisk reconcile` does, the run stopped: the fills' book against the wallet's change
    since the run began, journaled (a `Reconciled` record, or the mismatches and a stop)."""
    state = read_journal(loaded.journal_path)
    venue = make_venue(loaded.config.venue)
    balances = asyncio.run(_balances(venue))
    drafts = reconcile_drafts(state, venue.name, balances, symbols=loaded.config.ingest.symbols,
                              tolerance=loaded.config.venue.reconcile_tolerance,
                              now_ns=time.time_ns())  # fmt: skip
    with closing(SQLiteJournal(loaded.journal_path)) as journal:
        written = journal.append(drafts)
    if not isinstance(drafts[0].event, Reconciled):
        raise RuntimeError(f"the book and the wallet disagree: {drafts[0].event}")
    state = read_journal(loaded.journal_path)
    book = state.venue_quantities(venue.name)
    held = ", ".join(f"{_qty(q)} {s}" for s, q in sorted(book.items()))
    change = ", ".join(f"{_qty(balances.get(s, Decimal(0)))} {s}" for s in sorted(book))
    say(f"6d. position from the fills: {held} (avg {state.positions.average_price('WETH'):,.2f}"
        f" USDC); reconciled against the wallet's change since the run began ({change}): "
        f"Reconciled, journal position {written[0].position}")  # fmt: skip
    return state


def _qty(value: Decimal, *, sign: bool = True) -> str:
    """A quantity as written, without the zeros the token's decimals leave (1.000… → 1)."""
    text = f"{value.normalize():f}"
    return f"+{text}" if sign and value > 0 else text


def _same_tokens(stack: VaultStack, uniswap: UniswapDeployment) -> str:
    """Whether the pools trade the vault's own listed tokens (fork mode) or mocks of them."""
    listed = {s: str(t.address).lower() for s, t in stack.tokens.items()}
    pooled = {s: t.address.lower() for s, t in uniswap.addresses.tokens.items()}
    if all(listed.get(s) == a for s, a in pooled.items()):
        return "the vault's own listed tokens"
    return (
        "mock tokens with the vault's listed symbols and decimals (other contracts than the "
        "vault's: the book is symbols and quantities, so the commitment is the same)"
    )


@contextmanager
def _quiet() -> Iterator[None]:
    """The runner's log lines (a reconciliation skipped while the swap is in flight) are not
    part of the story: held back while it runs."""
    logger = logging.getLogger("zkrisk.engine.pipeline")
    handler = logging.NullHandler()
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


async def _approve_router(uniswap: UniswapDeployment, key: str, url: str) -> None:
    """The wallet's router allowances, set by its owner before the run (the signer signs only
    approved swaps)."""
    venue = UniswapVenue(uniswap.addresses, LocalKeySigner(key), [url])
    await venue.connect()
    await venue.close()


def _desk_key_of(desk: OpenedDesk) -> str:
    return "0x" + bytes(desk.client.chain.account.key).hex()


async def _balances(venue: object) -> dict[str, Decimal]:
    from .pipeline.venues.base import Venue

    assert isinstance(venue, Venue)
    await venue.connect()
    try:
        return dict(await venue.balances())
    finally:
        await venue.close()


def _say_trade(loaded: LoadedRun, stack: VaultStack, say: Say, keyless: Keyless) -> None:
    """6b (signal, gate) and 6c (swap, fill) from the journal the runner wrote."""
    with closing(SQLiteJournal(loaded.journal_path, readonly=True)) as journal:
        records = list(journal.iter_from(0))
    verdicts = [r.event.verdict for r in records if isinstance(r.event, VerdictIssued)]
    fills = [r.event for r in records if isinstance(r.event, OrderFilled)]
    acks = [r.event for r in records if isinstance(r.event, OrderAccepted)]
    rejected = [r.event for r in records if isinstance(r.event, OrderRejected)]
    queued = [r.event for r in records if isinstance(r.event, OrderTxQueued)]
    if not verdicts or not fills or not acks:
        raise RuntimeError(f"the act's order did not fill: verdicts {verdicts}, rejects "
                           f"{rejected}")  # fmt: skip
    verdict, fill, ack = verdicts[0], fills[0], acks[0]
    hf = verdict.post_trade_health_factor_bps
    say(f"6b. signal: momentum mom-weth (fast 2 / slow 4) turns up on the tape → BUY "
        f"{_qty(fill.quantity, sign=False)} WETH; pre-trade gate: {verdict.kind.value}"
        f"{f' (post-trade HF {hf / 10_000:.2f})' if hf else ''}; OrderSubmitted journaled "
        "before the send (write-ahead)")  # fmt: skip
    receipt = stack.chain.w3.eth.get_transaction_receipt(ack.venue_order_id)  # type: ignore[arg-type]
    say(f"6c. swap: Router02 swap tx {ack.venue_order_id[:12]}… mined (gas "
        f"{int(receipt['gasUsed']):,}); its Swap log is the fill: {_qty(fill.quantity, sign=False)} WETH at "
        f"{fill.price:,.2f} USDC, gas fee {fill.fee:.6f} {fill.fee_currency}")  # fmt: skip
    approval = json.loads(queued[0].request)["approval"]["message"] if queued else {}
    where = keyless.keystore.relative_to(repo_root())
    say(f"   signed without a key in the runner: the risk service approved the swap's exact "
        f"transaction (EIP-712 OrderApproval #{approval.get('nonce')}, callDataHash "
        f"{str(approval.get('callDataHash'))[:12]}…, signed by {keyless.approver[:10]}…), the "
        f"journal queued it (OrderTxQueued, before the signer saw it), and the signer process "
        f"(pid {keyless.signer_pid}, the only one that opened the keystore {where}) checked it, "
        "signed it and sent it")  # fmt: skip
