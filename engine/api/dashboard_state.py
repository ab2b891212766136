"""The dashboard's state: a read-only fold of a paper-trading run's journal, and the panels' JSON.

`RunView` folds the run's journal the way `zkrisk status` does (the pipeline's own stages over a
read-only view, so the numbers are the runner's), from genesis so the charts cover the whole
run, and keeps bounded series and latest-event lists of what the panels draw. `run_panels` and
`service_panels` are pure: from the folded view, the run config and what the service knows to
one JSON-able dict, as are `vault_minimum_panel` and `proofs_panel` over the last readings of
the vault and the keeper (dashboard_sources). What is not there (a source not configured or not
answering, reconciliation not landed) is reported as absent, saying why, never as zero.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from ..journal.base import Journal
from ..journal.events import (
    Alert,
    FeedGap,
    OperatorCommand,
    OrderFilled,
    PaperFill,
    Quarantined,
    Quote,
    ReconcileMismatch,
    Recorded,
    TradingStateChanged,
    VerdictIssued,
)
from ..pipeline.paper import is_market_data
from ..pipeline.run_config import LoadedRun
from ..pipeline.runner import Pipeline, _ReadOnly
from ..risk.metrics.var import historical_var_es, scenario_losses
from ..risk.models import VerdictKind
from .dashboard_sources import KeeperProofs, Reading, VaultMinimum, histogram_quantile

POINTS = 1_200
"""Points kept per chart (older ones drop off)."""
BUCKET_NS = 250_000_000
"""One equity point per 250 ms of journal time (the latest value in the bucket)."""
LATEST = 8
"""Entries kept per latest-events list."""
NO_KEEPER_METRICS = (
    "no keeper metrics configured: set [dashboard] keeper_metrics_url to the keeper's /metrics "
    "(zkrisk keeper --health-port)"
)
NO_VAULT_MIN = (
    "the vault's minimum is not configured ([dashboard] rpc_url and vault, or "
    "vault_min_health_factor_bps)"
)
NOT_YET_RECONCILE = "no data yet: venue reconciliation lands with issue 13 (pipeline part 2)"
_BPS = Decimal(10_000)


def _num(value: Decimal | int | float | None) -> float | None:
    """A JSON number for the page (display only: the exact values stay in the journal)."""
    return None if value is None else float(value)


def _seconds(ns: int) -> float:
    return ns / 1e9


@dataclass(slots=True)
class Series:
    """Aligned columns (x = unix seconds), bounded, for one uPlot chart."""

    names: tuple[str, ...]
    rows: deque[tuple[float | None, ...]] = field(default_factory=lambda: deque(maxlen=POINTS))
    last_bucket: int | None = None

    def add(self, t_ns: int, *values: float | None, bucket_ns: int = 0) -> None:
        """Append a point; with `bucket_ns`, a point in the last point's bucket replaces it."""
        row = (_seconds(t_ns), *values)
        bucket = t_ns // bucket_ns if bucket_ns else None
        if bucket is not None and self.rows and bucket == self.last_bucket:
            self.rows[-1] = row
        else:
            self.rows.append(row)
        self.last_bucket = bucket

    def columns(self) -> dict[str, list[float | None]]:
        cols = (
            list(zip(*self.rows, strict=True))
            if self.rows
            else [() for _ in range(1 + len(self.names))]
        )
        return {name: list(col) for name, col in zip(("t", *self.names), cols, strict=True)}


def _entry(rec: Recorded, **fields: Any) -> dict[str, Any]:
    return {"position": rec.position, "t": _seconds(rec.recv_time_ns), **fields}


@dataclass(slots=True)
class Tally:
    """A count of one kind of event and its latest few."""

    count: int = 0
    latest: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LATEST))

    def add(self, entry: dict[str, Any]) -> None:
        self.count += 1
        self.latest.appendleft(entry)

    def as_json(self) -> dict[str, Any]:
        return {"count": self.count, "latest": list(self.latest)}


