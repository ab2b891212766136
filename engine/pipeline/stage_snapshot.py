"""Snapshots of the stateful stages (signal, monitor): a versioned, checksummed JSON envelope.

A stage snapshot is a cache of a from-scratch replay, never a second source of truth, so it is
refused rather than misapplied whenever it might not be that replay's state:

- it is JSON, never pickle (a journal file must not be able to run code), in an envelope
  `{"format", "stage", "version", "config", "position", "hash", "state", "checksum"}`;
- `checksum` is the SHA-256 of the canonical JSON of everything else: it catches a corrupt or
  hand-edited snapshot (it is no signature: whoever can write the journal file can recompute
  it; `zkrisk journal verify` compares projections with a replay for that);
- `config` is the stage's whole config as JSON: a snapshot taken under another config (another
  strategy set, other params, other breakers) would not equal a replay under this one;
- `position` and `hash` bind it to the journal: the record at `position` must carry `hash`, so
  a snapshot copied from another journal file is refused (`load_stage`).

Every refusal is a `SnapshotError` whose message says what differs; `load_stage` turns it into
a fresh stage and a note saying start-up replays from genesis, and why.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from ..journal.base import Journal

FORMAT = "zkrisk.stage-snapshot"
VERSION = 1


class SnapshotError(ValueError):
    """A stage snapshot cannot be taken or applied; the message says why and what to do."""


def canonical(value: Any) -> bytes:
    """Canonical JSON: sorted keys, no whitespace, no NaN (equal values give equal bytes)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def config_json(config: BaseModel) -> Any:
    return json.loads(canonical(config.model_dump(mode="json")))


def encode(stage: str, config: BaseModel, position: int, last_hash: str, state: Any) -> bytes:
    """The snapshot bytes of `state` (plain JSON) taken as of journal `position`."""
    body = {"format": FORMAT, "stage": stage, "version": VERSION, "config": config_json(config),
            "position": position, "hash": last_hash, "state": state}  # fmt: skip
    try:
        checksum = hashlib.sha256(canonical(body)).hexdigest()
    except (TypeError, ValueError) as exc:  # a plug-in strategy's state() that is not JSON
        raise SnapshotError(f"{stage} snapshot: the state is not plain JSON: {exc}") from exc
    return canonical({**body, "checksum": checksum})


@dataclass(frozen=True, slots=True)
class Opened:
    """A checked envelope: the stage's state as of `position` (whose record has `hash`)."""

    position: int
    hash: str
    state: dict[str, Any]


def decode(
    stage: str,
    config: BaseModel,
    data: bytes,
    *,
    explain: Callable[[Any, Any], str | None] | None = None,
) -> Opened:
    """The envelope's contents, once it is known to be a `stage` snapshot taken under `config`.

    `explain(saved_config, config)` may name a config change better than the paths that differ
    (the signal stage names strategies added or removed)."""
    what = f"{stage} snapshot"
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"{what} is not JSON ({exc}): it is corrupt") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise SnapshotError(f"{what}: not a {FORMAT} document")
    if raw.get("version") != VERSION:
        raise SnapshotError(
            f"{what} has format version {raw.get('version')!r}; this build reads version "
            f"{VERSION} only"
        )
    body = {k: v for k, v in raw.items() if k != "checksum"}
    if raw.get("checksum") != hashlib.sha256(canonical(body)).hexdigest():
        raise SnapshotError(f"{what}: the checksum does not match its contents: it was altered")
    if raw.get("stage") != stage:
        raise SnapshotError(f"{what}: this is a snapshot of the {raw.get('stage')!r} stage")
    saved, current = raw.get("config"), config_json(config)
    differences = list(_differences(saved, current))
    if differences:
        shown = ", ".join(differences[:5]) + (", ..." if len(differences) > 5 else "")
        why = (explain and explain(saved, current)) or f"differs at {shown}"
        raise SnapshotError(f"{what} was taken under another config ({why}); it is not applied")
    position, last_hash, state = raw.get("position"), raw.get("hash"), raw.get("state")
    if type(position) is not int or position < 0 or not isinstance(last_hash, str):
        raise SnapshotError(f"{what}: position {position!r} / hash {last_hash!r} are malformed")
    if not isinstance(state, dict):
        raise SnapshotError(f"{what}: the state is {type(state).__name__}, not an object")
    return Opened(position, last_hash, state)


def _differences(old: Any, new: Any, path: str = "config") -> Iterator[str]:
    """Dotted paths where two JSON values differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted({*old, *new}):
            yield from _differences(old.get(key), new.get(key), f"{path}.{key}")
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            yield from _differences(a, b, f"{path}[{index}]")
    elif old != new:
        yield path


# --- start-up ------------------------------------------------------------------------------


class SnapshotStage(Protocol):
    @property
    def position(self) -> int:
        """The position of the last record the stage applied."""
        ...

    @property
    def last_hash(self) -> str:
        """That record's hash ('' before the first)."""
        ...

    def to_bytes(self) -> bytes: ...


T = TypeVar("T", bound=SnapshotStage)


@dataclass(frozen=True, slots=True)
class Loaded(Generic[T]):
    stage: T
    position: int
    """Feed the stage the journal's records after this position (0: from genesis)."""
    from_snapshot: bool
    note: str
    """What start-up did, for the runner's log (and why it replays from genesis, if it does)."""


def load_stage(
    journal: Journal, name: str, *, fresh: Callable[[], T], restore: Callable[[bytes], T]
) -> Loaded[T]:
    """The stage from snapshot `name` when it fits this journal and config, else a fresh one.

    `restore` is the stage's `from_bytes` bound to its config. A refused snapshot is not an
    error: the note says why, and the caller replays from genesis.
    """
    saved = journal.load_snapshot(name)
    if saved is None:
        return Loaded(fresh(), 0, False, f"no snapshot {name!r}: replaying from genesis")
    saved_position, data = saved
    try:
        stage = restore(data)
        check_binding(journal, stage, saved_position)
    except SnapshotError as exc:
        return Loaded(fresh(), 0, False, f"snapshot {name!r} refused: {exc}; replaying from "
                      "genesis")  # fmt: skip
    return Loaded(stage, stage.position, True, f"snapshot {name!r} at position {stage.position}: "
                  f"replaying the {journal.head() - stage.position} records after it")  # fmt: skip


def check_binding(journal: Journal, stage: SnapshotStage, saved_position: int) -> None:
    """`SnapshotError` unless a restored stage fits `journal`: its position is the one the
    journal filed the snapshot at, and the record there carries the hash it was taken after."""
    if stage.position != saved_position:
        raise SnapshotError(
            f"the journal filed it at position {saved_position} but it holds the state as of "
            f"position {stage.position}"
        )
    if stage.position == 0:
        return
    found = journal.read(after=stage.position - 1, limit=1)
    if not found or found[0].position != stage.position:
        raise SnapshotError(
            f"it is as of position {stage.position}, beyond the journal's head {journal.head()}"
        )
    if found[0].hash != stage.last_hash:
        raise SnapshotError(
            f"the record at position {stage.position} has another hash than the one it was "
            "taken after: it comes from another journal"
        )


def save_stage(journal: Journal, name: str, stage: SnapshotStage) -> None:
    """Snapshot a stage as of its position. Save only once the drafts of every record up to
    that position are appended: a restored stage never re-derives them."""
    journal.save_snapshot(name, stage.position, stage.to_bytes())
