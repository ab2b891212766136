"""Stage 3, pre-trade: every intent goes through `RiskEngine.check`; paper mode fills approvals.

The gate judges the book the monitor marks (the monitor's `PaperBook`: positions, cash from the
starting equity and the fills, the latest mids) in the monitor's trading state, so a breaker
that trips on a mark refuses the very next intent (`RiskEngine.check` reports TRADING_HALTED or
REDUCING_ONLY). The check's clock is the intent's event time, never the wall clock, so a replay
decides exactly as the live run did. Rate limits count the desk's earlier approvals, also from
the journal.

Where an intent is decided: one the signal stage derives in the pipeline's fold is decided in
that same fold, on the state its quote left (`decide_derived`), so the verdict is appended with
the intent in one transaction and the quote's verdict waits for no second commit; the intent's
own record is skipped when its position comes (its client order id is kept in `decided` until
then, and snapshotted). Any other intent (a stop-loss exit order send journals, a signal stage
of its own process) is decided when its record is folded. Both are functions of the journal, so
a replay decides exactly as the live run did.

Outputs: `VerdictIssued` (key 'verdict:<client order id>', every reason kept) and, for an
approval, in paper mode a `PaperFill` at the quote the intent would cross (key
'paperfill:<client order id>'), else the write-ahead `OrderSubmitted` (key 'order:<client order
id>') that order send sends to the venue.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from decimal import Decimal

from ..journal.events import (
    EVENT_ADAPTER,
    Draft,
    IntentEmitted,
    OrderFilled,
    PaperFill,
    Quote,
    Recorded,
    VerdictIssued,
)
from ..risk.checks import RiskEngine
from ..risk.models import TradingState, VerdictKind
from .orders import drafts_for_verdict
from .paper import PaperBook, is_market_data, paper_fill_draft

_NS = 1_000_000_000


class PreTradeStage:
    """The gate between signal and order send; `on_event` is pure given its state."""

    def __init__(
        self,
        engine: RiskEngine,
        book: PaperBook,
        *,
        account: str,
        quote_price: Decimal = Decimal(1),
        paper: bool = True,
        venue: str = "paper",
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.engine, self.book, self.clock = engine, book, clock
        self.account, self.quote_price, self.paper = account, quote_price, paper
        self.venue = venue
        """Where approvals go when not in paper mode (the OrderSubmitted's venue)."""
        self.quotes: dict[str, Quote] = {}
        window = engine.policy.rate_window_seconds
        self._window = window
        self.approved_at: deque[int] = deque()
        """Unix seconds of approvals inside the rate window (the policy's rate limit)."""
        self.verdicts = {kind: 0 for kind in VerdictKind}
        self.decided_ns = 0
        """`clock()` when the last verdict was decided (before its drafts: the tick benchmark's
        clock stops here)."""
        self.decided: set[str] = set()
        """Client order ids decided with their cause whose IntentEmitted is not folded yet."""

    def on_event(self, recorded: Recorded, trading_state: TradingState) -> list[Draft]:
        event = recorded.event
        if isinstance(event, Quote) and is_market_data(recorded):
            self.quotes[event.symbol] = event
        elif isinstance(event, PaperFill | OrderFilled):
            # The fill has moved the book (the monitor's, folded first): build the gate's
            # portfolio now, as the fill is folded, not on the next quote's way to its verdict.
            self.book.portfolio(self.account, self.engine.policy.quote_symbol)
        elif isinstance(event, IntentEmitted):
            coid = event.intent.client_order_id
            if coid in self.decided:
                self.decided.discard(coid)  # decided in its cause's fold (`decide_derived`)
                return []
            return self._decide(event, recorded, trading_state)
        return []

    def decide_derived(self, draft: Draft, trading_state: TradingState) -> list[Draft]:
        """Decide an intent the same fold derived, before it is journaled (see the docstring)."""
        event = draft.event
        if not isinstance(event, IntentEmitted):
            return []
        self.decided.add(event.intent.client_order_id)
        return self._decide(event, draft, trading_state)

    def _decide(
        self, event: IntentEmitted, recorded: Recorded | Draft, trading_state: TradingState
    ) -> list[Draft]:
        intent = event.intent
        now = recorded.event_time_ns // _NS
        while self.approved_at and self.approved_at[0] <= now - self._window:
            self.approved_at.popleft()
        inputs = self.book.check_inputs(
            intent,
            account=self.account,
            quote_symbol=self.engine.policy.quote_symbol,
            trading_state=trading_state,
            now=now,
            recent_order_times=tuple(self.approved_at),
            quote_price=self.quote_price,
        )
        verdict = self.engine.check(intent, *inputs)
        self.decided_ns = self.clock()
        self.verdicts[verdict.kind] += 1
        key = f"verdict:{intent.client_order_id}"
        drafts = [Draft(stream="pretrade", key=key, event=VerdictIssued(verdict=verdict),
                        event_time_ns=recorded.event_time_ns, recv_time_ns=recorded.recv_time_ns,
                        causation_id=recorded.key)]  # fmt: skip
        if verdict.approved:
            self.approved_at.append(now)
            quote = self.quotes.get(intent.symbol)
            if not self.paper:  # the write-ahead order; order send sends it once it is journaled
                drafts += drafts_for_verdict(drafts[0], event, self.venue)
            elif quote is not None:
                fill = paper_fill_draft(intent, verdict, quote, verdict_key=key,
                                        event_time_ns=recorded.event_time_ns,
                                        recv_time_ns=recorded.recv_time_ns)  # fmt: skip
                if fill is not None:
                    drafts.append(fill)
        return drafts

    # -- snapshots ------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        return json.dumps({
            "version": 2,
            "decided": sorted(self.decided),
            "quotes": {s: q.model_dump(mode="json") for s, q in sorted(self.quotes.items())},
            "approved_at": list(self.approved_at),
            "verdicts": {k.value: n for k, n in self.verdicts.items()},
        }, sort_keys=True).encode()  # fmt: skip

    def restore(self, data: bytes) -> None:
        state = json.loads(data)
        if state.get("version") != 2:
            raise ValueError(f"pre-trade snapshot version {state.get('version')!r} is not 2")
        self.decided = {str(c) for c in state["decided"]}
        self.quotes = {}
        for symbol, raw in state["quotes"].items():
            quote = EVENT_ADAPTER.validate_python(raw)
            if not isinstance(quote, Quote):
                raise ValueError(f"pre-trade snapshot holds a {quote.type} as {symbol}'s quote")
            self.quotes[symbol] = quote
        self.approved_at = deque(int(t) for t in state["approved_at"])
        self.verdicts = {VerdictKind(k): int(n) for k, n in state["verdicts"].items()}
