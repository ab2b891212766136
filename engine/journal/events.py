"""The journal's typed events: one frozen pydantic model per kind, tagged by `type`.

An event is the payload; `Draft` wraps it with what the writer knows (stream, idempotency key,
causation, event and receive time) and `Recorded` adds what the journal assigns on append (the
per-stream sequence, the journal-wide position and the hash-chain link). Every stage reads
`Recorded` and appends `Draft`s; all state is a projection of the events (ARCHITECTURE.md, "The
pipeline").

Numbers are exact Decimals (serialised as strings), never floats: a replay must reproduce a
projection bit for bit. `EVENT_TYPES` maps each tag to its model, so adding a kind is adding a
class to `Event`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ..risk.models import (
    SYMBOL_TEXT,
    ExactDecimal,
    OrderIntent,
    Side,
    Symbol,
    TradingState,
    Verdict,
    assembled,
)


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- stage 1: ingest -------------------------------------------------------------------------


class Quote(_Event):
    """A validated top-of-book quote (bid < ask, sizes > 0, finite)."""

    type: Literal["Quote"] = "Quote"
    source: str
    symbol: Symbol
    bid: ExactDecimal
    ask: ExactDecimal
    bid_size: ExactDecimal
    ask_size: ExactDecimal
    source_seq: int | None = None
    """The source's own sequence number, where it has one."""


_QUOTE_GIVEN = frozenset({"source", "symbol", "bid", "ask", "bid_size", "ask_size", "source_seq"})


def checked_quote(
    source: str, symbol: str, bid: Decimal, ask: Decimal, bid_size: Decimal, ask_size: Decimal,
    source_seq: int,
) -> Quote | None:  # fmt: skip
    """`Quote(...)` of values its validators pass unchanged, built without running them
    (ingest's fast path for a clean quote has checked each: it sits on the quote → verdict
    path, and validating was a fifth of parsing); None when any value is not plainly valid,
    for the validator to refuse or accept as it would."""
    if not (
        type(source) is str
        and type(symbol) is str
        and SYMBOL_TEXT.fullmatch(symbol)
        and all(type(d) is Decimal and d.is_finite() for d in (bid, ask, bid_size, ask_size))
        and type(source_seq) is int
    ):
        return None
    fields = {"type": "Quote", "source": source, "symbol": symbol, "bid": bid, "ask": ask,
              "bid_size": bid_size, "ask_size": ask_size, "source_seq": source_seq}  # fmt: skip
    return assembled(Quote, fields, set(_QUOTE_GIVEN), None)


class Trade(_Event):
    """A validated public trade print."""

    type: Literal["Trade"] = "Trade"
    source: str
    symbol: Symbol
    price: ExactDecimal
    size: ExactDecimal
    side: Side | None = None
    source_seq: int | None = None


class OracleRound(_Event):
    """An on-chain price-feed round (Chainlink AggregatorV3 shape), read from a node."""

    type: Literal["OracleRound"] = "OracleRound"
    source: str
    symbol: Symbol
    price: ExactDecimal
    round_id: int = Field(ge=0)
    updated_at: int = Field(ge=0)
    """Unix seconds, as the feed reports it."""


class Quarantined(_Event):
    """A message refused by ingest (or a fill refused by stage 5), kept with its reason."""

    type: Literal["Quarantined"] = "Quarantined"
    source: str
    reason: str
    """A stable code, e.g. 'BID_NOT_BELOW_ASK', 'STALE', 'UNKNOWN_SYMBOL', 'MALFORMED'."""
    detail: str
    """One human sentence with the values involved."""
    raw: str
    """The message as received (truncated to a bounded length by the writer)."""
    symbol: str | None = None
    """The symbol the message named, where it could be read (any text: it may be unknown)."""
    source_seq: int | None = None
    """The sequence it carried, where readable: it is consumed, so a restart does not wait on it."""


class FeedGap(_Event):
    """A source skipped sequence numbers: `expected` was due, `received` arrived."""

    type: Literal["FeedGap"] = "FeedGap"
    source: str
    symbol: Symbol | None = None
    expected: int
    received: int


class FeedStatus(StrEnum):
    HEALTHY = "HEALTHY"
    DEGRADED = "DEGRADED"
    """Usable with care: gaps past the threshold, or the secondary source in use."""
    DOWN = "DOWN"


class FeedHealth(_Event):
    """A source's health changed (or ingest failed over to another source)."""

    type: Literal["FeedHealth"] = "FeedHealth"
    source: str
    status: FeedStatus
    reason: str
    active_source: str
    """The source ingest reads from after this change."""


