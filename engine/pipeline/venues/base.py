"""The venue interface every venue implements, and what a venue reports back.

Order send (stage 4) hands a venue an `OrderSpec` and never waits for confirmation: `submit`
returns once the order has left (for a chain venue: once the signed transaction was broadcast),
and everything the venue says afterwards — acks, rejects, fills, cancels — arrives as
`VenueReport`s on `reports()`, consumed by their own task, which journals them. `query` answers
a status question about one order (the timeout path asks it a bounded number of times);
`balances` and `open_orders` are what reconciliation compares the book with.
A venue that can lose fills in transit also implements `ResendsFills`.

The client order id is the idempotency key end to end: `submit` of an id the venue already holds
must not create a second order (it returns that order's `Submitted` again, with `duplicate`).

Reports are plain frozen dataclasses (the venue's wire shapes stay in each venue's module);
quantities are asset units and prices USD, as Decimals.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, runtime_checkable

from ...journal.events import OrderSpec
from ...risk.models import Side


class VenueError(Exception):
    """A venue call failed (network, node, protocol); `retryable` says whether a retry may help."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class VenueStatus(StrEnum):
    """An order's status as a venue reports it (ccxt's unified statuses, plus PARTIAL)."""

    OPEN = "OPEN"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    UNKNOWN = "UNKNOWN"
    """The venue has never seen this client order id."""


@dataclass(frozen=True, slots=True)
class Submitted:
    """`submit`'s answer: the order left (an ack may or may not have come back yet)."""

    client_order_id: str
    venue_order_id: str
    """'' when the venue assigns its id only in the ack."""
    duplicate: bool = False
    """The venue already held this client order id: no second order was made."""


@dataclass(frozen=True, slots=True)
class Ack:
    client_order_id: str
    venue_order_id: str
    venue_time_ns: int = 0


@dataclass(frozen=True, slots=True)
class Reject:
    client_order_id: str
    reason: str
    """A stable code, e.g. 'VENUE_REJECTED', 'SIMULATION_REVERTED', 'INSUFFICIENT_BALANCE'."""
    detail: str
    venue_time_ns: int = 0


@dataclass(frozen=True, slots=True)
class Fill:
    client_order_id: str
    """'' when the venue did not say (an unknown fill: quarantined by stage 5)."""
    venue_order_id: str
    fill_id: str
    """The venue's trade id; '' where it has none (then `fill_seq` identifies the fill)."""
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal = Decimal(0)
    fee_currency: str = "USDC"
    fill_seq: int = 0
    """1-based fill number within the order, where the venue has no fill id."""
    venue_time_ns: int = 0


@dataclass(frozen=True, slots=True)
class Canceled:
    client_order_id: str
    reason: str = ""
    venue_time_ns: int = 0


@dataclass(frozen=True, slots=True)
class Replaced:
    """A chain venue re-sent a stuck transaction (same nonce, higher fee): the order's venue id
    is now `venue_order_id` (journaled as OrderReplaced)."""

    client_order_id: str
    previous_venue_order_id: str
    venue_order_id: str
    detail: str
    venue_time_ns: int = 0


@dataclass(frozen=True, slots=True)
class OrderReport:
    """One order as the venue sees it now (`query`, `open_orders`)."""

    client_order_id: str
    venue_order_id: str
    status: VenueStatus
    symbol: str = ""
    side: Side | None = None
    quantity: Decimal = Decimal(0)
    filled: Decimal = Decimal(0)
    average_price: Decimal | None = None


VenueReport = Ack | Reject | Fill | Canceled | OrderReport | Replaced


@runtime_checkable
class Venue(Protocol):
    """What order send, fills and reconciliation need from a venue."""

    @property
    def name(self) -> str: ...

    async def connect(self) -> None:
        """Open connections; idempotent. Raises VenueError when the venue cannot be reached."""

    async def submit(self, order: OrderSpec) -> Submitted:
        """Send an order without waiting for its confirmation (see the module docstring)."""

    async def cancel(self, client_order_id: str) -> None:
        """Ask the venue to cancel; the answer comes as a `Canceled` (or a fill) report."""

    async def query(self, client_order_id: str) -> OrderReport:
        """The order's status now (UNKNOWN if the venue never saw the id)."""

    def reports(self) -> AsyncIterator[VenueReport]:
        """Every report from the venue, in the order received (duplicates included: the
        consumer dedupes). A venue that gives up for good (a reconnect refused for a reason no
        retry changes) ends it by raising that non-retryable VenueError."""

    async def balances(self) -> Mapping[str, Decimal]:
        """The account's holdings at the venue per symbol (the quote asset included), for
        reconciliation."""

    async def open_orders(self) -> list[OrderReport]:
        """Orders the venue holds open for this account (reconciliation after a restart)."""

    async def healthy(self) -> bool:
        """A cheap probe: can an order be sent now?"""

    async def close(self) -> None:
        """Release connections and stop `reports()`."""


@runtime_checkable
class ResendsFills(Protocol):
    """An optional capability: a venue whose fills can be lost on the way (a push over a
    socket) and asked for again. Order send calls it when a status answer says an order has
    filled more than the journal holds; the resent fills come on `reports()` (repeats of fills
    already applied dedupe by their key)."""

    async def resend_fills(self) -> int:
        """Ask the venue to send again the fills this client may have missed; returns how many
        it resent (0 where nothing can have been missed)."""
