"""The risk domain's plain enums: order sides and types, the desk's trading state, verdicts.

They live apart from `models` (pydantic, numpy) so that the command line can offer them as
option choices without importing the models; `models` re-exports them.
"""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class OrderType(StrEnum):
    LIMIT = "LIMIT"
    MARKET = "MARKET"


class TradingState(StrEnum):
    """The desk's kill-switch state."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    """Only orders that shrink |position| without flipping its sign pass."""
    HALTED = "HALTED"


class VerdictKind(StrEnum):
    APPROVE = "APPROVE"
    REJECT = "REJECT"
    FLAG_FOR_REVIEW = "FLAG_FOR_REVIEW"