# --- stage 2: signal -------------------------------------------------------------------------


class IntentEmitted(_Event):
    """A strategy's order intent (the pre-trade gate decides on it next)."""

    type: Literal["IntentEmitted"] = "IntentEmitted"
    strategy_id: str
    intent: OrderIntent
    reference_price: ExactDecimal
    """The mid the strategy saw when it decided (for slippage and paper fills)."""


class StrategyDisabled(_Event):
    type: Literal["StrategyDisabled"] = "StrategyDisabled"
    strategy_id: str
    reason: str
    detail: str


# --- stage 3: pre-trade ----------------------------------------------------------------------


class VerdictIssued(_Event):
    """The pre-trade gate's verdict on an intent (`RiskEngine.check`), every reason kept."""

    type: Literal["VerdictIssued"] = "VerdictIssued"
    verdict: Verdict


class PaperFill(_Event):
    """Paper mode: an approved intent filled at the quote it would have crossed (no venue)."""

    type: Literal["PaperFill"] = "PaperFill"
    client_order_id: str
    strategy_id: str
    symbol: Symbol
    side: Side
    quantity: ExactDecimal
    price: ExactDecimal


# --- stage 4: order send ---------------------------------------------------------------------


class OrderSpec(_Event):
    """What is sent to a venue for one approved intent (the venue's order, before any ack).

    `client_order_id` is the intent's, and the idempotency key end to end: a venue that sees it
    twice (a retry after a crash) holds one order. Amounts are asset units and USD."""

    client_order_id: str = Field(min_length=1, max_length=64)
    strategy_id: str = ""
    venue: str
    """The venue's name in the run config (e.g. 'simex', 'uniswap')."""
    symbol: Symbol
    side: Side
    quantity: ExactDecimal = Field(gt=0)
    limit_price: ExactDecimal | None = Field(default=None, gt=0)
    """Worst acceptable price, USD (None: a market order bounded by `max_slippage_bps`)."""
    max_slippage_bps: int | None = Field(default=None, ge=0, le=10_000)
    reference_price: ExactDecimal = Field(gt=0)
    """The price the gate judged the order at (the base of the slippage bound)."""


class OrderSubmitted(_Event):
    """Written before the order goes out (write-ahead: a crash after this re-sends the same
    client order id, which the venue dedupes). Key 'order:<client order id>'."""

    type: Literal["OrderSubmitted"] = "OrderSubmitted"
    order: OrderSpec


class OrderAccepted(_Event):
    """The venue acknowledged the order (for a chain venue: the transaction was broadcast and
    its hash is known). Key 'ack:<client order id>'."""

    type: Literal["OrderAccepted"] = "OrderAccepted"
    client_order_id: str
    venue: str
    venue_order_id: str
    """The venue's id (the exchange's order id; a transaction hash on a chain)."""


class OrderRejected(_Event):
    type: Literal["OrderRejected"] = "OrderRejected"
    client_order_id: str
    venue: str
    reason: str
    """A stable code: 'SIMULATION_REVERTED', 'INSUFFICIENT_BALANCE', 'VENUE_REJECTED', ..."""
    detail: str


class OrderCancelRequested(_Event):
    type: Literal["OrderCancelRequested"] = "OrderCancelRequested"
    client_order_id: str
    venue: str
    reason: str


class OrderCanceled(_Event):
    """The venue confirmed the cancel (a late fill may still follow: see orders.TRANSITIONS)."""

    type: Literal["OrderCanceled"] = "OrderCanceled"
    client_order_id: str
    venue: str
    reason: str


class OrderRetried(_Event):
    type: Literal["OrderRetried"] = "OrderRetried"
    client_order_id: str
    venue: str
    attempt: int = Field(ge=1)
    reason: str


class OrderTimedOut(_Event):
    """No final answer after the bounded status queries: the order is final here (EXPIRED); a
    fill that still arrives is applied (late fill)."""

    type: Literal["OrderTimedOut"] = "OrderTimedOut"
    client_order_id: str
    venue: str
    queries: int = Field(ge=0)
    detail: str


class OrderReplaced(_Event):
    """A chain venue re-sent a stuck transaction with the same nonce and a higher fee."""

    type: Literal["OrderReplaced"] = "OrderReplaced"
    client_order_id: str
    venue: str
    previous_venue_order_id: str
    venue_order_id: str
    detail: str


