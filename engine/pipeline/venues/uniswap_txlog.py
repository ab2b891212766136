"""The Uniswap venue's write-ahead log of signed transactions, kept in the run's journal.

Every transaction the venue signs for an order (the swap, each same-nonce replacement, the
self-transfer taking the nonce) is journaled as `OrderTxSigned` (stream 'orders', key
'sent:<client order id>:<n>') before it is broadcast, so a process killed at any moment leaves
no transaction on chain that the journal does not name. At connect, a restarted venue asks
`in_flight` for the orders still undecided with all their signed transactions, adopts them,
polls every hash and rebroadcasts the same bytes: an order is never signed again under another
nonce, so no swap is sent twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

from ...journal.base import Journal
from ...journal.events import Draft, OrderSpec, OrderTxSigned
from ..orders import FINAL, Orders, OrderStatus

TxKind = Literal["SWAP", "REPLACEMENT", "CANCEL", "ABANDON"]


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


class TxLog(Protocol):
    def write(self, tx: SignedTx) -> None:
        """Record `tx` durably before returning (the venue broadcasts only after)."""

    def in_flight(self) -> list[InFlight]:
        """The venue's orders the journal holds undecided that have signed transactions."""


def sent_key(client_order_id: str, index: int) -> str:
    return f"sent:{client_order_id}:{index}"


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

    def write(self, tx: SignedTx) -> None:
        draft = tx_draft(tx, self.venue, self.clock())
        if self._append is not None:
            self._append([draft])
        else:
            self.journal.append([draft])

    def in_flight(self) -> list[InFlight]:
        out = []
        for coid, order in sorted(self.orders().orders.items()):
            if order.spec.venue != self.venue or not undecided(order.status, order.reason):
                continue
            txs = tuple(self._signed(coid))
            if txs:
                out.append(InFlight(order.spec, order.replacements, txs))
        return out

    def _signed(self, coid: str) -> Iterator[SignedTx]:
        index = 0
        while (rec := self.journal.get(sent_key(coid, index))) is not None:
            event = rec.event
            assert isinstance(event, OrderTxSigned), rec.key
            yield SignedTx(coid, index, event.kind, event.nonce, event.tx_hash,
                           bytes.fromhex(event.raw_tx.removeprefix("0x")), rec.position)  # fmt: skip
            index += 1
