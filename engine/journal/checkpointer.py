"""The journal's WAL checkpoints, run from a thread of their own instead of inside appends.

The thread is shared with the audit log: see `zkrisk.engine.wal_db` (this name stays for the
journal's imports).
"""

from __future__ import annotations

from ..wal_db import FALLBACK_PAGES, Checkpointer

__all__ = ["FALLBACK_PAGES", "Checkpointer"]
