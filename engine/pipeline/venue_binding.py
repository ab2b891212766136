"""Which venue a journal trades on, and the refusal to continue it on another.

A journal's positions are its venue's: the paper book of a paper run, one exchange account's
fills, one wallet's swaps on one chain. A run on another venue continuing it would fold both
into one book (and reconcile one venue's balances against the other's fills). So the first
start journals what the run trades on (`VenueBound`, key 'run:venue') and every later start
compares before anything else is appended: a difference stops the run, naming both and the fix.
A journal written before `VenueBound` existed is judged by what it holds: its first order's
venue, or else a paper fill.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..journal.base import Journal
from ..journal.events import Draft, OrderSubmitted, PaperFill, VenueBound
from .venues.base import Venue
from .venues.factory import VenueConfigError

if TYPE_CHECKING:
    from .run_config import VenueSection

STREAM, KEY = "run", "run:venue"


class JournalVenueMismatch(VenueConfigError):
    """The journal was written by a run on another venue (the message names both)."""


def binding_of(section: VenueSection, venue: Venue | None) -> VenueBound:
    """What this run trades on: the venue kind, and the account (simex) or chain and wallet
    (uniswap) its positions belong to."""
    if section.kind == "simex":
        return VenueBound(kind="simex", account=section.simex.account)
    if section.kind == "uniswap":
        from .venues.uniswap import UniswapVenue

        assert isinstance(venue, UniswapVenue)  # the factory built it from this section
        return VenueBound(kind="uniswap", chain_id=venue.addresses.chain_id,
                          wallet=venue.signer.address)  # fmt: skip
    return VenueBound(kind="paper")


def describe(bound: VenueBound) -> str:
    if bound.kind == "simex":
        return f"simex (account {bound.account!r})"
    if bound.kind == "uniswap":
        return f"uniswap (wallet {bound.wallet} on chain {bound.chain_id})"
    return "paper (fills at the quote)"


def same_venue(a: VenueBound, b: VenueBound) -> bool:
    return (a.kind, a.account, a.chain_id, a.wallet.lower()) == (
        b.kind, b.account, b.chain_id, b.wallet.lower()
    )  # fmt: skip


def refusal(journal_path: Path, kind: str, journaled: str, current: VenueBound) -> str:
    """The error: both venues, and the two ways out."""
    again = _AGAIN.get(kind, f"--venue {kind}")
    return (
        f"{journal_path}: this journal was written trading on {journaled}, this run trades on "
        f"{describe(current)}: a journal's positions are one venue's, so give this run a "
        f"journal of its own ([run] journal), or continue this one on {journaled} ({again})"
    )


_AGAIN = {"paper": "--venue paper", "simex": "--venue simex, the same [venue.simex] account",
          "uniswap": "--venue uniswap, the same chain and key"}  # fmt: skip


def bind(journal: Journal, current: VenueBound, *, journal_path: Path, now_ns: int) -> list[Draft]:
    """The `VenueBound` draft for a journal that has none yet ([] when it has this one);
    JournalVenueMismatch when the journal trades on another venue."""
    found = journal.get(KEY)
    if found is not None:
        assert isinstance(found.event, VenueBound)
        if not same_venue(found.event, current):
            was = found.event
            raise JournalVenueMismatch(refusal(journal_path, was.kind, describe(was), current))
        return []
    before = _legacy_venue(journal)
    if before is not None and before != current.kind:
        raise JournalVenueMismatch(refusal(journal_path, before, before, current))
    return [Draft(STREAM, KEY, current, now_ns, now_ns)]


def _legacy_venue(journal: Journal) -> str | None:
    """The venue of a journal without `VenueBound`: its first order's, else 'paper' if it holds
    a paper fill, else None (nothing traded: any venue may continue it)."""
    for rec in journal.read(0, streams={"orders"}, limit=1):
        if isinstance(rec.event, OrderSubmitted):
            return rec.event.order.venue
    for rec in journal.iter_from(0, streams={"pretrade"}):
        if isinstance(rec.event, PaperFill):
            return "paper"
    return None