class RunView:
    """The run's pipeline state, folded read-only and incrementally from the journal."""

    def __init__(self, journal: Journal, run: LoadedRun) -> None:
        self.run = run
        self.pipeline = Pipeline(_ReadOnly(journal), run)
        self.journal = journal
        self.equity = Series(("equity_usd", "drawdown_bps"))
        self.var = Series(("post_trade_var_usd",))
        self.health = Series(("post_trade_health_factor",))
        self.quarantined, self.gaps, self.mismatches = Tally(), Tally(), Tally()
        self.alerts, self.transitions, self.commands = Tally(), Tally(), Tally()
        self.verdicts = {kind.value: 0 for kind in VerdictKind}
        self.fills = 0
        self.last_quote: dict[str, dict[str, Any]] = {}
        """Per symbol: the latest market-data quote's mid and when it was journaled."""

    @property
    def position(self) -> int:
        return self.pipeline.position

    def catch_up(self, limit: int = 5_000) -> int:
        """Fold up to `limit` new records (bounded, so a long journal streams in over ticks)."""
        folded = 0
        while folded < limit:
            page = self.journal.read(after=self.pipeline.position, limit=min(1_000, limit - folded))
            if not page:
                break
            for rec in page:
                self.pipeline.fold(rec, live=False)
                self.observe(rec)
            folded += len(page)
        return folded

    def observe(self, rec: Recorded) -> None:
        """Update the series and tallies with one record the pipeline has just folded."""
        event = rec.event
        monitor = self.pipeline.monitor
        if isinstance(event, Quote) and is_market_data(rec):
            mark = monitor.book.marks.get(event.symbol)
            self.last_quote[event.symbol] = {
                "mid": _num(None if mark is None else mark.price),
                "recv_ns": rec.recv_time_ns, "position": rec.position,
            }  # fmt: skip
        if isinstance(event, Quote | PaperFill | OrderFilled):
            if isinstance(event, PaperFill | OrderFilled):
                self.fills += 1
            reading = monitor.reading()
            self.equity.add(rec.recv_time_ns, _num(reading.equity), _num(reading.drawdown_bps),
                            bucket_ns=BUCKET_NS)  # fmt: skip
        elif isinstance(event, VerdictIssued):
            verdict = event.verdict
            self.verdicts[verdict.kind.value] += 1
            if verdict.post_trade_var_usd is not None:
                self.var.add(rec.recv_time_ns, _num(verdict.post_trade_var_usd))
            hf = verdict.post_trade_health_factor_bps
            if hf is not None:
                self.health.add(rec.recv_time_ns, hf / 10_000)
        elif isinstance(event, Quarantined):
            self.quarantined.add(_entry(rec, source=event.source, reason=event.reason,
                                        detail=event.detail))  # fmt: skip
        elif isinstance(event, FeedGap):
            self.gaps.add(_entry(rec, source=event.source, symbol=event.symbol,
                                 expected=event.expected, received=event.received))  # fmt: skip
        elif isinstance(event, ReconcileMismatch):
            self.mismatches.add(_entry(rec, venue=event.venue, symbol=event.symbol,
                                       book=_num(event.book_quantity),
                                       venue_quantity=_num(event.venue_quantity),
                                       detail=event.detail))  # fmt: skip
        elif isinstance(event, TradingStateChanged):
            self.transitions.add(_entry(rec, previous=event.previous.value,
                                        current=event.current.value, reason=event.reason,
                                        detail=event.detail))  # fmt: skip
        elif isinstance(event, Alert):
            self.alerts.add(_entry(rec, name=event.name, severity=event.severity.value,
                                   message=event.message))  # fmt: skip
        elif isinstance(event, OperatorCommand):
            self.commands.add(_entry(rec, command=event.command, actor=event.actor,
                                     reason=event.reason))  # fmt: skip


# --- the panels (pure) -----------------------------------------------------------------------


def _book_values(view: RunView) -> dict[str, Decimal]:
    """USD value per holding, the paper cash (quote asset) included, as the gate values it."""
    book, run = view.pipeline.monitor.book, view.run
    values: dict[str, Decimal] = {}
    for symbol in sorted({s for _, s in book.holdings}):
        quantity, mark = book.net_position(symbol), book.marks.get(symbol)
        if quantity and mark is not None:
            values[symbol] = quantity * mark.price
    cash = book.starting_equity + book.cash
    if cash:
        values[run.policy.quote_symbol] = cash * run.config.pretrade.quote_price_usd
    return values


