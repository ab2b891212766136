"""Build into a private temporary folder, then rename it into place.

Two processes building the same artefact at once cannot corrupt each other: each writes its own
folder and the first rename wins; the loser's copy (identical content) is discarded.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path


def private_tmp(folder: Path) -> Path:
    """A fresh folder beside `folder` (same filesystem, so the final rename is atomic)."""
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    tmp.mkdir(parents=True)
    return tmp


def publish(tmp: Path, folder: Path) -> None:
    """Move a finished build into place; if another process got there first, keep theirs."""
    try:
        tmp.rename(folder)
    except OSError:
        if not folder.exists():
            raise
        shutil.rmtree(tmp, ignore_errors=True)