class OrderTxSigned(_Event):
    """A chain venue signed a transaction for an order, journaled before it is broadcast: a
    restart knows every hash of the order that may be on chain, polls them all, and rebroadcasts
    these same bytes (never re-signs the order under another nonce). Key
    'sent:<client order id>:<n>' (n = 0 for the first signature, then one more per signature)."""

    type: Literal["OrderTxSigned"] = "OrderTxSigned"
    client_order_id: str
    venue: str
    kind: Literal["SWAP", "REPLACEMENT", "CANCEL", "ABANDON"]
    """The order's swap, a re-sent copy at a higher fee, or the self-transfer taking its nonce."""
    nonce: int = Field(ge=0)
    tx_hash: str
    raw_tx: str
    """The signed transaction, 0x-hex."""


class OrderTxQueued(_Event):
    """A chain venue's transaction for an order, approved and waiting for the signer process (the
    private queue), journaled before the signer is asked: a restart resumes it with the very same
    request (the signer answers a retry with the same signature). Key
    'approved:<client order id>:<n>' (the order's n-th entry; a refused one keeps its n)."""

    type: Literal["OrderTxQueued"] = "OrderTxQueued"
    client_order_id: str
    venue: str
    kind: Literal["SWAP", "REPLACEMENT", "CANCEL", "ABANDON"]
    wallet: str
    nonce: int = Field(ge=0)
    """The wallet nonce: one order at a time holds a wallet's nonce in the queue."""
    index: int = Field(ge=0)
    """The n of the `OrderTxSigned` its signature is journaled as."""
    route: Literal["/v1/sign", "/v1/sign-call"]
    request: str
    """The signer request's JSON body ({approval, transaction} or {wallet, transaction})."""


class VenueHealth(_Event):
    """A venue left routing (failed repeatedly) or came back (a health probe passed)."""

    type: Literal["VenueHealth"] = "VenueHealth"
    venue: str
    up: bool
    reason: str


class VenueBound(_Event):
    """What a journal's run trades on, journaled at its first start (stream 'run', key
    'run:venue'): a journal's book is its venue's, so a run on another venue (account, chain or
    wallet) refuses to continue it (engine/pipeline/venue_binding.py)."""

    type: Literal["VenueBound"] = "VenueBound"
    kind: Literal["paper", "simex", "uniswap"]
    account: str = ""
    """simex: the exchange account."""
    chain_id: int = Field(default=0, ge=0)
    """uniswap: the chain."""
    wallet: str = ""
    """uniswap: the trading wallet's address."""


# --- stage 5: fills and positions ------------------------------------------------------------


class OrderFilled(_Event):
    """A fill from a venue, matched to its order. Key 'fill:<venue>:<fill id>' (or
    'fill:<venue>:<client order id>:<fill sequence>' where the venue has no fill id), so a
    duplicate fill is a no-op; unknown fills and overfills are `Quarantined` instead."""

    type: Literal["OrderFilled"] = "OrderFilled"
    client_order_id: str
    venue: str
    fill_id: str
    venue_order_id: str = ""
    strategy_id: str = ""
    symbol: Symbol
    side: Side
    quantity: ExactDecimal = Field(gt=0)
    price: ExactDecimal = Field(gt=0)
    fee: ExactDecimal = Field(default=Decimal(0), ge=0)
    """In `fee_currency` (USD for the quote asset)."""
    fee_currency: str = "USDC"
    venue_time_ns: int = Field(default=0, ge=0)
    """When the venue says it filled (0: unknown)."""


class ReconcileMismatch(_Event):
    """The book and the venue disagree on a position by more than the tolerance."""

    type: Literal["ReconcileMismatch"] = "ReconcileMismatch"
    venue: str
    symbol: str
    book_quantity: ExactDecimal
    venue_quantity: ExactDecimal
    tolerance: ExactDecimal
    detail: str


class Reconciled(_Event):
    """The book and the venue agreed (every traded symbol within the tolerance) on the fills
    journaled up to `through_position`. Key 'reconciled:<venue>:<through_position>'. The book
    handed to the attester must come from a journal whose last reconciliation is one of these
    (engine/pipeline/book_handoff.py)."""

    type: Literal["Reconciled"] = "Reconciled"
    venue: str
    through_position: int = Field(ge=0)
    """The journal position of the last record the compared book folded."""
    book: dict[str, ExactDecimal]
    """Signed quantity per traded symbol, as the fills make it (and as the venue reported)."""
    tolerance: ExactDecimal


