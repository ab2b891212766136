"""The simulated exchange's wire shapes: ccxt's unified order, trade and balance structures
(numbers as decimal strings where ccxt has floats) and the parsing of request fields, each bad
field a `RequestError` naming it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .simex_book import QUOTE, TradeRecord, VenueOrder


class RequestError(Exception):
    def __init__(self, code: str, message: str, order: VenueOrder | None = None) -> None:
        super().__init__(message)
        self.code, self.order = code, order


# --- ccxt shapes -------------------------------------------------------------------------------


def num(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def iso(timestamp_ms: int) -> str:
    """ccxt's `datetime`: ISO 8601 UTC with milliseconds."""
    moment = datetime.fromtimestamp(timestamp_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{timestamp_ms % 1000:03d}Z"


def market_symbol(symbol: str) -> str:
    return f"{symbol}/{QUOTE}"


def order_json(order: VenueOrder, *, duplicate: bool = False) -> dict[str, Any]:
    """ccxt's unified order structure."""
    return {
        "id": order.id, "clientOrderId": order.client_order_id or None,
        "timestamp": order.timestamp_ms, "datetime": iso(order.timestamp_ms),
        "status": str(order.status), "symbol": market_symbol(order.symbol), "type": order.type,
        "timeInForce": "GTC" if order.type == "limit" else "IOC", "side": order.side,
        "price": num(order.price), "average": num(order.average), "amount": num(order.amount),
        "filled": num(order.filled), "remaining": num(order.remaining),
        "cost": num(order.cost), "fee": {"cost": num(order.fee), "currency": QUOTE},
        "info": {"reason": order.reason, "duplicate": duplicate},
    }  # fmt: skip


def trade_json(trade: TradeRecord) -> dict[str, Any]:
    """ccxt's unified trade structure."""
    return {
        "id": trade.id, "order": trade.order_id, "clientOrderId": trade.client_order_id or None,
        "timestamp": trade.timestamp_ms, "datetime": iso(trade.timestamp_ms),
        "symbol": market_symbol(trade.symbol),
        "side": trade.side, "price": num(trade.price), "amount": num(trade.amount),
        "cost": num(trade.cost), "fee": {"cost": num(trade.fee), "currency": QUOTE},
        "takerOrMaker": trade.taker_or_maker, "info": {"seq": trade.seq},
    }  # fmt: skip


def balance_json(held: Mapping[str, Decimal], used: Mapping[str, Decimal]) -> dict[str, Any]:
    """ccxt's balance structure: {asset: {free, used, total}, free: {...}, used, total}."""
    out: dict[str, Any] = {"free": {}, "used": {}, "total": {}}
    for asset, total in held.items():
        u = used.get(asset, Decimal(0))
        row = {"free": num(total - u), "used": num(u), "total": num(total)}
        out[asset] = row
        for key in ("free", "used", "total"):
            out[key][asset] = row[key]
    return out


# --- request fields ----------------------------------------------------------------------------


def decimal_field(params: Mapping[str, Any], name: str, *, required: bool) -> Decimal | None:
    value = params.get(name)
    if value is None:
        if required:
            raise RequestError("BAD_REQUEST", f"{name} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise RequestError("BAD_REQUEST", f"{name} {value!r}: expected a decimal string")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise RequestError("BAD_REQUEST", f"{name} {value!r} is not a decimal number") from None


def base_symbol(value: object) -> str:
    if not isinstance(value, str) or value.count("/") != 1 or not value.endswith(f"/{QUOTE}"):
        raise RequestError("BAD_SYMBOL", f"symbol {value!r}: expected 'BASE/{QUOTE}', e.g. "
                           f"'WETH/{QUOTE}'")  # fmt: skip
    return value.split("/")[0]


def order_ids(params: Mapping[str, Any]) -> tuple[str, str]:
    order_id = params.get("id") or ""
    inner = params.get("params") or {}
    coid = inner.get("clientOrderId", "") if isinstance(inner, dict) else ""
    if not isinstance(order_id, str) or not isinstance(coid, str) or not (order_id or coid):
        raise RequestError("BAD_REQUEST", "give the order's id or params.clientOrderId (strings)")
    return order_id, coid
