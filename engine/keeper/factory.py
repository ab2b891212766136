"""Assemble a keeper from a vault handle, the books it can see and where it keeps its state."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from zkrisk.prover.backends import ProvingBackend

from ..risk.models import Asset
from .books import BookFile
from .keeper import Keeper, KeeperSettings
from .logs import JsonLog
from .metrics import KeeperMetrics
from .store import PendingStore
from .vault_access import VaultHandle, slot_assets


def build_keeper(
    handle: VaultHandle,
    books: Sequence[BookFile],
    assets: Sequence[Asset],
    backend: ProvingBackend,
    state_db: Path,
    *,
    settings: KeeperSettings | None = None,
    metrics: KeeperMetrics | None = None,
    log: JsonLog | None = None,
) -> Keeper:
    """A keeper for `handle`'s vault, signing with its client's account."""
    return Keeper(
        vault=handle.client,
        feeds=handle.feeds,
        artifacts=handle.artifacts,
        assets=slot_assets(handle.record, assets),
        books=list(books),
        backend=backend,
        store=PendingStore(state_db),
        metrics=metrics or KeeperMetrics(),
        log=log or JsonLog(),
        settings=settings or KeeperSettings(),
    )
