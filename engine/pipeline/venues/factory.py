"""The venue a run config names, built (the one place that knows every venue's settings)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .base import Venue

if TYPE_CHECKING:
    from ..run_config import VenueSection


class VenueConfigError(ValueError):
    """The run config's [venue] cannot be used as written (the message says the fix)."""


def make_venue(section: VenueSection) -> Venue:
    """The venue of `[venue]` (paper mode has none: the caller does not ask)."""
    if section.kind == "simex":
        from .simex import SimexVenue

        s = section.simex
        token = None
        if s.token_env is not None:
            token = os.environ.get(s.token_env, "").strip()
            if not token:
                raise VenueConfigError(f"[venue.simex] token_env: set ${s.token_env} to the "
                                       f"account's API token (or remove token_env)")  # fmt: skip
        return SimexVenue(s.url, name="simex", token=token, account=s.account)
    raise VenueConfigError(f"[venue] kind {section.kind!r} has no order send: use 'simex' or "
                           "'paper'")  # fmt: skip
