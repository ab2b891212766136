"""`zkrisk attest-run`: a venue run's reconciled book, signed by its attester and committed.

Folds the run's journal (positions, the quote leg of the fills), refuses unless the venue's last
reconciliation agreed and no fill came after it (`zkrisk reconcile` journals an agreeing one),
maps the positions to the vault's listed assets and adds them to the desk's base book (what it
holds elsewhere; `--base-book`). The attester (key in $ZKRISK_ATTESTER_KEY, never a flag) signs
the book's commitment for the vault (EIP-712); the desk (`--private-key` / `--dev-account`, the
run's account) proves HF ≥ the vault's minimum for it and commits it (`updateBook`). The new book
(salt + portfolio: private, needed for every later proof) is written to `--out`, and a
`BookAttested` record is journaled.

Exit codes: 0 committed, 1 refused (the journal is not reconciled, the book is not healthy
enough, the chain reverted), 2 bad input (config, files, keys, an asset the vault does not list).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .chain import AsJson, AssetsOpt, Backend, Deployments, DevAccount, PrivateKey, RpcUrl
from .common import EXIT_BAD_INPUT, EXIT_FAILED, bad_input, fail
from .run import ConfigOption, _load
from .trading import VenueOption

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..keeper.books import BookFile
    from ..keeper.vault_access import VaultHandle
    from ..pipeline.book_handoff import CommittedBook, HandedBook
    from ..risk.models import Asset

BaseBookOpt = Annotated[
    Path | None,
    typer.Option(
        "--base-book",
        help="The desk's book without this run's trading (salt + [portfolio]): the run's "
        "positions are added to it. Default: an empty book.",
        dir_okay=False,
    ),
]
OutOpt = Annotated[
    Path,
    typer.Option(
        "--out",
        help="Write the committed book here (TOML: its new salt + portfolio; keep it private, "
        "every later proof opens it).",
        dir_okay=False,
    ),
]
MapOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--map", help="Journal symbol = the vault's listed symbol (e.g. ETH=WETH); repeatable."
    ),
]
QuoteOpt = Annotated[
    str, typer.Option(help="The venue's quote asset: its cash leg is booked as this symbol.")
]


def _symbol_map(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        left, sep, right = pair.partition("=")
        if not sep or not left.strip() or not right.strip():
            raise ValueError(f"--map {pair!r}: write JOURNAL_SYMBOL=LISTED_SYMBOL, e.g. ETH=WETH")
        out[left.strip()] = right.strip()
    return out


def attest_run(
    config: ConfigOption,
    rpc_url: RpcUrl,
    assets: AssetsOpt,
    out: OutOpt,
    private_key: PrivateKey = None,
    dev_account: DevAccount = None,
    deployments: Deployments = None,
    base_book: BaseBookOpt = None,
    venue_kind: VenueOption = None,
    symbol_map: MapOpt = None,
    quote: QuoteOpt = "USDC",
    backend: Backend = "best",
    as_json: AsJson = False,
) -> None:
    """Hand a venue run's reconciled book to its attester and commit it on the vault with a health proof.

    The attester key comes from $ZKRISK_ATTESTER_KEY; the desk signs with --private-key or --dev-account and must be the run's [run] account. Run `zkrisk reconcile` first: only a journal whose last reconciliation agreed, with no fill after it, is attested.
    """  # fmt: skip

    from ..files import load_assets
    from ..journal.base import JournalError
    from ..keeper.books import BookFile, load_book
    from ..keeper.vault_access import slot_assets
    from ..pipeline.book_handoff import HandoffError, NotReconciled, handed_book, read_journal
    from ..statements.commitment import new_salt
    from .attest import attester_key
    from .chain import open_handle

    loaded = _load(config)
    if venue_kind is not None:
        if venue_kind not in ("simex", "uniswap"):
            fail([f"--venue {venue_kind}: use simex or uniswap"], EXIT_BAD_INPUT)
        loaded = loaded.with_venue(venue_kind)
    venue = loaded.config.venue.kind
    if venue == "paper":
        fail(["this run is in paper mode ([venue] kind = \"paper\"): its fills are no venue's, "
              "there is nothing reconciled to attest (--venue simex or uniswap names one)"])  # fmt: skip
    if not loaded.journal_path.is_file():
        fail([f"{loaded.journal_path}: no journal yet: start the run with `zkrisk run`"])
    with bad_input():
        key = attester_key()
        mapping = _symbol_map(symbol_map or [])
        base = load_book(base_book) if base_book is not None else None
        handle = open_handle(rpc_url, private_key, dev_account, deployments)
        account = handle.client.account
        if account.lower() != loaded.config.run.account.lower():
            raise ValueError(
                f"the desk signer is {account} but the run trades for {loaded.config.run.account}"
                " ([run] account): sign with that account's key"
            )
        listed = slot_assets(handle.record, load_assets(assets))
    try:
        state = read_journal(loaded.journal_path)
    except JournalError as exc:
        fail([str(exc)])
    try:
        handed = handed_book(state, venue=venue, account=account, listed=listed, quote=quote,
                             symbol_map=mapping,
                             base=None if base is None else base.portfolio)  # fmt: skip
    except NotReconciled as exc:
        fail([str(exc)], EXIT_FAILED)
    except HandoffError as exc:
        fail([str(exc)], EXIT_BAD_INPUT)
    book = BookFile(salt=new_salt(), portfolio=handed.portfolio)
    committed = _commit(handle, book, listed, backend, key)
    _write_book(out, book)
    _journal_attested(loaded.journal_path, handed, committed)
    _report(handed, committed, out, as_json)


def _commit(
    handle: VaultHandle, book: BookFile, listed: Sequence[Asset], backend: str, key: str
) -> CommittedBook:
    """A fresh snapshot (when the price book allows one), then attest, prove, updateBook."""
    from zkrisk.prover.backends import create_backend

    from ..chain.client import TransactionReverted
    from ..keeper.tx import take_snapshot
    from ..pipeline.book_handoff import attest_and_commit
    from .chain import _refused

    with _refused():
        try:
            take_snapshot(handle.client)
        except TransactionReverted as exc:
            if exc.error != "PriceBook__SnapshotTooSoon":
                raise  # one was taken this second: prove at it
        with create_backend(backend) as prover:
            return attest_and_commit(handle.client, book, listed, handle.artifacts, prover,
                                     attester_key=key)  # fmt: skip
    raise AssertionError("unreachable")  # _refused exits


def _write_book(out: Path, book: BookFile) -> None:
    from ..keeper.books import book_toml

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(book_toml(book))
    except OSError as exc:
        fail([f"--out {out}: {exc.strerror} (the book is committed on-chain: write it down now)"],
             EXIT_FAILED)  # fmt: skip


def _journal_attested(path: Path, handed: HandedBook, committed: CommittedBook) -> None:
    import time
    from contextlib import closing

    from ..journal.sqlite import SQLiteJournal
    from ..pipeline.book_handoff import attested_draft

    with closing(SQLiteJournal(path)) as journal:
        journal.append([attested_draft(handed, committed, time.time_ns())])


def _report(handed: HandedBook, committed: CommittedBook, out: Path, as_json: bool) -> None:
    import json

    att = committed.signed.attestation
    data = {
        "account": att.account,
        "venue": handed.venue,
        "reconciled_through": handed.through_position,
        "traded": {s: f"{q.normalize():f}" for s, q in handed.traded.items()},
        "book": {p.symbol: f"{p.quantity.normalize():f}" for p in handed.portfolio.positions},
        "rounding_dust": {s: f"{q.normalize():f}" for s, q in handed.dust.items()},
        "fees_not_booked": {c: f"{q.normalize():f}" for c, q in handed.other_fees.items()},
        "attester": committed.signed.attester,
        "sequence": att.sequence,
        "commitment": f"{att.commitment:#066x}",
        "health_factor": committed.proven.health_factor,
        "prove_seconds": round(committed.proven.prove_seconds, 3),
        "gas": committed.gas,
        "tx": committed.tx_hash,
        "book_file": str(out),
    }
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    for name, value in data.items():
        if isinstance(value, dict):
            value = ", ".join(f"{q} {s}" for s, q in value.items()) or "-"
        typer.echo(f"{name}: {value}")
