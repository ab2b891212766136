"""Parse one raw market-data message into a journal event, or refuse it with a stable reason.

Pure: the message text, the time it was received and the run's rules in, an `Accepted` (the
event, its idempotency key, its sequence) or a `Refused` (reason code, one human sentence) out.
Numbers stay exact: JSON numbers are read as Decimals, and NaN / Infinity, exponent notation
("1e3", a float written as text) and over-long numbers are refused before any arithmetic.

The wire format (what the shipped feed server sends and the recorded files hold), one JSON
object per message:

    {"type": "quote", "symbol": "WETH", "seq": 7, "ts_ns": 1767225600000000000,
     "bid": "3000.10", "ask": "3000.20", "bid_size": "4.5", "ask_size": "2"}
    {"type": "trade", "symbol": "WBTC", "seq": 8, "ts_ns": ..., "price": "60000", "size": "0.1",
     "side": "BUY"}
    {"type": "round", "symbol": "WETH", "feed": "0x…", "round_id": 3, "answer": "300000000000",
     "decimals": 8, "updated_at": 1767225600, "answered_in_round": 3}

`seq` is optional: a message without one is keyed by the sha256 of its text.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from ..journal.events import OracleRound, Quote, Trade, checked_quote
from ..risk.models import Side

MAX_RAW_CHARS = 4_096
"""A message longer than this is refused unread; a quarantine record keeps at most this much."""
MAX_NUMBER_CHARS = 40
_PLAIN_DECIMAL = re.compile(r"^[0-9]{1,30}(\.[0-9]{1,18})?$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
NS = 1_000_000_000


class Reason(StrEnum):
    """Stable quarantine codes (also Prometheus label values)."""

    MALFORMED = "MALFORMED"
    NOT_FINITE = "NOT_FINITE"
    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    NON_POSITIVE_PRICE = "NON_POSITIVE_PRICE"
    NON_POSITIVE_SIZE = "NON_POSITIVE_SIZE"
    BID_NOT_BELOW_ASK = "BID_NOT_BELOW_ASK"
    STALE = "STALE"
    FUTURE_DATED = "FUTURE_DATED"
    LATE = "LATE"
    """Arrived after its sequence was already declared a gap (see ordering.py)."""
    STALE_ANSWER = "STALE_ANSWER"
    """An oracle round carrying the answer of an earlier round (answeredInRound < roundId)."""


class _NotFinite(ValueError):
    pass


def _wire_number(value: object) -> Decimal:
    # Exact decimals only: a bool, a float or "1e3" would let rounding or huge values in.
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise PydanticCustomError("number", "expected a decimal number written as text")
    text = str(value).strip()
    if text.lower().lstrip("+-") in {"nan", "snan", "inf", "infinity"}:
        raise PydanticCustomError("not_finite", "{value} is not a finite number", {"value": text})
    if isinstance(value, Decimal) and not value.is_finite():
        raise PydanticCustomError("not_finite", "{value} is not a finite number", {"value": text})
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    if len(text) > MAX_NUMBER_CHARS or not _PLAIN_DECIMAL.match(digits):
        raise PydanticCustomError(
            "number", "{value!r} is not a plain decimal (digits, optional point)", {"value": text}
        )
    return Decimal(digits) * sign


WireNumber = Annotated[Decimal, BeforeValidator(_wire_number)]


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    symbol: str = Field(min_length=1, max_length=32)


class WireQuote(_Wire):
    type: Literal["quote"]
    seq: int | None = Field(default=None, ge=1)
    ts_ns: int = Field(ge=0)
    bid: WireNumber
    ask: WireNumber
    bid_size: WireNumber
    ask_size: WireNumber


class WireTrade(_Wire):
    type: Literal["trade"]
    seq: int | None = Field(default=None, ge=1)
    ts_ns: int = Field(ge=0)
    price: WireNumber
    size: WireNumber
    side: Literal["BUY", "SELL"] | None = None


class WireRound(_Wire):
    type: Literal["round"]
    feed: str = Field(pattern=_ADDRESS.pattern)
    round_id: int = Field(ge=0)
    answer: WireNumber
    decimals: int = Field(ge=0, le=36)
    updated_at: int = Field(ge=0)
    answered_in_round: int | None = Field(default=None, ge=0)


_WIRE_TYPES: dict[str, type[_Wire]] = {"quote": WireQuote, "trade": WireTrade, "round": WireRound}


@dataclass(frozen=True, slots=True)
class Rules:
    """What a source's messages must satisfy (from the run config)."""

    symbols: frozenset[str]
    max_age_ns: int
    """Receive time minus event time above this: STALE."""
    max_skew_ns: int = NS
    """Event time ahead of the receive time by more than this: FUTURE_DATED."""


@dataclass(frozen=True, slots=True)
class Accepted:
    event: Quote | Trade | OracleRound
    key: str
    stream_id: str
    """What orders it: the symbol for quotes and trades, the feed address for rounds."""
    seq: int | None
    event_time_ns: int
    gapless: bool = True
    """Sequences step by one (feed messages); False for oracle round ids, which only increase."""


