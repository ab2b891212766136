"""Stage 5's last step: the reconciled book, from a venue run's journal, handed to the attester.

`JournalBook` folds a journal: the positions (`fills.Positions`, the one owner of them), each
venue's quote leg (the cash the fills moved: −quantity · price per fill, less fees paid in the
quote currency), where each venue's last fill is, and each venue's last reconciliation (a
`Reconciled` record, journaled by `zkrisk reconcile` when book and venue agree, or a
`ReconcileMismatch`). `handed_book` turns it into the risk `Portfolio` the attester signs, and
refuses (`HandoffError`, saying the fix) unless the venue's last reconciliation agreed and no
fill came after it — the attester signs only what was reconciled:

- positions are mapped to the vault's listed symbols (`symbol_map`, e.g. ETH → WETH); a traded
  asset the vault does not list is an error naming it;
- quantities are cut to what both the token (its decimals) and the book's fixed point
  (`fixed_point.QTY_DECIMALS`) can hold, rounding toward −∞: collateral never grows and a debt
  never shrinks by rounding (the dust is reported);
- the quote leg is a position in the quote asset (USDC): reconciliation does not compare it (the
  venue's cash includes what the desk deposited), so the venue's starting cash, like every
  position held elsewhere, belongs in the base book the journal's trading is added to. Fees in
  other currencies (a chain venue's gas, in ETH) are not a position of the book; they are
  reported apart.

`attest_and_commit` is the I/O: the attester signs the book for the vault
(`book_attester.attest_for_vault`), the desk proves HF ≥ the vault's minimum for it
(`keeper.proving.prove_action`, UPDATE_COMMITMENT) and commits it (`updateBook`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from ..journal.events import (
    BookAttested,
    Draft,
    OrderFilled,
    Reconciled,
    ReconcileMismatch,
    Recorded,
)
from ..risk import fixed_point as fp
from ..risk.models import Asset, Portfolio, Position, Side
from .fills import Positions
from .reconcile import mismatches
from .strategies.base import DECIMAL

if TYPE_CHECKING:  # the chain side (web3, the prover) loads only where a book is committed
    from zkrisk.prover.artifacts import CircuitArtifacts
    from zkrisk.prover.backends import ProvingBackend

    from ..chain.attestation import SignedAttestation
    from ..chain.vault import VaultClient
    from ..keeper.books import BookFile
    from ..keeper.proving import ProvenAction

ZERO = Decimal(0)


class HandoffError(ValueError):
    """The journal's book cannot go to the attester as it is (the message says the fix)."""


class NotReconciled(HandoffError):
    """The venue's last reconciliation disagreed, or none covers the journal's fills yet."""


@dataclass
class JournalBook:
    """What a journal says about the book, per venue (see the module docstring)."""

    quote_currencies: tuple[str, ...] = ("USDC", "USD")
    positions: Positions = field(default_factory=Positions)
    cash: dict[str, Decimal] = field(default_factory=dict)
    """venue → the quote leg of its fills."""
    other_fees: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    """venue → fee currency → fees paid in currencies that are not the quote."""
    last_fill: dict[str, int] = field(default_factory=dict)
    """venue → journal position of its last fill."""
    last_reconciliation: dict[str, Recorded] = field(default_factory=dict)
    """venue → its last `Reconciled` or `ReconcileMismatch` record."""
    head: int = 0

    def apply(self, rec: Recorded) -> None:
        self.positions.apply(rec)
        self.head = max(self.head, rec.position)
        event = rec.event
        if isinstance(event, OrderFilled):
            signed = event.quantity if event.side is Side.BUY else -event.quantity
            flow = DECIMAL.multiply(-signed, event.price)
            if event.fee and event.fee_currency in self.quote_currencies:
                flow = DECIMAL.subtract(flow, event.fee)
            elif event.fee:
                fees = self.other_fees.setdefault(event.venue, {})
                fees[event.fee_currency] = fees.get(event.fee_currency, ZERO) + event.fee
            self.cash[event.venue] = DECIMAL.add(self.cash.get(event.venue, ZERO), flow)
            self.last_fill[event.venue] = rec.position
        elif isinstance(event, Reconciled | ReconcileMismatch):
            self.last_reconciliation[event.venue] = rec

    def venue_quantities(self, venue: str) -> dict[str, Decimal]:
        return {s: q for (v, s), q in self.positions.venue_quantity.items() if v == venue}