class BookAttested(_Event):
    """The reconciled book went to the attester, who signed its commitment (EIP-712), and the
    desk committed it on the vault with a proof of health. Key 'attested:<vault>:<sequence>'."""

    type: Literal["BookAttested"] = "BookAttested"
    venue: str
    through_position: int = Field(ge=0)
    """The reconciliation the book came from (`Reconciled.through_position`)."""
    chain_id: int
    vault: str
    account: str
    sequence: int = Field(ge=1)
    commitment: str
    """0x-hex Poseidon commitment (the book itself stays private)."""
    attester: str
    tx_hash: str


# --- stage 6: monitor ------------------------------------------------------------------------


class TradingStateChanged(_Event):
    type: Literal["TradingStateChanged"] = "TradingStateChanged"
    previous: TradingState
    current: TradingState
    reason: str
    """The breaker or command that moved it, e.g. 'DRAWDOWN', 'DAILY_LOSS', 'KILL_SWITCH'."""
    detail: str


class AlertSeverity(StrEnum):
    INFO = "INFO"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"


class Alert(_Event):
    type: Literal["Alert"] = "Alert"
    name: str
    """Stable, also the Prometheus label value, e.g. 'HeartbeatMissed', 'FeedDegraded'."""
    severity: AlertSeverity
    message: str
    component: str = ""


class Heartbeat(_Event):
    type: Literal["Heartbeat"] = "Heartbeat"
    component: str


class OperatorCommand(_Event):
    """A person's command to the monitor (stream 'control'): engage the kill switch, or
    resume trading to a lower state (the only way the trading state ever moves down)."""

    type: Literal["OperatorCommand"] = "OperatorCommand"
    command: Literal["KILL_SWITCH", "RESUME"]
    actor: str
    reason: str
    resume_to: TradingState = TradingState.ACTIVE
    """RESUME only: the state to return to (ACTIVE or REDUCING)."""


Event = Annotated[
    Quote
    | Trade
    | OracleRound
    | Quarantined
    | FeedGap
    | FeedHealth
    | IntentEmitted
    | StrategyDisabled
    | VerdictIssued
    | PaperFill
    | OrderSubmitted
    | OrderAccepted
    | OrderRejected
    | OrderCancelRequested
    | OrderCanceled
    | OrderRetried
    | OrderTimedOut
    | OrderReplaced
    | OrderTxSigned
    | OrderTxQueued
    | VenueHealth
    | VenueBound
    | OrderFilled
    | ReconcileMismatch
    | Reconciled
    | BookAttested
    | TradingStateChanged
    | Alert
    | Heartbeat
    | OperatorCommand,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
EVENT_TYPES: dict[str, type[_Event]] = {
    cls.model_fields["type"].default: cls
    for cls in (Quote, Trade, OracleRound, Quarantined, FeedGap, FeedHealth, IntentEmitted,
                StrategyDisabled, VerdictIssued, PaperFill, OrderSubmitted, OrderAccepted,
                OrderRejected, OrderCancelRequested, OrderCanceled, OrderRetried, OrderTimedOut,
                OrderReplaced, OrderTxSigned, OrderTxQueued, VenueHealth, VenueBound, OrderFilled,
                ReconcileMismatch, Reconciled, BookAttested,
                TradingStateChanged, Alert, Heartbeat, OperatorCommand)
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Draft:
    """An event as a writer hands it to `Journal.append`."""

    stream: str
    """e.g. 'md.<source>', 'signal', 'pretrade', 'orders', 'fills', 'monitor'."""
    key: str
    """Idempotency key, unique across the journal: appending a present key is a no-op."""
    event: Event
    event_time_ns: int
    """When it happened (the source's clock where it has one), unix ns."""
    recv_time_ns: int
    """When this process received it, unix ns."""
    causation_id: str | None = None
    """The key of the event that caused this one."""


class Recorded(NamedTuple):
    """An event as stored: a Draft plus what the journal assigned.

    A NamedTuple, not a frozen dataclass: immutable all the same, and the journal builds one
    per appended event, where a dataclass's `__init__` cost as much as SQLite's insert."""

    position: int
    """Journal-wide order, 1-based, gapless in commit order; cursors are positions."""
    stream: str
    sequence: int
    """Per-stream order, 1-based."""
    key: str
    event: Event
    event_time_ns: int
    recv_time_ns: int
    causation_id: str | None
    hash: str
    """The hash-chain link of the stored row that holds this event: over the previous row's
    link and the row (see `chain`; the SQLite journal stores a batch of events per row)."""
