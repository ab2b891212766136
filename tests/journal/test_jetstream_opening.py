"""`open_journal(spec)`: a path or sqlite:/// opens SQLite, nats:// the JetStream journal, and
anything else is refused naming the accepted forms."""

from __future__ import annotations

from pathlib import Path

import pytest

from zkrisk.engine.journal.base import JournalError
from zkrisk.engine.journal.jetstream import JetStreamJournal
from zkrisk.engine.journal.opening import open_journal
from zkrisk.engine.journal.sqlite import SQLiteJournal
from zkrisk.engine.natsio.server import NatsNode

from ..nats_fixtures import nats_node
from .journal_fixtures import quote

__all__ = ["nats_node"]


def test_a_path_and_a_sqlite_url_open_the_same_sqlite_file(tmp_path: Path) -> None:
    with open_journal(str(tmp_path / "j.db")) as j:  # type: ignore[attr-defined]
        assert isinstance(j, SQLiteJournal)
        j.append([quote(1)])
    with open_journal(f"sqlite:///{tmp_path / 'j.db'}") as j:  # type: ignore[attr-defined]
        assert isinstance(j, SQLiteJournal) and j.head() == 1


def test_a_nats_url_opens_the_jetstream_journal_under_its_prefix(nats_node: NatsNode) -> None:
    with open_journal(f"{nats_node.url}/desk1") as j:  # type: ignore[attr-defined]
        assert isinstance(j, JetStreamJournal) and j.subjects.prefix == "desk1"
        j.append([quote(1)])
    with open_journal(nats_node.url) as other:  # type: ignore[attr-defined]
        assert other.head() == 0  # the default prefix is another journal


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "is empty"),
        ("kafka://broker:9092", "unknown scheme 'kafka'"),
        ("sqlite:///", "names no file"),
        ("nats://127.0.0.1:4222/bad.prefix", "prefix 'bad.prefix' must be"),
    ],
)
def test_a_spec_of_no_accepted_form_says_which_forms_are(spec: str, message: str) -> None:
    with pytest.raises(JournalError, match=message):
        open_journal(spec)
