"""The pre-trade gate: `RiskEngine.check` applies every rule and reports every failing reason.

Fail closed: an unknown asset, a missing, stale or future-dated price, or a scenario set that
does not cover the book rejects the order. Rules that need missing data are skipped (they
cannot be evaluated) but the missing data itself is a blocking reason, so no order passes
without every rule having been decided.

Speed: the book's aggregates at a snapshot are computed once (`value_book`) and cached per
(portfolio, snapshot) object pair — both are immutable — so a check costs O(1) in the book
size plus one O(K) update of the scenario losses for the post-trade VaR. VaR is screened in
float64 and re-decided on the exact integer path whenever the float is within its error bound
of the limit, so the verdict equals the exact integer rule's.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

import numpy as np

from . import fixed_point as fp
from .book import BookView, Leg, ScenarioMatrix, scenario_matrix, value_book
from .margin.arrays import RiskArraySet
from .metrics.var import (
    es_within_limit_bps,
    scenario_losses_fixed,
    tail_count_bps,
    var_es_of_partition,
)
from .models import (
    Asset,
    CheckState,
    OrderIntent,
    OrderType,
    Portfolio,
    PricePoint,
    PriceSnapshot,
    Reason,
    RiskPolicy,
    ScenarioSet,
    Side,
    TradingState,
    Verdict,
    VerdictKind,
)

_EPS = float(np.finfo(np.float64).eps)


class ReasonCode(StrEnum):
    """Stable machine-readable reason codes of a verdict."""

    TRADING_HALTED = "TRADING_HALTED"
    REDUCING_ONLY = "REDUCING_ONLY"
    OUTSIDE_TRADING_WINDOW = "OUTSIDE_TRADING_WINDOW"
    INSTRUMENT_NOT_ALLOWED = "INSTRUMENT_NOT_ALLOWED"
    UNKNOWN_ASSET = "UNKNOWN_ASSET"
    COUNTERPARTY_NOT_ALLOWED = "COUNTERPARTY_NOT_ALLOWED"
    RATE_LIMIT = "RATE_LIMIT"
    MAX_ORDER_QUANTITY = "MAX_ORDER_QUANTITY"
    PRICE_MISSING = "PRICE_MISSING"
    PRICE_STALE = "PRICE_STALE"
    PRICE_FROM_FUTURE = "PRICE_FROM_FUTURE"
    PRICE_BAND = "PRICE_BAND"
    SLIPPAGE = "SLIPPAGE"
    MAX_ORDER_NOTIONAL = "MAX_ORDER_NOTIONAL"
    POSITION_LIMIT = "POSITION_LIMIT"
    POSITION_OUT_OF_RANGE = "POSITION_OUT_OF_RANGE"
    ORDER_OUT_OF_RANGE = "ORDER_OUT_OF_RANGE"
    GROSS_EXPOSURE = "GROSS_EXPOSURE"
    NET_EXPOSURE = "NET_EXPOSURE"
    CONCENTRATION = "CONCENTRATION"
    HEALTH_FACTOR = "HEALTH_FACTOR"
    SCENARIOS_MISSING = "SCENARIOS_MISSING"
    VAR_LIMIT = "VAR_LIMIT"
    ES_LIMIT = "ES_LIMIT"
    RISK_ARRAY_MISSING = "RISK_ARRAY_MISSING"
    PORTFOLIO_MARGIN = "PORTFOLIO_MARGIN"
    REVIEW_ORDER_NOTIONAL = "REVIEW_ORDER_NOTIONAL"
    REVIEW_HEALTH_FACTOR = "REVIEW_HEALTH_FACTOR"


_Fail = Callable[[ReasonCode, str], None]


def _usd(value: int, decimals: int = fp.VALUE_DECIMALS) -> str:
    """A fixed-point USD amount for messages, to the cent (display only)."""
    return f"{fp.from_fixed(value, decimals).quantize(Decimal('0.01')):,}"


def _qty(value: int) -> str:
    return f"{fp.from_fixed(value, fp.QTY_DECIMALS).normalize():f}"


def _bps(value: int) -> str:
    return f"{Decimal(value) / 100:f}%"


class RiskEngine:
    """Pre-trade risk checks for one policy, asset list and (optional) scenario set."""

    def __init__(
        self,
        policy: RiskPolicy,
        assets: Mapping[str, Asset] | Iterable[Asset],
        scenarios: ScenarioSet | None = None,
        *,
        cache_size: int = 8,
        risk_arrays: RiskArraySet | None = None,
    ) -> None:
        self.policy = policy
        #: With published risk arrays the gate also applies the portfolio-margin rule.
        self.risk_arrays = risk_arrays
        listed = list(assets.values()) if isinstance(assets, Mapping) else list(assets)
        self.assets: dict[str, Asset] = {a.symbol: a for a in listed}
        if len(self.assets) != len(listed):
            raise ValueError("assets contain duplicate symbols")
        self.scenarios = scenarios
        self._matrix: ScenarioMatrix | None = (
            None
            if scenarios is None
            else scenario_matrix(scenarios.symbols, scenarios.returns_fixed)
        )
        # Each symbol's returns column, made once (a slice per check otherwise).
        self._columns = (
            {} if self._matrix is None
            else {s: self._matrix.returns[:, j] for s, j in self._matrix.column.items()}
        )  # fmt: skip
        self._tail = (
            0 if scenarios is None else tail_count_bps(policy.var_confidence_bps, scenarios.size)
        )
        # w = K(1 − α), the Acerbi–Tasche ES tail weight (m = ⌊w⌋ = self._tail).
        self._tail_weight = (
            0.0
            if scenarios is None
            else scenarios.size * (fp.BPS_SCALE - policy.var_confidence_bps) / fp.BPS_SCALE
        )
        self._instruments = frozenset(policy.instruments)
        self._counterparties = frozenset(policy.counterparties)
        self._fx = policy.fixed_limits()
        self._var_limit = self._fx["max_var"]
        self._es_limit = self._fx["max_es"]
        self._cache: OrderedDict[tuple[int, int], tuple[Portfolio, PriceSnapshot, BookView]] = (
            OrderedDict()
        )
        self._cache_size = cache_size

    def view(self, portfolio: Portfolio, prices: PriceSnapshot) -> BookView:
        """The book valued at `prices`, memoised per (portfolio, snapshot) object pair."""
        key = (id(portfolio), id(prices))
        hit = self._cache.get(key)
        # The entry holds both objects, so their ids cannot be reused while it lives.
        if hit is not None and hit[0] is portfolio and hit[1] is prices:
            self._cache.move_to_end(key)
            return hit[2]
        view = value_book(portfolio, prices, self.assets, self._matrix)
        self._cache[key] = (portfolio, prices, view)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return view

    def check(
        self,
        intent: OrderIntent,
        portfolio: Portfolio,
        prices: PriceSnapshot,
        state: CheckState,
    ) -> Verdict:
        """Apply every rule to `intent` against the book and prices; report every failure."""
        policy = self.policy
        reasons: list[Reason] = []

        def fail(code: ReasonCode, message: str) -> None:
            reasons.append(Reason(code=code, message=message))

        symbol = intent.symbol
        now = state.now
        size = intent.quantity_fixed
        out_of_range = _order_out_of_range(intent, prices)
        if out_of_range is not None:  # no other figure of this order can be computed
            return _verdict(kind=VerdictKind.REJECT, reasons=(out_of_range,),
                            client_order_id=intent.client_order_id, policy_id=policy.policy_id)  # fmt: skip
        book = self.view(portfolio, prices)
        held = portfolio.quantity_fixed(symbol)
        after = held + intent.signed_quantity_fixed

        # -- state, time, identity ----------------------------------------------------------
        if state.trading_state is TradingState.HALTED:
            fail(ReasonCode.TRADING_HALTED, "Trading is HALTED: no order may be sent.")
        elif state.trading_state is TradingState.REDUCING and not _reduces(held, after):
            fail(
                ReasonCode.REDUCING_ONLY,
                f"Trading is REDUCING and this order takes {symbol} from {_qty(held)} to "
                f"{_qty(after)}: only orders that shrink |position| without flipping it pass.",
            )
        window = policy.trading_window
        if window is not None and not window.is_open(now):
            fail(
                ReasonCode.OUTSIDE_TRADING_WINDOW,
                f"Time {now} is outside the trading window {window.start}–{window.end} UTC "
                f"on ISO days {list(window.days)}.",
            )
        if symbol not in self._instruments:
            fail(ReasonCode.INSTRUMENT_NOT_ALLOWED, f"{symbol} is not on the instrument allowlist.")
        asset = self.assets.get(symbol)
        if asset is None:
            fail(ReasonCode.UNKNOWN_ASSET, f"{symbol} is not a known asset.")
        if intent.counterparty not in self._counterparties:
            fail(
                ReasonCode.COUNTERPARTY_NOT_ALLOWED,
                f"Counterparty {intent.counterparty!r} is not on the allowlist.",
            )
        # The window holds at most every order given, so with fewer than the limit there is
        # nothing to count (a busy desk under a high limit passes hundreds of times per check).
        recent = 0
        if len(state.recent_order_times) >= policy.max_orders_per_window:
            start = now - policy.rate_window_seconds
            # C-speed counting (sorted() is linear on the already-ordered times callers pass)
            times = sorted(state.recent_order_times)
            recent = bisect_right(times, now) - bisect_right(times, start)
        if recent + 1 > policy.max_orders_per_window:
            fail(
                ReasonCode.RATE_LIMIT,
                f"{recent} orders in the last {policy.rate_window_seconds}s already; the limit "
                f"is {policy.max_orders_per_window} per window.",
            )
        if size > self._fx["max_order_quantity"]:
            fail(
                ReasonCode.MAX_ORDER_QUANTITY,
                f"Order size {intent.quantity} exceeds the maximum {policy.max_order_quantity}.",
            )

        # -- market data (fail closed) ------------------------------------------------------
        quote = policy.quote_symbol
        ref = self._price(prices, symbol, now, fail)
        quote_point = self._price(prices, quote, now, fail)
        self._book_data(book, prices, now, (symbol, quote), fail)
        if quote not in self.assets:
            fail(ReasonCode.UNKNOWN_ASSET, f"Quote asset {quote} is not a known asset.")

        # -- order price rules --------------------------------------------------------------
        exec_price = 0
        notional = 0
        if ref is not None:
            r = ref.price_fixed
            exec_price = self._execution_price(intent, r, fail)
            notional = size * max(exec_price, r)
            if notional > self._fx["max_order_notional"]:
                fail(
                    ReasonCode.MAX_ORDER_NOTIONAL,
                    f"Order notional ${_usd(notional)} exceeds the maximum "
                    f"${policy.max_order_notional_usd:,}.",
                )
        limit = policy.position_limit_fixed(symbol)
        if abs(after) > limit:
            fail(
                ReasonCode.POSITION_LIMIT,
                f"Position in {symbol} would be {_qty(after)}, beyond the limit ±{_qty(limit)}.",
            )

        # -- post-trade book ----------------------------------------------------------------
        hf_bps: int | None = None
        var_usd: Decimal | None = None
        complete = (
            ref is not None
            and quote_point is not None
            and asset is not None
            and quote in self.assets
            and not book.missing_assets
            and not book.missing_prices
        )
        if complete and ref is not None and asset is not None and quote_point is not None:
            deltas = {symbol: intent.signed_quantity_fixed}
            pay = size * exec_price  # VALUE scale; ÷ quote price gives QTY scale
            qp = quote_point.price_fixed
            # The quote leg pays for the trade at the worst price, rounded against the desk.
            quote_delta = (-pay) // qp if intent.side is Side.BUY else pay // qp
            deltas[quote] = deltas.get(quote, 0) + quote_delta
            post = self._post_trade(book, deltas, {symbol: asset, quote: self.assets[quote]},
                                    {symbol: ref, quote: quote_point})  # fmt: skip
            hf_bps, var_usd = self._post_trade_rules(book, post, deltas, portfolio, fail)
            if self.risk_arrays is not None:
                _margin_rule(self.risk_arrays, portfolio, deltas, fail)
            review = policy.review_health_factor_bps
            if review is not None and post.debt and post.weighted < review * post.debt:
                reasons.append(_review(ReasonCode.REVIEW_HEALTH_FACTOR,
                    f"Post-trade health factor {_bps(post.weighted // post.debt)} is below the "
                    f"review level {_bps(review)}."))  # fmt: skip
        review_notional = self._fx["review_order_notional"]
        if ref is not None and 0 <= review_notional < notional:
            reasons.append(_review(ReasonCode.REVIEW_ORDER_NOTIONAL,
                f"Order notional ${_usd(notional)} is above the review threshold "
                f"${policy.review_order_notional_usd:,}."))  # fmt: skip

        if any(r.blocking for r in reasons):
            kind = VerdictKind.REJECT
        elif reasons:
            kind = VerdictKind.FLAG_FOR_REVIEW
        else:
            kind = VerdictKind.APPROVE
        return _verdict(
            kind=kind,
            reasons=tuple(reasons),
            client_order_id=intent.client_order_id,
            policy_id=policy.policy_id,
            post_trade_health_factor_bps=hf_bps,
            post_trade_var_usd=var_usd,
        )

    # -- helpers ----------------------------------------------------------------------------

    def _price(
        self, prices: PriceSnapshot, symbol: str, now: int, fail: _Fail
    ) -> PricePoint | None:
        point = prices.prices.get(symbol)
        if point is None:
            fail(
                ReasonCode.PRICE_MISSING, f"No price for {symbol} in snapshot {prices.snapshot_id}."
            )
            return None
        _freshness(self.policy, symbol, point.timestamp, now, fail)
        return point

    def _book_data(
        self,
        book: BookView,
        prices: PriceSnapshot,
        now: int,
        already: tuple[str, ...],
        fail: _Fail,
    ) -> None:
        for s in book.missing_assets:
            if s not in already:
                fail(ReasonCode.UNKNOWN_ASSET, f"Book position {s} is not a known asset.")
        for s in book.missing_prices:
            if s not in already:
                fail(ReasonCode.PRICE_MISSING, f"No price for book position {s}.")
        policy = self.policy
        if (
            now - book.oldest_price > policy.max_price_age_seconds
            or book.newest_price > now + policy.max_clock_skew_seconds
        ):
            symbols = list(book.legs)
            if book.margin_symbol is not None:
                symbols.append(book.margin_symbol)
            for s in dict.fromkeys(symbols):
                point = prices.prices.get(s)
                if s not in already and point is not None:
                    _freshness(policy, s, point.timestamp, now, fail)

    def _execution_price(self, intent: OrderIntent, ref: int, fail: _Fail) -> int:
        """The worst price the order may execute at, PRICE scale; checks band and slippage."""
        policy = self.policy
        scale = fp.BPS_SCALE
        buy = intent.side is Side.BUY
        limit = intent.limit_price_fixed
        if intent.order_type is OrderType.LIMIT and limit is not None:
            if abs(limit - ref) * scale > policy.price_band_bps * ref:
                fail(
                    ReasonCode.PRICE_BAND,
                    f"Limit {intent.limit_price} is more than {_bps(policy.price_band_bps)} from "
                    f"the reference price {fp.from_fixed(ref, fp.PRICE_DECIMALS)}.",
                )
            adverse = limit - ref if buy else ref - limit
            if adverse * scale > policy.max_slippage_bps * ref:
                fail(
                    ReasonCode.SLIPPAGE,
                    f"Limit {intent.limit_price} allows more than {_bps(policy.max_slippage_bps)} "
                    f"adverse slippage from {fp.from_fixed(ref, fp.PRICE_DECIMALS)}.",
                )
            return limit
        slip = intent.max_slippage_bps or 0
        if slip > policy.max_slippage_bps:
            fail(
                ReasonCode.SLIPPAGE,
                f"Slippage tolerance {_bps(slip)} exceeds the maximum "
                f"{_bps(policy.max_slippage_bps)}.",
            )
        if buy:
            return -(-ref * (scale + slip) // scale)
        return ref * (scale - slip) // scale

    def _post_trade(
        self,
        book: BookView,
        deltas: Mapping[str, int],
        assets: Mapping[str, Asset],
        points: Mapping[str, PricePoint],
    ) -> _Post:
        weighted, debt, long, short = book.weighted, book.debt, book.long, book.short
        new_legs: dict[str, Leg] = {}
        for s, d in deltas.items():
            old = book.legs.get(s)
            if old is None:
                old = Leg(s, 0, points[s].price_fixed, assets[s].liquidation_threshold_bps)
            new = Leg(s, old.quantity + d, old.price, old.lt_bps)
            new_legs[s] = new
            weighted += new.weighted - old.weighted
            debt += new.debt_value - old.debt_value
            for leg, sign in ((old, -1), (new, 1)):
                n = leg.notional
                if n >= 0:
                    long += sign * n
                else:
                    short -= sign * n
        return _Post(new_legs, weighted, debt, long, short)

    def _post_trade_rules(
        self,
        book: BookView,
        post: _Post,
        deltas: Mapping[str, int],
        portfolio: Portfolio,
        fail: _Fail,
    ) -> tuple[int | None, Decimal | None]:
        policy = self.policy
        for s, leg in post.legs.items():
            if abs(leg.quantity) >= 1 << fp.QTY_BITS:
                fail(ReasonCode.POSITION_OUT_OF_RANGE,
                     f"Post-trade {s} position exceeds the {fp.QTY_BITS}-bit range.")  # fmt: skip
        gross, net = post.long + post.short, post.long - post.short
        if gross > self._fx["max_gross_exposure"]:
            fail(
                ReasonCode.GROSS_EXPOSURE,
                f"Post-trade gross exposure ${_usd(gross)} exceeds the cap "
                f"${policy.max_gross_exposure_usd:,}.",
            )
        if abs(net) > self._fx["max_net_exposure"]:
            fail(
                ReasonCode.NET_EXPOSURE,
                f"Post-trade net exposure ${_usd(net)} exceeds the cap ±"
                f"${policy.max_net_exposure_usd:,}.",
            )
        self._concentration(book, post, gross, fail)

        hf_bps = None if post.debt == 0 else post.weighted // post.debt
        if post.weighted < policy.min_health_factor_bps * post.debt:
            fail(
                ReasonCode.HEALTH_FACTOR,
                f"Post-trade health factor {_bps(hf_bps or 0)} is below the minimum "
                f"{_bps(policy.min_health_factor_bps)}.",
            )
        return hf_bps, self._var_rules(book, post, deltas, portfolio, fail)

    def _concentration(self, book: BookView, post: _Post, gross: int, fail: _Fail) -> None:
        policy = self.policy
        cap = policy.max_concentration_bps
        if gross == 0 or gross < self._fx["concentration_min_gross"]:
            return
        unchanged = [a for a, s in book.top_abs_notional if s not in post.legs]
        largest = max([abs(leg.notional) for leg in post.legs.values()] + unchanged[:1])
        if largest * fp.BPS_SCALE <= cap * gross:
            return
        legs = {**book.legs, **post.legs}
        for s, leg in legs.items():
            if abs(leg.notional) * fp.BPS_SCALE > cap * gross:
                fail(
                    ReasonCode.CONCENTRATION,
                    f"{s} would be {_bps(abs(leg.notional) * fp.BPS_SCALE // gross)} of gross "
                    f"exposure, above the cap {_bps(cap)}.",
                )

    def _var_rules(
        self,
        book: BookView,
        post: _Post,
        deltas: Mapping[str, int],
        portfolio: Portfolio,
        fail: _Fail,
    ) -> Decimal | None:
        matrix = self._matrix
        if matrix is None or book.losses is None:
            fail(ReasonCode.SCENARIOS_MISSING, "No scenario set: post-trade VaR cannot be checked.")
            return None
        column = matrix.column
        if book.missing_scenarios or any(s not in column for s in deltas):
            uncovered = sorted(set(book.missing_scenarios) | {s for s in deltas if s not in column})
            fail(
                ReasonCode.SCENARIOS_MISSING,
                f"The scenario set has no returns for {', '.join(uncovered)}.",
            )
            return None
        # The first update writes a new array (book.losses is cached, never changed): the same
        # IEEE subtraction as copying and subtracting in place, one pass fewer.
        losses: Any = book.losses
        moved = 0.0
        first = True
        for s, d in deltas.items():
            dv = d * post.legs[s].price / fp.VALUE_SCALE
            step = dv * self._columns[s]
            if first:
                losses = np.subtract(losses, step)
                first = False
            else:
                losses -= step
            moved += abs(dv)
        if first:
            losses = losses.copy()
        # In place: `losses` is this check's own array (np.partition would copy it first).
        losses.partition(matrix.k - 1 - self._tail)
        var, es = var_es_of_partition(losses, self._tail, self._tail_weight)
        # Each float loss is within `tol` of the exact one, so the order statistic is too, and so
        # is ES: a weighted mean of tail losses whose weights sum to 1.
        tol = (
            8
            * (len(book.legs) + 8)
            * _EPS
            * (book.abs_value_usd + 2 * moved)
            * (matrix.max_abs_return + 1)
            + 1e-9
        )
        var_limit = self._var_limit / fp.LOSS_SCALE
        es_limit = self._es_limit / fp.LOSS_SCALE
        near = abs(var - var_limit) <= tol or (self._es_limit >= 0 and abs(es - es_limit) <= tol)
        if near:
            exact = self._exact_losses(book, post, portfolio, matrix)
            ordered = sorted(exact, reverse=True)
            var_fixed = ordered[self._tail]
            var_over = var_fixed > self._var_limit
            es_over = self._es_limit >= 0 and not es_within_limit_bps(
                exact, self.policy.var_confidence_bps, self._es_limit
            )
            var_out = fp.from_fixed(var_fixed, fp.LOSS_DECIMALS)
        else:
            var_over = var > var_limit
            es_over = self._es_limit >= 0 and es > es_limit
            var_out = Decimal(repr(var))
        if var_over or es_over:
            self._tail_failures(var_over, es_over, var_out, es, fail)
        return var_out

    def _tail_failures(
        self, var_over: bool, es_over: bool, var_out: Decimal, es: float, fail: _Fail
    ) -> None:
        alpha = f"α = {self.policy.var_confidence_bps / 100}%"
        if var_over:
            fail(
                ReasonCode.VAR_LIMIT,
                f"Post-trade historical VaR at {alpha} is ${var_out.quantize(Decimal('0.01')):,}, "
                f"above the limit ${self.policy.max_var_usd:,}.",
            )
        if es_over:
            fail(
                ReasonCode.ES_LIMIT,
                f"Post-trade historical ES at {alpha} is ${Decimal(repr(es)).quantize(Decimal('0.01')):,}, "
                f"above the limit ${self.policy.max_es_usd:,}.",
            )

    @staticmethod
    def _exact_losses(
        book: BookView, post: _Post, portfolio: Portfolio, matrix: ScenarioMatrix
    ) -> list[int]:
        """The post-trade losses on the exact integer path (LOSS scale)."""
        n = len(matrix.column)
        quantities = [0] * n
        prices = [0] * n
        for s, leg in {**book.legs, **post.legs}.items():
            quantities[matrix.column[s]] += leg.quantity
            prices[matrix.column[s]] = leg.price
        if book.margin_symbol is not None:
            j = matrix.column[book.margin_symbol]
            quantities[j] += book.margin
            prices[j] = book.margin_price
        return scenario_losses_fixed(quantities, prices, matrix.returns_fixed)


class _Post:
    __slots__ = ("debt", "legs", "long", "short", "weighted")

    def __init__(self, legs: dict[str, Leg], weighted: int, debt: int, long: int, short: int):
        self.legs, self.weighted, self.debt, self.long, self.short = (
            legs,
            weighted,
            debt,
            long,
            short,
        )


_MAX_NOTIONAL_FIXED: Final = fp.MAX_NOTIONAL_USD * fp.VALUE_SCALE


def _order_out_of_range(intent: OrderIntent, prices: PriceSnapshot) -> Reason | None:
    """An order whose quantity times its dearest price (the reference or its limit) reaches
    fixed_point.MAX_NOTIONAL_USD: the USD figures cannot hold its notional, so it is refused
    before any rule computes one (a file is refused at load time; an API body or a strategy's
    intent gets here)."""
    point = prices.prices.get(intent.symbol)
    dearest = max(0 if point is None else point.price_fixed, intent.limit_price_fixed or 0)
    if intent.quantity_fixed * dearest < _MAX_NOTIONAL_FIXED:
        return None
    return Reason(code=ReasonCode.ORDER_OUT_OF_RANGE, message=(
        f"Order {intent.quantity} {intent.symbol} at up to {fp.from_fixed(dearest, fp.PRICE_DECIMALS)}"
        f" USD reaches the largest notional the engine holds (${fp.MAX_NOTIONAL_USD:,}): "
        "split it or check its quantity and price."))  # fmt: skip


def _margin_rule(
    arrays: RiskArraySet, portfolio: Portfolio, deltas: Mapping[str, int], fail: _Fail
) -> None:
    """Post-trade SPAN requirement ≤ margin held (engine/risk/margin); fail closed on a book
    instrument without a published risk array or a margin asset that is not collateral."""
    after = dict(portfolio.quantities_fixed())
    for s, d in deltas.items():
        after[s] = after.get(s, 0) + d
    missing = arrays.missing([s for s, q in after.items() if q])
    if missing:
        fail(ReasonCode.RISK_ARRAY_MISSING,
             f"No risk array for {', '.join(missing)}: portfolio margin cannot be decided.")  # fmt: skip
        return
    try:
        held = arrays.margin_held(portfolio)
    except ValueError as exc:
        fail(ReasonCode.RISK_ARRAY_MISSING, f"{str(exc)[0].upper()}{str(exc)[1:]}.")
        return
    margin = arrays.requirement(after)
    if not margin.covered_by(held):
        worst = arrays.scenarios[margin.worst_scenario]
        fail(
            ReasonCode.PORTFOLIO_MARGIN,
            f"Post-trade portfolio-margin requirement ${_usd(margin.requirement)} (worst "
            f"scenario: {worst}) exceeds the margin held ${_usd(held)}.",
        )


def _reduces(held: int, after: int) -> bool:
    """True when the order shrinks |position| and does not flip its sign."""
    return held != 0 and abs(after) < abs(held) and (after == 0 or (after > 0) == (held > 0))


def _freshness(policy: RiskPolicy, symbol: str, stamp: int, now: int, fail: _Fail) -> None:
    age = now - stamp
    if age > policy.max_price_age_seconds:
        fail(
            ReasonCode.PRICE_STALE,
            f"Price of {symbol} is {age}s old; the maximum age is {policy.max_price_age_seconds}s.",
        )
    elif -age > policy.max_clock_skew_seconds:
        fail(
            ReasonCode.PRICE_FROM_FUTURE,
            f"Price of {symbol} is stamped {-age}s in the future "
            f"(allowed skew {policy.max_clock_skew_seconds}s).",
        )


_VERDICT_FIELDS = frozenset(Verdict.model_fields)


def _verdict(**fields: Any) -> Verdict:
    """A Verdict from values the engine built itself, skipping re-validation.

    Equivalent to Verdict.model_construct with every field given, at a third of its cost
    (it sits on the pre-trade hot path).
    """
    verdict = Verdict.__new__(Verdict)
    object.__setattr__(verdict, "__dict__", fields)
    object.__setattr__(verdict, "__pydantic_fields_set__", set(_VERDICT_FIELDS))
    object.__setattr__(verdict, "__pydantic_extra__", None)
    object.__setattr__(verdict, "__pydantic_private__", None)
    return verdict


def _review(code: ReasonCode, message: str) -> Reason:
    return Reason(code=code, message=message, blocking=False)
