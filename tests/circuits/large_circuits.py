"""Registered circuits too large to compile in every run (~2 min each on 2 cores): the per-circuit
checks run them in `make test-slow`; the same template's small instance runs every time."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import pytest

LARGE = frozenset({"margin16x32"})
_SLOW = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("ZKRISK_SLOW"), reason="large circuit: make test-slow"),
]


def per_circuit(items: Iterable[Any], name: Any = lambda item: item) -> list[Any]:
    """`items` as parameters, the large circuits' marked slow (`name` gives an item's name)."""
    return [pytest.param(i, marks=_SLOW, id=name(i)) if name(i) in LARGE
            else pytest.param(i, id=name(i)) for i in items]  # fmt: skip
