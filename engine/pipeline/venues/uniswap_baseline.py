"""The wallet's holdings before the bot traded: what reconciliation measures the fills against.

A Uniswap wallet starts with funds (unlike an exchange account the bot opened), so its token
balances are not the fills' positions; the change since the start is. The start is written once,
at the first connect of a run's journal, to a JSON file beside it, and read back by every later
connect (a restart, `zkrisk reconcile`), so the change it gives is the change over the journal's
whole life. A file written for another wallet or chain is refused, naming both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from ...risk.models import ExactDecimal
from .base import VenueError


class Baseline(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    chain_id: int
    wallet: str
    balances: dict[str, ExactDecimal]
    """Symbol → the wallet's balance at the first connect, in asset units."""


def load_or_record(
    path: Path, *, chain_id: int, wallet: str, current: Mapping[str, Decimal]
) -> Baseline:
    """The baseline at `path`; when there is none, `current` becomes it (written there)."""
    if path.is_file():
        return read_baseline(path, chain_id=chain_id, wallet=wallet)
    baseline = Baseline(chain_id=chain_id, wallet=wallet, balances=dict(current))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(baseline.model_dump(mode="json"), indent=2) + "\n")
    return baseline


def read_baseline(path: Path, *, chain_id: int, wallet: str) -> Baseline:
    """The baseline at `path`, refused (VenueError) unless it is `wallet`'s on `chain_id`."""
    try:
        baseline = Baseline.model_validate_json(path.read_text())
    except ValidationError as exc:
        raise VenueError(f"{path}: not a balance baseline ({exc.error_count()} error(s)): "
                         "delete it to record a new one", retryable=False) from None  # fmt: skip
    if baseline.chain_id != chain_id or baseline.wallet.lower() != wallet.lower():
        raise VenueError(
            f"{path}: the baseline of wallet {baseline.wallet} on chain {baseline.chain_id}, but "
            f"the run trades wallet {wallet} on chain {chain_id}: point [venue.uniswap] baseline "
            "at another file (or delete this one, with the journal it belongs to)",
            retryable=False,
        )
    return baseline


def change_since(baseline: Baseline, current: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Each symbol's balance change since the baseline (a token not held then started at 0)."""
    return {s: q - baseline.balances.get(s, Decimal(0)) for s, q in current.items()}
