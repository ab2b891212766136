"""The pure validation guards: each refusal has a stable reason and a test that needs the guard."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from zkrisk.engine.journal.events import OracleRound, Quote, Trade
from zkrisk.engine.pipeline import validate
from zkrisk.engine.pipeline.validate import (
    MAX_RAW_CHARS,
    Accepted,
    Reason,
    Refused,
    Rules,
    md_key,
    parse_message,
    quarantine_key,
    sha256_hex,
)

NOW = 1_767_225_600_000_000_000
RULES = Rules(frozenset({"WETH", "WBTC"}), max_age_ns=2_000_000_000, max_skew_ns=500_000_000)


def quote(**over: object) -> str:
    msg: dict[str, object] = {"type": "quote", "symbol": "WETH", "seq": 7, "ts_ns": NOW,
                              "bid": "3000.10", "ask": "3000.20", "bid_size": "4.5",
                              "ask_size": "2"}  # fmt: skip
    msg.update(over)
    return json.dumps({k: v for k, v in msg.items() if v is not ...})


def refused(raw: str, recv: int = NOW) -> Refused:
    out = parse_message("feed", raw, recv, RULES)
    assert isinstance(out, Refused), out
    return out


def test_a_valid_quote_becomes_an_exact_quote_keyed_by_source_symbol_and_sequence() -> None:
    out = parse_message("feed", quote(), NOW, RULES)
    assert isinstance(out, Accepted)
    assert out.event == Quote(source="feed", symbol="WETH", bid=Decimal("3000.10"),
                              ask=Decimal("3000.20"), bid_size=Decimal("4.5"),
                              ask_size=Decimal("2"), source_seq=7)  # fmt: skip
    assert out.key == "md:feed:WETH:7" and out.seq == 7 and out.event_time_ns == NOW


def test_a_message_without_a_sequence_is_keyed_by_the_hash_of_its_text() -> None:
    raw = quote(seq=...)
    out = parse_message("feed", raw, NOW, RULES)
    assert isinstance(out, Accepted) and out.seq is None
    assert out.key == f"md:feed:h:{sha256_hex(raw)}" == md_key("feed", "WETH", None, raw)
    assert quarantine_key("feed", raw) == f"q:feed:{sha256_hex(raw)}"


def test_a_valid_trade_keeps_its_side() -> None:
    raw = json.dumps({"type": "trade", "symbol": "WBTC", "seq": 3, "ts_ns": NOW,
                      "price": "60000.5", "size": "0.25", "side": "SELL"})  # fmt: skip
    out = parse_message("feed", raw, NOW, RULES)
    assert isinstance(out, Accepted) and isinstance(out.event, Trade)
    assert out.event.side == "SELL" and out.event.price == Decimal("60000.5")


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        (quote(type="book"), "is not one of"),
        (quote(venue="x"), "venue"),  # unknown field
        (quote(ask=...), "ask"),  # missing field
        (quote(seq="7"), "seq"),  # wrong type
        (quote(ts_ns=True), "ts_ns"),
        (quote(bid=True), "bid"),
        (quote(symbol=7), "symbol"),
    ],
)
def test_schema_violations_are_malformed_with_the_field_named(raw: str, fragment: str) -> None:
    out = refused(raw)
    assert out.reason is Reason.MALFORMED
    assert fragment in out.detail


def test_a_json_number_is_read_exactly_but_exponents_and_floats_in_text_are_refused() -> None:
    exact = parse_message("feed", quote().replace('"3000.10"', "3000.10"), NOW, RULES)
    assert isinstance(exact, Accepted) and exact.event.bid == Decimal("3000.10")  # type: ignore[union-attr]
    for bad in ('"3e3"', "3e3", '"0x10"', '"1_000"', '" "'):
        assert refused(quote().replace('"3000.10"', bad)).reason is Reason.MALFORMED, bad
    assert refused(quote(bid="9" * 41)).reason is Reason.MALFORMED


@pytest.mark.parametrize("bad", ['"NaN"', "NaN", '"inf"', "Infinity", "-Infinity", '"-inf"'])
def test_nan_and_infinity_are_refused_as_not_finite(bad: str) -> None:
    out = refused(quote().replace('"2"', bad))
    assert out.reason is Reason.NOT_FINITE, out


def test_a_bid_at_or_above_the_ask_is_refused() -> None:
    assert refused(quote(bid="3000.20")).reason is Reason.BID_NOT_BELOW_ASK
    out = refused(quote(bid="3001"))
    assert out.reason is Reason.BID_NOT_BELOW_ASK and "3001" in out.detail


@pytest.mark.parametrize("field", ["bid_size", "ask_size"])
@pytest.mark.parametrize("value", ["0", "-1.5"])
def test_a_quote_size_of_zero_or_less_is_refused(field: str, value: str) -> None:
    assert refused(quote(**{field: value})).reason is Reason.NON_POSITIVE_SIZE


def test_a_trade_needs_a_positive_price_and_size() -> None:
    def trade(price: str, size: str) -> str:
        return json.dumps({"type": "trade", "symbol": "WETH", "seq": 1, "ts_ns": NOW,
                           "price": price, "size": size})  # fmt: skip

    assert refused(trade("0", "1")).reason is Reason.NON_POSITIVE_PRICE
    assert refused(trade("1", "0")).reason is Reason.NON_POSITIVE_SIZE


def test_a_non_positive_quote_price_is_refused() -> None:
    assert refused(quote(bid="-1", ask="1")).reason is Reason.NON_POSITIVE_PRICE
    assert refused(quote(bid="0", ask="1")).reason is Reason.NON_POSITIVE_PRICE


def test_an_unknown_symbol_is_refused_with_the_known_ones_named() -> None:
    out = refused(quote(symbol="DOGE"))
    assert out.reason is Reason.UNKNOWN_SYMBOL and "WBTC, WETH" in out.detail
    assert out.symbol == "DOGE" and out.seq == 7


def test_a_message_older_than_the_source_max_age_is_stale() -> None:
    assert isinstance(parse_message("feed", quote(), NOW + 2_000_000_000, RULES), Accepted)
    out = refused(quote(), recv=NOW + 2_000_000_001)
    assert out.reason is Reason.STALE and "max_age" in out.detail


def test_a_message_dated_in_the_future_past_the_skew_is_refused() -> None:
    assert isinstance(parse_message("feed", quote(), NOW - 500_000_000, RULES), Accepted)
    assert refused(quote(), recv=NOW - 500_000_001).reason is Reason.FUTURE_DATED


def test_an_oversized_message_is_refused_unread() -> None:
    out = refused(quote(pad="x" * MAX_RAW_CHARS))
    assert out.reason is Reason.MALFORMED and "exceeds" in out.detail


def test_a_refused_message_still_names_its_sequence_so_it_consumes_it() -> None:
    out = refused(quote(bid="4000"))
    assert (out.symbol, out.seq) == ("WETH", 7)


def test_an_oracle_round_is_scaled_by_its_decimals_and_keyed_by_feed_and_round() -> None:
    feed = "0x" + "Ab" * 20
    raw = json.dumps({"type": "round", "symbol": "WETH", "feed": feed, "round_id": 4,
                      "answer": "300012345678", "decimals": 8,
                      "updated_at": NOW // 10**9})  # fmt: skip
    out = parse_message("chain", raw, NOW, RULES)
    assert isinstance(out, Accepted) and isinstance(out.event, OracleRound)
    assert out.event.price == Decimal("3000.12345678") and not out.gapless
    assert out.key == f"md:chain:{feed.lower()}:4"
    broken = json.dumps({"type": "round", "symbol": "WETH", "feed": feed, "error": "reverted"})
    assert refused(broken).reason is Reason.MALFORMED


def _full_path(raw: str, recv: int = NOW) -> Accepted | Refused:
    data = validate._load(raw)
    return data if isinstance(data, Refused) else validate.parse_loaded("feed", data, raw, recv,
                                                                        RULES)  # fmt: skip


_TIMES = [NOW, NOW - 3_000_000_000, NOW + 600_000_000, NOW + 400_000_000, -1, True, float(NOW)]
_BIDS = ["3000.10", "3000.20", "3000.30", "0", "0.0", "-3000", "+3000.1", " 3000.1", "3000.1\n",
         "1e3", "NaN", "Infinity", "3" * 31, "1." + "1" * 19, "3" * 40, 3000, 3000.1, True, "",
         "3000.", ".5"]  # fmt: skip
_EDGES: dict[str, list[object]] = {
    "type": ["quote", "trade", "Quote", 1, None],
    "symbol": ["WETH", "WBTC", "LINK", "weth", "", "W" * 33, 5, None, ...],
    "seq": [7, 1, 0, -1, True, 7.0, "7", None, ...],
    "ts_ns": [*_TIMES, str(NOW), ...],
    "bid": [*_BIDS, ...],
    "ask": ["3000.20", "3000.10", "0", "-1", "1e4", "9" * 30 + "." + "9" * 9, 3001, ...],
    "bid_size": ["4.5", "0", "0.00", "-4.5", "4.5e0", 4, 4.5, ...],
    "ask_size": ["2", "0", "-2", "2.0000", " 2", 2, ...],
}


def test_the_fast_path_for_clean_quotes_decides_as_the_schema_does() -> None:
    base = quote()
    assert validate._clean_quote("feed", json.loads(base), base, NOW, RULES) is not None
    messages = [base, quote(extra="x"), base.replace("}", ',"bid":"1"}'), "[]", "{}"]
    for field, values in _EDGES.items():
        messages += [quote(**{field: v}) for v in values]
    messages += [quote(bid="3000.30", ask="3000.20"), quote(bid="3000.20", ask="3000.20"),
                 quote(bid="0.000000000000000001", ask="0.000000000000000002")]  # fmt: skip
    accepted = 0
    for raw in messages:
        for recv in (NOW, NOW + 1_999_999_999, NOW + 2_000_000_001, NOW - 500_000_001):
            fast, full = parse_message("feed", raw, recv, RULES), _full_path(raw, recv)
            assert fast == full, raw
            if isinstance(fast, Accepted) and isinstance(full, Accepted):
                # the event built without the validator is the validator's, field by field
                assert fast.event.model_fields_set == full.event.model_fields_set, raw
                assert fast.event.model_dump_json() == full.event.model_dump_json(), raw
                accepted += 1
    assert accepted > 20
