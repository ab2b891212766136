"""The kill switch: one flag that halts every approval at once, and its bearer-token guard."""

from __future__ import annotations

import hmac
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KillSwitchState:
    engaged: bool
    changed_at: int | None  # unix seconds
    reason: str


RELEASED = KillSwitchState(engaged=False, changed_at=None, reason="")


def bearer_token(authorization: str | None) -> str | None:
    """The token of an 'Authorization: Bearer <token>' header, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def token_matches(presented: str | None, expected: str) -> bool:
    """Constant-time comparison, so response timing does not leak how much of a guess matched."""
    if presented is None or not expected:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())