@dataclass(frozen=True, slots=True)
class Refused:
    reason: Reason
    detail: str
    symbol: str | None = None
    seq: int | None = None
    """Where the message named them: a refused message still consumes its sequence."""


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def md_key(source: str, stream_id: str, seq: int | None, raw: str) -> str:
    """The idempotency key of a market-data event (plan: md:<source>:<symbol>:<seq>)."""
    if seq is None:
        return f"md:{source}:h:{sha256_hex(raw)}"
    return f"md:{source}:{stream_id}:{seq}"


def quarantine_key(source: str, raw: str) -> str:
    return f"q:{source}:{sha256_hex(raw)}"


def truncate_raw(raw: str) -> str:
    return raw if len(raw) <= MAX_RAW_CHARS else raw[:MAX_RAW_CHARS] + "…"


def _refuse_constant(name: str) -> str:
    return name  # NaN / Infinity as JSON constants: the number validator names them not finite


def _no_exponent(text: str) -> Decimal:
    if "e" in text or "E" in text:
        return text  # type: ignore[return-value]  # left as text: the validator refuses it
    return Decimal(text)


_JSON = json.JSONDecoder(parse_float=_no_exponent, parse_constant=_refuse_constant)
"""One decoder for every message (`json.loads` with these hooks builds one per call)."""


def _load(raw: str) -> dict[str, Any] | Refused:
    if len(raw) > MAX_RAW_CHARS:
        return Refused(Reason.MALFORMED, f"message of {len(raw):,} characters exceeds "
                       f"{MAX_RAW_CHARS:,}")  # fmt: skip
    try:
        data = _JSON.decode(raw)
    except (ValueError, InvalidOperation, RecursionError) as exc:
        return Refused(Reason.MALFORMED, f"not JSON: {exc}")
    if not isinstance(data, dict):
        return Refused(Reason.MALFORMED, f"expected a JSON object, got {type(data).__name__}")
    return data


def _identity(data: dict[str, Any]) -> tuple[str | None, int | None]:
    symbol, seq = data.get("symbol"), data.get("seq")
    return (
        symbol[:32] if isinstance(symbol, str) else None,
        seq if isinstance(seq, int) and not isinstance(seq, bool) and seq >= 1 else None,
    )


def _schema_refusal(exc: ValidationError, symbol: str | None, seq: int | None) -> Refused:
    errors = exc.errors(include_url=False)
    reason = (
        Reason.NOT_FINITE if any(e["type"] == "not_finite" for e in errors) else Reason.MALFORMED
    )
    where = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'message'}: {e['msg']}" for e in errors[:3]
    )
    return Refused(reason, where, symbol, seq)


def _check_values(wire: _Wire) -> tuple[Reason, str] | None:
    if isinstance(wire, WireQuote):
        if wire.bid <= 0 or wire.ask <= 0:
            return Reason.NON_POSITIVE_PRICE, f"bid {wire.bid} / ask {wire.ask} must be > 0"
        if wire.bid_size <= 0 or wire.ask_size <= 0:
            return Reason.NON_POSITIVE_SIZE, (
                f"bid_size {wire.bid_size} / ask_size {wire.ask_size} must be > 0"
            )
        if wire.bid >= wire.ask:
            return Reason.BID_NOT_BELOW_ASK, f"bid {wire.bid} is not below ask {wire.ask}"
    elif isinstance(wire, WireTrade):
        if wire.price <= 0:
            return Reason.NON_POSITIVE_PRICE, f"price {wire.price} must be > 0"
        if wire.size <= 0:
            return Reason.NON_POSITIVE_SIZE, f"size {wire.size} must be > 0"
    elif isinstance(wire, WireRound):
        if wire.answer <= 0:
            return Reason.NON_POSITIVE_PRICE, f"answer {wire.answer} must be > 0"
        carried = wire.answered_in_round
        if carried is not None and carried < wire.round_id:
            return Reason.STALE_ANSWER, (
                f"round {wire.round_id} carries the answer of round {carried} (answeredInRound "
                "< roundId): the feed did not complete this round"
            )
    return None


def _event_time_ns(wire: _Wire) -> int:
    if isinstance(wire, WireRound):
        return wire.updated_at * NS
    assert isinstance(wire, WireQuote | WireTrade)
    return wire.ts_ns


def _check_age(event_ns: int, recv_ns: int, rules: Rules) -> tuple[Reason, str] | None:
    age = recv_ns - event_ns
    if age > rules.max_age_ns:
        return Reason.STALE, (
            f"{age / 1e6:.1f} ms old on arrival, above the source's max_age "
            f"{rules.max_age_ns / 1e6:.1f} ms"
        )
    if -age > rules.max_skew_ns:
        return Reason.FUTURE_DATED, (
            f"event time {-age / 1e6:.1f} ms ahead of the receive time, above the allowed "
            f"skew {rules.max_skew_ns / 1e6:.1f} ms"
        )
    return None


