"""Timing helpers and the result schema shared by every benchmark."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

Metric = dict[str, Any]


def metric(value: float, unit: str, runs: int, note: str) -> Metric:
    return {"value": round(value, 3), "unit": unit, "runs": runs, "note": note}


def median_ms(fn: Callable[[], object], runs: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)