def fold_journal(records: Iterable[Recorded]) -> JournalBook:
    book = JournalBook()
    for rec in records:
        book.apply(rec)
    return book


def read_journal(path: Path) -> JournalBook:
    """Fold a journal file read-only (it may be a live run's)."""
    from ..journal.sqlite import SQLiteJournal

    with closing(SQLiteJournal(path, readonly=True)) as journal:
        return fold_journal(journal.iter_from(0))


@dataclass(frozen=True)
class HandedBook:
    """The book the attester signs, and how it was made from the journal."""

    portfolio: Portfolio
    venue: str
    through_position: int
    """The reconciliation it comes from."""
    traded: dict[str, Decimal]
    """The venue's positions, in the vault's symbols, as they enter the book (the quote leg
    included)."""
    dust: dict[str, Decimal]
    """What rounding to the token's and the book's decimals cut off, per symbol (≥ 0)."""
    other_fees: dict[str, Decimal]
    """Fees not in the book (not the quote currency), per currency."""


def handed_book(
    journal: JournalBook,
    *,
    venue: str,
    account: str,
    listed: Sequence[Asset],
    quote: str = "USDC",
    symbol_map: Mapping[str, str] | None = None,
    base: Portfolio | None = None,
) -> HandedBook:
    """The Portfolio to attest: `base` plus `venue`'s reconciled trading (module docstring).

    `listed` are the vault's assets (symbols and token decimals); `quote` is the symbol the
    venue's prices and cash are in, `symbol_map` maps journal symbols to listed ones."""
    through = _reconciled_through(journal, venue)
    mapping = dict(symbol_map or {})
    by_symbol = {a.symbol: a for a in listed}
    raw = dict(journal.venue_quantities(venue))
    raw[quote] = DECIMAL.add(raw.get(quote, ZERO), journal.cash.get(venue, ZERO))
    traded: dict[str, Decimal] = {}
    dust: dict[str, Decimal] = {}
    for symbol, quantity in sorted(raw.items()):
        if quantity == 0:
            continue  # flat: nothing to sign, listed or not
        target = mapping.get(symbol, symbol)
        asset = by_symbol.get(target)
        if asset is None:
            raise HandoffError(
                f"{symbol} ({quantity} from {venue}'s fills) is not an asset the vault lists "
                f"({', '.join(by_symbol)}): map it to a listed one (--map {symbol}=SYMBOL) or "
                "have governance list it first"
            )
        step = Decimal(1).scaleb(-min(asset.decimals, fp.QTY_DECIMALS))
        cut = quantity.quantize(step, rounding=ROUND_FLOOR)
        traded[target] = traded.get(target, ZERO) + cut
        if cut != quantity:
            dust[target] = dust.get(target, ZERO) + quantity - cut
    total = dict(traded)
    if base is not None:
        if base.account != account.lower():
            raise HandoffError(
                f"the base book is {base.account}'s, not {account}'s: use the account's own book"
            )
        for position in base.positions:
            if position.symbol not in by_symbol:
                raise HandoffError(
                    f"the base book holds {position.symbol}, which the vault does not list "
                    f"({', '.join(by_symbol)}): remove it from the base book"
                )
            total[position.symbol] = total.get(position.symbol, ZERO) + position.quantity
    positions = tuple(Position(symbol=s, quantity=q) for s, q in sorted(total.items()) if q != 0)
    portfolio = Portfolio(account=account, positions=positions)
    return HandedBook(portfolio, venue, through, traded, dust,
                      dict(journal.other_fees.get(venue, {})))  # fmt: skip