def _event(source: str, wire: _Wire) -> Quote | Trade | OracleRound:
    if isinstance(wire, WireQuote):
        return Quote(source=source, symbol=wire.symbol, bid=wire.bid, ask=wire.ask,
                     bid_size=wire.bid_size, ask_size=wire.ask_size, source_seq=wire.seq)  # fmt: skip
    if isinstance(wire, WireTrade):
        return Trade(source=source, symbol=wire.symbol, price=wire.price, size=wire.size,
                     side=None if wire.side is None else Side(wire.side), source_seq=wire.seq)  # fmt: skip
    assert isinstance(wire, WireRound)
    price = wire.answer.scaleb(-wire.decimals)
    return OracleRound(source=source, symbol=wire.symbol, price=price, round_id=wire.round_id,
                       updated_at=wire.updated_at)  # fmt: skip


_QUOTE_KEYS = frozenset(WireQuote.model_fields)
_QUOTE_NUMBERS = ("bid", "ask", "bid_size", "ask_size")


def _plain_number(value: object) -> Decimal | None:
    """A wire number exactly as `_wire_number` would take it with nothing to strip, else None."""
    if type(value) is str and len(value) <= MAX_NUMBER_CHARS and _PLAIN_DECIMAL.fullmatch(value):
        return Decimal(value) * 1  # (the schema's `* sign`: the same context rounding)
    return None


def _clean_quote(source: str, data: dict[str, Any], raw: str, recv_ns: int, rules: Rules) -> (
    Accepted | None
):  # fmt: skip
    """The common message, a well-formed quote that passes every rule, accepted without the
    schema's machinery (it sits on the quote → verdict path); None for anything else, which
    the full path then accepts or refuses with its reason. The result is the full path's."""
    if data.keys() != _QUOTE_KEYS or data["type"] != "quote":
        return None
    symbol, seq, ts_ns = data["symbol"], data["seq"], data["ts_ns"]
    if type(symbol) is not str or symbol not in rules.symbols or not 1 <= len(symbol) <= 32:
        return None
    if type(seq) is not int or seq < 1 or type(ts_ns) is not int or ts_ns < 0:
        return None
    bid, ask, bid_size, ask_size = (_plain_number(data[k]) for k in _QUOTE_NUMBERS)
    if bid is None or ask is None or bid_size is None or ask_size is None:
        return None
    if not (0 < bid < ask and bid_size > 0 and ask_size > 0):
        return None
    if _check_age(ts_ns, recv_ns, rules) is not None:
        return None
    event = checked_quote(source, symbol, bid, ask, bid_size, ask_size, seq)
    if event is None:
        return None
    return Accepted(event, md_key(source, symbol, seq, raw), symbol, seq, ts_ns)


def parse_message(source: str, raw: str, recv_time_ns: int, rules: Rules) -> Accepted | Refused:
    """Validate one message: schema, finite numbers, known symbol, values, then age."""
    data = _load(raw)
    if isinstance(data, Refused):
        return data
    clean = _clean_quote(source, data, raw, recv_time_ns, rules)
    return clean if clean is not None else parse_loaded(source, data, raw, recv_time_ns, rules)


def parse_loaded(
    source: str, data: dict[str, Any], raw: str, recv_time_ns: int, rules: Rules
) -> Accepted | Refused:
    """`parse_message` on the message's JSON object, through the schema (every message it
    does not accept on its fast path; tests compare the two)."""
    symbol, seq = _identity(data)
    model = _WIRE_TYPES.get(data.get("type"))  # type: ignore[arg-type]
    if model is None:
        kinds = ", ".join(_WIRE_TYPES)
        return Refused(Reason.MALFORMED, f"type {data.get('type')!r} is not one of {kinds}",
                       symbol, seq)  # fmt: skip
    if model is WireRound and isinstance(data.get("error"), str):  # sources/chain.py
        return Refused(Reason.MALFORMED, f"the feed {data.get('feed')} failed to answer: "
                       f"{data['error'][:200]}", symbol, seq)  # fmt: skip
    try:
        wire = model.model_validate(data)
    except ValidationError as exc:
        return _schema_refusal(exc, symbol, seq)
    if wire.symbol not in rules.symbols:
        known = ", ".join(sorted(rules.symbols))
        return Refused(Reason.UNKNOWN_SYMBOL, f"symbol {wire.symbol!r} is not one of the run's "
                       f"assets ({known})", symbol, seq)  # fmt: skip
    problem = _check_values(wire)
    event_ns = _event_time_ns(wire)
    problem = problem or _check_age(event_ns, recv_time_ns, rules)
    if problem is not None:
        return Refused(problem[0], problem[1], symbol, seq)
    if isinstance(wire, WireRound):
        stream_id, order = wire.feed.lower(), wire.round_id
    else:
        assert isinstance(wire, WireQuote | WireTrade)
        stream_id, order = wire.symbol, wire.seq  # type: ignore[assignment]
    return Accepted(_event(source, wire), md_key(source, stream_id, order, raw), stream_id,
                    order, event_ns, gapless=not isinstance(wire, WireRound))  # fmt: skip
