"""Strategy plug-ins: the interface and loader (base) and two shipped examples."""

from .base import (
    BUILTIN,
    ENTRY_POINT_GROUP,
    Decision,
    JSONValue,
    StatefulStrategy,
    Strategy,
    StrategyContext,
    StrategyLoadError,
    build,
    resolve,
)

__all__ = [
    "BUILTIN",
    "ENTRY_POINT_GROUP",
    "Decision",
    "JSONValue",
    "StatefulStrategy",
    "Strategy",
    "StrategyContext",
    "StrategyLoadError",
    "build",
    "resolve",
]