def _exposure(view: RunView, values: Mapping[str, Decimal]) -> dict[str, Any]:
    policy = view.run.policy
    gross = sum((abs(v) for v in values.values()), Decimal(0))
    net = sum(values.values(), Decimal(0))
    equity = view.pipeline.monitor.book.equity()
    shares = {s: (abs(v) * _BPS / gross if gross else Decimal(0)) for s, v in values.items()}
    largest = max(shares.items(), key=lambda kv: kv[1], default=(None, Decimal(0)))
    return {
        "gross_usd": _num(gross), "max_gross_usd": _num(policy.max_gross_exposure_usd),
        "net_usd": _num(net), "max_net_usd": _num(policy.max_net_exposure_usd),
        "concentration": {s: _num(b) for s, b in sorted(shares.items())},
        "largest_symbol": largest[0], "largest_bps": _num(largest[1]),
        "max_concentration_bps": policy.max_concentration_bps,
        "concentration_min_gross_usd": _num(policy.concentration_min_gross_usd),
        "leverage": _num(gross / equity) if equity > 0 else None,
        "max_leverage": None,
        "leverage_note": "the policy sets no leverage cap (gross and net exposure are capped)",
    }  # fmt: skip


def _tail_risk(view: RunView, values: Mapping[str, Decimal]) -> dict[str, Any]:
    """The book's historical VaR / ES now (float screening path) and the verdicts' post-trade
    VaR over time, against the policy's limits."""
    policy, scenarios = view.run.policy, view.run.scenarios
    out: dict[str, Any] = {
        "alpha": policy.var_confidence_bps / 10_000,
        "max_var_usd": _num(policy.max_var_usd), "max_es_usd": _num(policy.max_es_usd),
        "var_usd": None, "es_usd": None, "note": "", "series": view.var.columns(),
    }  # fmt: skip
    if scenarios is None:
        out["note"] = "the run config names no scenario set: VaR / ES cannot be computed"
        return out
    column = {s: j for j, s in enumerate(scenarios.symbols)}
    uncovered = sorted(s for s, v in values.items() if v and s not in column)
    vector = np.zeros(len(column))
    for s, v in values.items():
        if s in column:
            vector[column[s]] = float(v)
    var, es = historical_var_es(scenario_losses(vector, scenarios.returns_matrix()),
                                Decimal(policy.var_confidence_bps) / _BPS)  # fmt: skip
    out["var_usd"], out["es_usd"] = max(var, 0.0), max(es, 0.0)
    if uncovered:
        out["note"] = f"no scenario returns for {', '.join(uncovered)} (counted as riskless)"
    return out


def _utc(unix_s: float) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(unix_s))


def _stale(reading: Reading[Any]) -> str:
    if reading.stale_since is None:
        return ""
    return f"stale since {_utc(reading.stale_since)} ({reading.error})"


def vault_minimum_panel(
    configured_bps: int | None, onchain: Reading[VaultMinimum] | None
) -> dict[str, Any]:
    """The vault's minimum health factor: read on-chain when a vault is configured (the last
    value, marked stale, while the RPC fails), else the configured number, labelled so."""
    out: dict[str, Any] = {"vault_min": None, "vault_degraded_min": None,
                           "vault_min_source": None, "vault_note": ""}  # fmt: skip
    if onchain is not None and onchain.value is not None:
        return {**out, "vault_min": onchain.value.min_health_bps / 10_000,
                "vault_degraded_min": onchain.value.degraded_min_health_bps / 10_000,
                "vault_min_source": "on-chain", "vault_note": _stale(onchain)}  # fmt: skip
    if configured_bps is not None:
        out.update(vault_min=configured_bps / 10_000, vault_min_source="configured")
    if onchain is None:
        out["vault_note"] = "" if configured_bps is not None else NO_VAULT_MIN
    elif onchain.error:
        shown = ": showing the configured minimum" if configured_bps is not None else ""
        out["vault_note"] = f"the vault does not answer ({onchain.error}){shown}"
    else:
        out["vault_note"] = "reading the vault's policy"
    return out


def proofs_panel(url: str | None, reading: Reading[KeeperProofs] | None) -> dict[str, Any]:
    """Proof latency p50 / p95 and the prover queue from the keeper's metrics; a note (never
    zeros) when no keeper is configured or it has never answered."""
    if url is None or reading is None:
        return {"note": NO_KEEPER_METRICS}
    if reading.value is None:
        why = f"do not answer: {reading.error}" if reading.error else "are being read"
        return {"note": f"the keeper's metrics at {url} {why}"}
    proofs, ms = reading.value, 1_000
    p50, p95 = (histogram_quantile(q, proofs.buckets) for q in (0.5, 0.95))
    return {
        "source": url, "proofs": proofs.count,
        "p50_ms": None if p50 is None else p50 * ms, "p95_ms": None if p95 is None else p95 * ms,
        "mean_ms": proofs.sum_seconds / proofs.count * ms if proofs.count else None,
        "queue": proofs.queue, "proofs_note": "" if proofs.count else "no proof yet",
        "stale_note": _stale(reading),
    }  # fmt: skip


