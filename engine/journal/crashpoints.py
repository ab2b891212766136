"""Named crash points for the SIGKILL fault tests: zero cost unless a test asks for one.

`crash_point("journal.mid_batch")` kills the current process with SIGKILL (no cleanup, no
atexit, no flush: what a power cut or the OOM killer does to a process) when the environment
names that point: `ZKRISK_CRASH_AT=journal.mid_batch` kills on the first time it is reached,
`ZKRISK_CRASH_AT=journal.mid_batch@3` on the third. The variable is read once, at import;
otherwise a crash point is one comparison with None.

Points used by the journal: `journal.mid_batch` (a batch's rows inserted, not committed),
`journal.after_append_before_cursor` (a consumer's outputs appended, its cursor not yet
moved), `journal.mid_snapshot` (a snapshot written, not committed). Other stages name theirs
`<stage>.<moment>`.
"""

from __future__ import annotations

import os
import signal

ENV = "ZKRISK_CRASH_AT"


def _parse(value: str | None) -> tuple[str | None, int]:
    if not value:
        return None, 0
    name, _, nth = value.partition("@")
    return name, int(nth) if nth else 1


_TARGET, _NTH = _parse(os.environ.get(ENV))
_hits = 0


def crash_point(name: str) -> None:
    """SIGKILL this process if $ZKRISK_CRASH_AT names this point (and this is its n-th hit)."""
    if _TARGET is None or name != _TARGET:
        return
    global _hits
    _hits += 1
    if _hits >= _NTH:
        os.kill(os.getpid(), signal.SIGKILL)
