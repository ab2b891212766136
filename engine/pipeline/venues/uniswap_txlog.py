"""The Uniswap venue's write-ahead log of signed transactions, kept in the run's journal.

Every transaction the venue signs for an order (the swap, each same-nonce replacement, the
self-transfer taking the nonce) is journaled as `OrderTxSigned` (stream 'orders', key
'sent:<client order id>:<n>') before it is broadcast, so a process killed at any moment leaves
no transaction on chain that the journal does not name. At connect, a restarted venue asks
`in_flight` for the orders still undecided with all their signed transactions, adopts them,
polls every hash and rebroadcasts the same bytes: an order is never signed again under another
nonce, so no swap is sent twice.

With a signer process (`signer_client`), the journal is also the private queue: each approved
transaction is journaled as `OrderTxQueued` (key 'approved:<client order id>:<n>', the exact
request the signer gets) before the signer is asked, and one order at a time holds a wallet's
nonce there (`QueueConflict` refuses another order's entry at a held wallet nonce). A restart
finds the entries not followed by their signature (`InFlight.queued`) and resumes each with the
very same request.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ...journal.base import Journal
from ...journal.events import Draft, OrderSpec, OrderTxQueued, OrderTxSigned
from ..orders import FINAL, Orders, OrderStatus

TxKind = Literal["SWAP", "REPLACEMENT", "CANCEL", "ABANDON"]
SignRoute = Literal["/v1/sign", "/v1/sign-call"]


class QueueConflict(RuntimeError):
    """A queue entry for a wallet nonce another undecided order holds (a second transaction
    must never be pushed past the first one's approval at the same nonce)."""


@dataclass(frozen=True, slots=True)
class QueuedTx:
    """An approved transaction waiting for the signer: the request exactly as it is sent."""

    client_order_id: str
    entry: int
    """The order's n-th queue entry (the n of its key; a refused one keeps its number)."""
    index: int
    """The n of the `SignedTx` its signature becomes."""
    kind: TxKind
    wallet: str
    nonce: int
    route: SignRoute
    request: str
    """The JSON body of the signer request."""


@dataclass(frozen=True, slots=True)
class SignedTx:
    client_order_id: str
    index: int
    """The order's n-th signature (0: its first swap), the n of its key."""
    kind: TxKind
    nonce: int
    tx_hash: str
    raw: bytes
    position: int = 0
    """Its journal position (0 before it is journaled): later signatures win a nonce."""


@dataclass(frozen=True, slots=True)
class InFlight:
    """An order the journal holds undecided, with every transaction signed for it."""

    spec: OrderSpec
    replacements_journaled: int
    """OrderReplaced records already journaled (the later replacements are reported again)."""
    txs: tuple[SignedTx, ...]
    queued: tuple[QueuedTx, ...] = ()
    """The latest queue entry when the journal does not hold its signature (a crash between
    the queue write and the signature's): resumed with the very same request."""
    entries: int = 0
    """Queue entries journaled for the order (the next one's number)."""
    approval: dict[str, Any] | None = None
    """The approval its swap was signed under (a keyless venue's replacements reuse it)."""


class TxLog(Protocol):
    def write(self, tx: SignedTx) -> None:
        """Record `tx` durably before returning (the venue broadcasts only after)."""

    def in_flight(self) -> list[InFlight]:
        """The venue's orders the journal holds undecided that have signed (or queued)
        transactions."""

    def queue(self, tx: QueuedTx) -> None:
        """Record `tx` durably before returning (the signer is asked only after); QueueConflict
        when another undecided order holds its wallet nonce."""

    def release(self, tx: QueuedTx) -> None:
        """`tx` was refused (nothing signed): its wallet nonce is free again."""


def sent_key(client_order_id: str, index: int) -> str:
    return f"sent:{client_order_id}:{index}"


def queued_key(client_order_id: str, index: int) -> str:
    return f"approved:{client_order_id}:{index}"


def queued_draft(tx: QueuedTx, venue: str, now_ns: int) -> Draft:
    coid = tx.client_order_id
    event = OrderTxQueued(client_order_id=coid, venue=venue, kind=tx.kind, wallet=tx.wallet,
                          nonce=tx.nonce, index=tx.index, route=tx.route,
                          request=tx.request)  # fmt: skip
    return Draft("orders", queued_key(coid, tx.entry), event, now_ns, now_ns, f"order:{coid}")


def tx_draft(tx: SignedTx, venue: str, now_ns: int) -> Draft:
    coid = tx.client_order_id
    event = OrderTxSigned(client_order_id=coid, venue=venue, kind=tx.kind, nonce=tx.nonce,
                          tx_hash=tx.tx_hash, raw_tx="0x" + tx.raw.hex())  # fmt: skip
    return Draft("orders", sent_key(coid, tx.index), event, now_ns, now_ns, f"order:{coid}")


def undecided(status: OrderStatus, reason: str) -> bool:
    """Open, or expired by our own timeout (the venue may still fill it: a late fill)."""
    return status not in FINAL or (status is OrderStatus.EXPIRED and reason == "TIMED_OUT")


class JournalTxLog:
    """`TxLog` over the run's journal; `orders` is the journal's folded orders projection."""

    def __init__(
        self,
        journal: Journal,
        venue: str,
        orders: Callable[[], Orders],
        append: Callable[[list[Draft]], None] | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.journal, self.venue, self.orders, self.clock = journal, venue, orders, clock
        self._append = append
        """The pipeline's append-and-fold (plain `journal.append` without one)."""
        self._holders: dict[tuple[str, int], str] | None = None
        """(wallet, nonce) -> the undecided order whose queue entry holds it."""

    def _write(self, draft: Draft) -> None:
        if self._append is not None:
            self._append([draft])
        else:
            self.journal.append([draft])

    def write(self, tx: SignedTx) -> None:
        self._write(tx_draft(tx, self.venue, self.clock()))

    def queue(self, tx: QueuedTx) -> None:
        holders = self._held()
        slot = (tx.wallet.lower(), tx.nonce)
        holder = holders.get(slot)
        if holder is not None and holder != tx.client_order_id:
            raise QueueConflict(f"wallet {tx.wallet} nonce {tx.nonce} is held by order {holder}'s"
                                f" queue entry: order {tx.client_order_id} must take the next "
                                "nonce")  # fmt: skip
        self._write(queued_draft(tx, self.venue, self.clock()))
        holders[slot] = tx.client_order_id

    def release(self, tx: QueuedTx) -> None:
        holders = self._held()
        if holders.get((tx.wallet.lower(), tx.nonce)) == tx.client_order_id:
            del holders[(tx.wallet.lower(), tx.nonce)]

    def _held(self) -> dict[tuple[str, int], str]:
        if self._holders is None:  # the undecided orders' entries, as the journal holds them
            self._holders = {}
            for flight in self.in_flight():
                for rec in self._queued(flight.spec.client_order_id, every=True):
                    self._holders[(rec.wallet.lower(), rec.nonce)] = rec.client_order_id
        return self._holders

    def in_flight(self) -> list[InFlight]:
        out = []
        for coid, order in sorted(self.orders().orders.items()):
            if order.spec.venue != self.venue or not undecided(order.status, order.reason):
                continue
            txs = tuple(self._signed(coid))
            queued = tuple(q for q in self._queued(coid) if q.index >= len(txs))[-1:]
            if txs or queued:
                every = list(self._queued(coid, every=True))
                approval = next((json.loads(q.request).get("approval") for q in reversed(every)
                                 if q.route == "/v1/sign"), None)  # fmt: skip
                out.append(InFlight(order.spec, order.replacements, txs, queued, len(every),
                                    approval))  # fmt: skip
        return out

    def _queued(self, coid: str, *, every: bool = False) -> Iterator[QueuedTx]:
        """The order's queue entries (with `every`), else those whose signature the journal
        does not hold."""
        entry = 0
        while (rec := self.journal.get(queued_key(coid, entry))) is not None:
            event = rec.event
            assert isinstance(event, OrderTxQueued), rec.key
            if every or self.journal.get(sent_key(coid, event.index)) is None:
                yield QueuedTx(coid, entry, event.index, event.kind, event.wallet, event.nonce,
                               event.route, event.request)  # fmt: skip
            entry += 1

    def _signed(self, coid: str) -> Iterator[SignedTx]:
        index = 0
        while (rec := self.journal.get(sent_key(coid, index))) is not None:
            event = rec.event
            assert isinstance(event, OrderTxSigned), rec.key
            yield SignedTx(coid, index, event.kind, event.nonce, event.tx_hash,
                           bytes.fromhex(event.raw_tx.removeprefix("0x")), rec.position)  # fmt: skip
            index += 1