def _health(
    view: RunView, values: Mapping[str, Decimal], vault: Mapping[str, Any]
) -> dict[str, Any]:
    thresholds = {a.symbol: a.liquidation_threshold_bps for a in view.run.assets}
    weighted = sum((v * thresholds.get(s, 0) / _BPS for s, v in values.items() if v > 0),
                   Decimal(0))  # fmt: skip
    debt = sum((-v for v in values.values() if v < 0), Decimal(0))
    return {
        "health_factor": _num(weighted / debt) if debt else None,
        "note": "" if debt else "no debt: the health factor is unbounded",
        "policy_min": view.run.policy.min_health_factor_bps / 10_000,
        **vault,
        "series": view.health.columns(),
    }  # fmt: skip


def run_panels(
    view: RunView,
    now_ns: int,
    *,
    vault_min_bps: int | None = None,
    vault_onchain: Reading[VaultMinimum] | None = None,
) -> dict[str, Any]:
    """Every run panel as of the fold's position; heartbeat ages against `now_ns`; the vault's
    minimum on-chain (`vault_onchain`) or as configured (`vault_min_bps`)."""
    pipeline = view.pipeline
    status = pipeline.monitor.status(now_ns)
    cfg = view.run.config.monitor
    breakers = cfg.breakers
    values = _book_values(view)
    beats = {}
    for name, beat in status.heartbeats.items():
        rule = cfg.heartbeats.get(name, cfg.default_heartbeat)
        beats[name] = {"age_seconds": _num(beat.age_seconds), "missed": beat.missed,
                       "limit_seconds": _num(rule.tolerance * rule.interval_ms / 1000)}  # fmt: skip
    return {
        "position": view.position,
        "journal": str(view.run.journal_path),
        "trading": {
            "state": status.trading_state.value,
            "reason": status.reason,
            "detail": status.detail,
            "equity_usd": _num(status.equity_usd),
            "peak_usd": _num(status.peak_usd),
            "pnl_usd": _num(status.pnl_usd),
            "drawdown_bps": _num(status.drawdown_bps),
            "daily_loss_usd": _num(status.daily_loss_usd),
            "breakers": {
                "reducing_drawdown_bps": breakers.reducing_drawdown_bps,
                "halt_drawdown_bps": breakers.halt_drawdown_bps,
                "reducing_daily_loss_usd": _num(breakers.reducing_daily_loss_usd),
                "halt_daily_loss_usd": _num(breakers.halt_daily_loss_usd),
            },
            "series": view.equity.columns(),
            "transitions": list(view.transitions.latest),
            "commands": list(view.commands.latest),
        },
        "prices": dict(sorted(view.last_quote.items())),
        "exposure": _exposure(view, values),
        "tail_risk": _tail_risk(view, values),
        "health": _health(view, values, vault_minimum_panel(vault_min_bps, vault_onchain)),
        "heartbeats": beats,
        "feeds": {
            "health": {s: v.value for s, v in sorted(pipeline.signal.health.items())},
            "quarantined": view.quarantined.as_json(),
            "gaps": view.gaps.as_json(),
        },
        "reconciliation": {
            **view.mismatches.as_json(),
            "note": "" if view.mismatches.count else NOT_YET_RECONCILE,
        },
        "verdicts": {"by_kind": dict(view.verdicts), "fills": view.fills},
        "alerts": list(view.alerts.latest),
    }


def service_panels(
    *,
    kill_switch: Mapping[str, Any],
    audit_latest: Iterable[Mapping[str, Any]],
    audit_head: str | None,
    audit_root: Mapping[str, Any] | None,
    proofs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The panels of what the service itself holds: its kill switch, its audit log, proofs."""
    return {
        "kill_switch": dict(kill_switch),
        "audit": {
            "latest": [dict(r) for r in audit_latest],
            "head": audit_head,
            "root": None if audit_root is None else dict(audit_root),
            "root_note": "" if audit_root is not None else (
                "no checkpoint yet (one is written every 1,000 rows or 60 s): the chain head "
                "is shown instead"),
        },
        "proofs": dict(proofs) if proofs is not None else {"note": NO_KEEPER_METRICS},
    }  # fmt: skip
