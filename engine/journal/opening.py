"""Open a journal from one spec string: a file (SQLite, the default) or a NATS JetStream URL.

Accepted forms:
- `path/to/journal.db` or `sqlite:///path/to/journal.db` (`sqlite:///` plus an absolute path
  is `sqlite:////abs/journal.db`; `sqlite:///build/j.db` is relative): the embedded SQLite
  journal (`sqlite.SQLiteJournal`);
- `nats://host:port` or `nats://host:port/prefix`: the JetStream journal
  (`jetstream.JetStreamJournal`), its stream and key names prefixed by `prefix` (default
  `zkrisk`), so several journals can share one server.

Every stage process opens the same spec and so the same journal (see ARCHITECTURE.md, "one
journal, six stages").
"""

from __future__ import annotations

from pathlib import Path

from .base import Journal, JournalError

ACCEPTED = (
    "a file path (journal.db), sqlite:///path/to/journal.db, nats://host:port or "
    "nats://host:port/prefix"
)
SQLITE_SCHEME = "sqlite:///"


def open_journal(spec: str, *, readonly: bool = False) -> Journal:
    """The journal `spec` names (see the module docstring); `readonly` opens SQLite read-only
    and never creates a JetStream journal's stream (nothing is written unless one appends)."""
    if not isinstance(spec, str) or not spec.strip():
        raise JournalError(f"journal spec {spec!r} is empty: give {ACCEPTED}")
    if spec.startswith("nats://"):
        from .jetstream import JetStreamJournal, parse_nats_spec

        url, prefix = parse_nats_spec(spec)
        return JetStreamJournal(url, prefix=prefix, create=not readonly)
    if spec.startswith(SQLITE_SCHEME):
        path = spec[len(SQLITE_SCHEME) :]
        if not path:
            raise JournalError(f"journal spec {spec!r} names no file: give {ACCEPTED}")
        return _sqlite(Path(path), readonly)
    if "://" in spec:
        scheme = spec.split("://", 1)[0]
        raise JournalError(f"journal spec {spec!r}: unknown scheme {scheme!r}; give {ACCEPTED}")
    return _sqlite(Path(spec), readonly)


def _sqlite(path: Path, readonly: bool) -> Journal:
    from .sqlite import SQLiteJournal

    return SQLiteJournal(path, readonly=readonly)
