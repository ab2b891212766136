"""Drafts for the journal tests (realistic quotes and derived events, keyed by convention), and
the `backend` fixture: each journal backend, for the contract tests that run on both."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Union

import pytest

from zkrisk.engine.journal.events import Draft, Heartbeat, Quote
from zkrisk.engine.journal.jetstream import JetStreamJournal
from zkrisk.engine.journal.sqlite import SQLiteJournal
from zkrisk.engine.natsio.server import NatsNode, start_nats

AnyJournal = Union[SQLiteJournal, JetStreamJournal]  # noqa: UP007 (a runtime alias)
_prefixes = itertools.count(1)


@dataclass(frozen=True)
class Backend:
    """One journal backend: `open()` opens the same journal again (a reopen, or a second writer
    as another process would open it)."""

    name: str
    open: Callable[[], AnyJournal]


@pytest.fixture(scope="module")
def nats_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsNode]:
    """One real nats-server per test module (start-up is ~0.1 s; a test gets a fresh prefix)."""
    node = start_nats(tmp_path_factory.mktemp("nats"))
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(params=["sqlite", "jetstream"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        path = tmp_path / "journal.db"
        return Backend("sqlite", lambda: SQLiteJournal(path))
    node: NatsNode = request.getfixturevalue("nats_module")
    prefix = f"t{next(_prefixes)}"
    return Backend("jetstream", lambda: JetStreamJournal(node.url, prefix=prefix))


T0 = 1_700_000_000_000_000_000


def quote(n: int, *, source: str = "feed", symbol: str = "ETH") -> Draft:
    """The n-th quote of a source: key md:<source>:<symbol>:<n>, stream md.<source>."""
    event = Quote(source=source, symbol=symbol, bid=Decimal("3000.10") + n,
                  ask=Decimal("3000.20") + n, bid_size=Decimal("1.5"), ask_size=Decimal("2"),
                  source_seq=n)  # fmt: skip
    return Draft(f"md.{source}", f"md:{source}:{symbol}:{n}", event, T0 + n, T0 + n + 7)


def heartbeat(component: str, ns: int, *, cause: str | None = None) -> Draft:
    return Draft("monitor", f"hb:{component}:{ns}", Heartbeat(component=component), ns, ns, cause)
