"""The runner's terminal view: trading state, equity, feeds, heartbeats and strategies (display
only; the live view, the end-of-run summary and `zkrisk status` all draw it)."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..journal.events import FeedStatus
from ..pipeline.monitor import MonitorStatus
from ..pipeline.signal import StrategyStatus

_STATE_STYLE = {"ACTIVE": "green", "REDUCING": "yellow", "HALTED": "bold red"}


def _usd(x: Decimal) -> str:
    return f"{x:,.2f}"


def run_view(
    title: str,
    monitor: MonitorStatus,
    strategies: list[StrategyStatus],
    feeds: dict[str, FeedStatus],
    streams: dict[str, int],
) -> Group:
    state = monitor.trading_state.value
    head = Text.assemble(
        (f"{title}\n", "bold"),
        ("trading ", ""), (state, _STATE_STYLE.get(state, "")),
        (f"  equity {_usd(monitor.equity_usd)} USD  P&L {_usd(monitor.pnl_usd)}"
         f"  drawdown {monitor.drawdown_bps:.0f} bps  daily loss {_usd(monitor.daily_loss_usd)}", ""),
    )  # fmt: skip
    if monitor.reason:
        head.append(f"\nlast change: {monitor.reason}: {monitor.detail}")
    feed = Table(title="feeds and events", title_justify="left", show_edge=False)
    feed.add_column("stream")
    feed.add_column("events", justify="right")
    feed.add_column("status")
    for stream, count in sorted(streams.items()):
        source = stream[3:] if stream.startswith("md.") else ""
        status = feeds.get(source, FeedStatus.HEALTHY).value if source else ""
        feed.add_row(stream, f"{count:,}", status)
    beats = Table(title="heartbeats", title_justify="left", show_edge=False)
    beats.add_column("component")
    beats.add_column("age s", justify="right")
    beats.add_column("state")
    for component, hb in sorted(monitor.heartbeats.items()):
        beats.add_row(component, f"{hb.age_seconds:.1f}", "MISSED" if hb.missed else "ok")
    strat = Table(title="strategies", title_justify="left", show_edge=False)
    for col in ("strategy", "state", "P&L USD", "fills", "hit rate", "intents", "/min"):
        strat.add_column(col, justify="left" if col in ("strategy", "state") else "right")
    for s in strategies:
        hit = "-" if s.hit_rate_bps is None else f"{s.hit_rate_bps / 100:.1f}%"
        strat.add_row(s.id, "enabled" if s.enabled else f"disabled ({s.disabled_reason})",
                      _usd(s.pnl_usd), str(s.fills), hit, str(s.intents_total),
                      str(s.intents_last_minute))  # fmt: skip
    return Group(head, Text(""), feed, Text(""), beats, Text(""), strat)