def _reconciled_through(journal: JournalBook, venue: str) -> int:
    """The position the venue's last reconciliation covers; HandoffError unless it agreed and
    no fill of the venue came after it."""
    last = journal.last_reconciliation.get(venue)
    if last is None:
        raise NotReconciled(
            f"the journal has no reconciliation with {venue} yet: run `zkrisk reconcile` on this "
            "run first (it journals the result when the book and the venue agree)"
        )
    event = last.event
    if isinstance(event, ReconcileMismatch):
        raise NotReconciled(
            f"the last reconciliation with {venue} (journal position {last.position}) found a "
            f"mismatch: {event.detail}; resolve it, then run `zkrisk reconcile` again"
        )
    assert isinstance(event, Reconciled)
    after = journal.last_fill.get(venue, 0)
    if after > event.through_position:
        raise NotReconciled(
            f"a fill from {venue} was journaled (position {after}) after the last reconciliation "
            f"(through position {event.through_position}): run `zkrisk reconcile` again"
        )
    held = journal.venue_quantities(venue)
    for symbol, quantity in event.book.items():
        if held.get(symbol, ZERO) != quantity:
            raise NotReconciled(
                f"the journal's {symbol} position on {venue} is {held.get(symbol, ZERO)}, the "
                f"reconciliation at position {last.position} saw {quantity}: run `zkrisk "
                "reconcile` again"
            )
    return event.through_position


def reconciled_draft(
    venue: str,
    book: Mapping[str, Decimal],
    *,
    through_position: int,
    tolerance: Decimal,
    now_ns: int,
) -> Draft:
    """The `Reconciled` record of an agreeing reconciliation (stream 'fills')."""
    event = Reconciled(venue=venue, through_position=through_position, book=dict(book),
                       tolerance=tolerance)  # fmt: skip
    return Draft("fills", f"reconciled:{venue}:{through_position}", event, now_ns, now_ns)


def reconcile_drafts(
    journal: JournalBook,
    venue: str,
    balances: Mapping[str, Decimal],
    *,
    symbols: Collection[str],
    tolerance: Decimal,
    now_ns: int,
) -> list[Draft]:
    """A reconciliation's records: the `ReconcileMismatch`es (`reconcile.mismatches`), or the
    one `Reconciled` record when the book and the venue agree on every symbol."""
    book = journal.venue_quantities(venue)
    found = mismatches(book, balances, venue=venue, symbols=symbols, tolerance=tolerance,
                       now_ns=now_ns)  # fmt: skip
    return found or [reconciled_draft(venue, book, through_position=journal.positions.position,
                                      tolerance=tolerance, now_ns=now_ns)]  # fmt: skip


# --- the attester and the vault (I/O) ------------------------------------------------------


@dataclass(frozen=True)
class CommittedBook:
    """The handed book, signed by the attester and committed on the vault with a proof."""

    book: BookFile
    signed: SignedAttestation
    proven: ProvenAction
    gas: int
    tx_hash: str


def attest_and_commit(
    desk: VaultClient,
    book: BookFile,
    assets: Sequence[Asset],
    artifacts: CircuitArtifacts,
    backend: ProvingBackend,
    *,
    attester_key: str,
) -> CommittedBook:
    """The attester signs `book` for `desk`'s vault (next sequence, the chain's time, checked
    as the vault checks it); the desk proves HF ≥ the vault's minimum for that commitment at
    the latest snapshot and commits it (updateBook)."""
    from ..chain.book_attester import attest_for_vault
    from ..keeper.proving import prove_action
    from ..statements.binding import Action

    signed = attest_for_vault(desk, book.portfolio, salt=book.salt,
                              symbols=[a.symbol for a in assets], private_key=attester_key)  # fmt: skip
    proven = prove_action(desk, book, assets, Action.UPDATE_COMMITMENT, artifacts, backend,
                          commitment=signed.attestation.commitment)  # fmt: skip
    receipt = desk.update_book(signed, proven.action.snapshot_id, proven.proof)
    tx = "0x" + bytes(receipt["transactionHash"]).hex()
    return CommittedBook(book, signed, proven, int(receipt["gasUsed"]), tx)


def attested_draft(handed: HandedBook, committed: CommittedBook, now_ns: int) -> Draft:
    """The `BookAttested` record of a committed book (stream 'fills', caused by its
    reconciliation)."""
    att, domain = committed.signed.attestation, committed.signed.domain
    event = BookAttested(
        venue=handed.venue, through_position=handed.through_position, chain_id=domain.chain_id,
        vault=domain.vault, account=att.account, sequence=att.sequence,
        commitment=f"{att.commitment:#066x}", attester=committed.signed.attester,
        tx_hash=committed.tx_hash,
    )  # fmt: skip
    key = f"attested:{domain.vault.lower()}:{att.account.lower()}:{att.sequence}"
    cause = f"reconciled:{handed.venue}:{handed.through_position}"
    return Draft("fills", key, event, now_ns, now_ns, cause)
