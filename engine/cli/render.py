"""Rich renderings of verdicts and risk reports for the command line (display only)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..risk.models import OrderIntent, Verdict, VerdictKind
from ..risk.report import RiskReport

_STYLE = {
    VerdictKind.APPROVE: "bold green",
    VerdictKind.REJECT: "bold red",
    VerdictKind.FLAG_FOR_REVIEW: "bold yellow",
}


def _usd(x: Decimal) -> str:
    return f"${x:,.2f}" if x >= 0 else f"-${-x:,.2f}"


def _when(unix: int) -> str:
    return f"{datetime.fromtimestamp(unix, UTC):%Y-%m-%d %H:%M:%S} UTC"


def verdict_view(verdict: Verdict, intent: OrderIntent) -> RenderableType:
    price = f"@ {intent.limit_price}" if intent.limit_price is not None else (
        f"MARKET (≤ {intent.max_slippage_bps} bps slippage)"
    )  # fmt: skip
    head = Text.assemble(
        (verdict.kind.value, _STYLE[verdict.kind]),
        f"  {intent.side.value} {intent.quantity} {intent.symbol} {price} via "
        f"{intent.counterparty}  ·  order {verdict.client_order_id}  ·  policy {verdict.policy_id}",
    )
    parts: list[RenderableType] = [head]
    if verdict.reasons:
        table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
        table.add_column("reason")
        table.add_column("effect")
        table.add_column("detail", overflow="fold")
        for r in verdict.reasons:
            table.add_row(r.code, "blocks" if r.blocking else "review", r.message)
        parts += [Text(""), table]
    hf = verdict.post_trade_health_factor_bps
    var = verdict.post_trade_var_usd
    parts.append(Text(""))
    parts.append(Text(
        f"post-trade health factor: {'∞ (no debt)' if hf is None else f'{Decimal(hf) / 10_000:.4f}'}"
        f"   post-trade VaR: {'n/a' if var is None else _usd(var.quantize(Decimal('0.01')))}"
    ))  # fmt: skip
    return Group(*parts)


def report_view(report: RiskReport) -> RenderableType:
    head = Text.assemble(
        ("risk of ", "bold"), (report.account, "bold"),
        f"  ·  snapshot {report.snapshot_id} taken {_when(report.taken_at)}"
        f" (oldest price {_when(report.oldest_price_at)})",
    )  # fmt: skip
    book = Table(title="book", title_justify="left", header_style="bold")
    for name, justify in (("symbol", "left"), ("quantity", "right"), ("price", "right"),
                          ("value", "right"), ("LT", "right"), ("of gross", "right")):  # fmt: skip
        book.add_column(name, justify=justify)  # type: ignore[arg-type]
    for p in report.positions:
        book.add_row(p.symbol, f"{p.quantity:,f}", f"{p.price:,f}", _usd(p.value_usd),
                     f"{p.liquidation_threshold_bps / 100:.2f}%", f"{p.share_of_gross_bps / 100:.2f}%")  # fmt: skip
    if report.margin_symbol is not None:
        book.add_row(f"{report.margin_symbol} (margin)", f"{report.margin:,f}", "",
                     _usd(report.margin_value_usd), "", "")  # fmt: skip

    summary = Table(title="health and exposure", title_justify="left", show_header=False)
    summary.add_column("metric")
    summary.add_column("value", justify="right")
    hf = report.health_factor
    hf_text = Text("∞ (no debt)") if hf is None else Text(
        f"{hf:.4f}" + ("  LIQUIDATABLE" if report.liquidatable else ""),
        style="bold red" if report.liquidatable else "bold green",
    )  # fmt: skip
    summary.add_row("health factor", hf_text)
    for label, value in (
        ("weighted collateral", report.weighted_collateral_usd),
        ("debt", report.debt_usd),
        ("long", report.long_usd),
        ("short", report.short_usd),
        ("gross exposure", report.gross_usd),
        ("net exposure", report.net_usd),
        ("equity (net + margin)", report.equity_usd),
    ):
        summary.add_row(label, _usd(value))
    lev = report.leverage
    summary.add_row("leverage (gross / equity)", "unbounded" if lev is None else f"{lev:.4f}×")

    parts: list[RenderableType] = [head, book, summary]
    if report.var:
        var = Table(
            title=f"VaR / ES at α = {report.alpha} over K = {report.scenarios} scenarios",
            title_justify="left", header_style="bold",
        )  # fmt: skip
        var.add_column("method")
        var.add_column("VaR", justify="right")
        var.add_column("ES", justify="right")
        var.add_column("how")
        for v in report.var:
            var.add_row(v.method, _usd(v.var_usd), _usd(v.es_usd), v.note)
        parts.append(var)
    else:
        parts.append(Text("VaR / ES: no scenario set given (--scenarios FILE)"))
    return Group(*parts)
