"""The risk domain's data: frozen pydantic models with exact decimals and their fixed-point forms.

Every model is immutable and refuses unknown fields. Numbers that later enter a circuit are
validated against their fixed-point scale here, so a model that exists can always be encoded;
the fixed-point ints are computed once at construction and kept in private attributes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Self, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    field_validator,
    model_validator,
)

from . import fixed_point as fp

# The plain enums live in `kinds` (no pydantic, no numpy: the CLI offers them as choices).
from .kinds import OrderType as OrderType
from .kinds import Side as Side
from .kinds import TradingState as TradingState
from .kinds import VerdictKind as VerdictKind

if TYPE_CHECKING:  # numpy loads in the one method that needs it: the models load everywhere
    import numpy as np
    import numpy.typing as npt


def _refuse_float(value: object) -> object:
    # Binary floats would smuggle rounding into exact fixed point; policy loaders parse
    # decimals from the text, so only code can get here with a float.
    if isinstance(value, float):
        raise ValueError(f"float {value!r} refused: pass a str or Decimal, e.g. '{value}'")
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    return value


ExactDecimal = Annotated[Decimal, BeforeValidator(_refuse_float)]
Symbol = Annotated[
    str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9._-]{0,31}$", min_length=1, max_length=32)
]
Bps = Annotated[int, Field(ge=0, le=fp.BPS_SCALE)]
UnixSeconds = Annotated[int, Field(ge=0, lt=2**fp.TIMESTAMP_BITS)]

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_M = TypeVar("_M", bound=BaseModel)


def _private(model: BaseModel, name: str) -> Any:
    # Direct read: BaseModel.__getattr__ for private attributes costs ~1 µs on the hot path.
    return model.__pydantic_private__[name]  # type: ignore[index]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


def usd_to_value(x: Decimal, *, name: str) -> int:
    """A USD amount at VALUE scale (quantity · price), wide enough for a whole book."""
    return fp.to_fixed(x, fp.VALUE_DECIMALS, fp.VALUE_BITS + 8, name=name)


def usd_to_loss(x: Decimal, *, name: str) -> int:
    """A USD amount at LOSS scale (quantity · price · return)."""
    return fp.to_fixed(x, fp.LOSS_DECIMALS, fp.VALUE_BITS + fp.RETURN_BITS + 8, name=name)


class Asset(_Frozen):
    """A tradable asset and its lending parameters (Aave v3 reserve style)."""

    symbol: Symbol
    """Ticker, upper case, e.g. 'WETH'; the key used by positions, prices and scenarios."""
    decimals: int = Field(ge=0, le=36)
    """The token's on-chain decimals (ERC-20 `decimals()`); used when moving amounts on-chain."""
    liquidation_threshold_bps: Bps
    """Share of the asset's value counted as collateral in the health factor, in bps."""
    collateral_factor_bps: Bps
    """Loan-to-value: share of the value that can be borrowed against, in bps (≤ threshold)."""
    price_source: str = Field(min_length=1)
    """Where the price comes from, e.g. 'chainlink:ETH/USD'."""

    @model_validator(mode="after")
    def _factor_below_threshold(self) -> Self:
        if self.collateral_factor_bps > self.liquidation_threshold_bps:
            raise ValueError(
                f"collateral_factor_bps ({self.collateral_factor_bps}) must not exceed "
                f"liquidation_threshold_bps ({self.liquidation_threshold_bps})"
            )
        return self


class Position(_Frozen):
    """A holding in one asset. Signed: quantity > 0 is long / collateral, < 0 short / debt."""

    symbol: Symbol
    """The asset's symbol."""
    quantity: ExactDecimal
    """Signed amount in asset units, at most QTY_DECIMALS decimals, |q·10^8| < 2^80."""

    _quantity_fixed: int = PrivateAttr(default=0)

    def model_post_init(self, context: Any, /) -> None:
        self._quantity_fixed = fp.to_qty(self.quantity, name=f"position {self.symbol} quantity")

    @property
    def quantity_fixed(self) -> int:
        """Signed quantity at QTY scale."""
        value: int = _private(self, "_quantity_fixed")
        return value

    @property
    def collateral(self) -> Decimal:
        """max(quantity, 0): the collateral slot."""
        return max(self.quantity, Decimal(0))

    @property
    def debt(self) -> Decimal:
        """max(-quantity, 0): the debt slot."""
        return max(-self.quantity, Decimal(0))


class Portfolio(_Frozen):
    """A desk's private book plus the margin escrowed in the vault."""

    account: str
    """The owner: a 0x-prefixed 20-byte hex address (stored lower case)."""
    positions: tuple[Position, ...] = ()
    """The book, at most MAX_POSITIONS positions with unique symbols."""
    margin: ExactDecimal = Field(default=Decimal(0), ge=0)
    """Margin escrowed in the vault, in units of `margin_symbol`; counts as collateral."""
    margin_symbol: Symbol | None = None
    """The vault's margin asset; required when margin > 0."""

    _by_symbol: dict[str, int] = PrivateAttr(default_factory=dict)
    _margin_fixed: int = PrivateAttr(default=0)

    @field_validator("account")
    @classmethod
    def _check_account(cls, value: str) -> str:
        if not _ADDRESS.match(value):
            raise ValueError(f"account {value!r} is not a 0x-prefixed 20-byte hex address")
        return value.lower()

    @model_validator(mode="after")
    def _check_book(self) -> Self:
        symbols = [p.symbol for p in self.positions]
        duplicates = sorted({s for s in symbols if symbols.count(s) > 1})
        if duplicates:
            raise ValueError(f"duplicate position symbols: {', '.join(duplicates)}")
        if len(symbols) > fp.MAX_POSITIONS:
            raise ValueError(f"{len(symbols)} positions exceed MAX_POSITIONS={fp.MAX_POSITIONS}")
        if self.margin > 0 and self.margin_symbol is None:
            raise ValueError("margin > 0 needs margin_symbol")
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._by_symbol = {p.symbol: p.quantity_fixed for p in self.positions}
        self._margin_fixed = fp.to_fixed(self.margin, fp.QTY_DECIMALS, fp.QTY_BITS, name="margin")

    @property
    def margin_fixed(self) -> int:
        """Margin at QTY scale."""
        value: int = _private(self, "_margin_fixed")
        return value

    def quantity_fixed(self, symbol: str) -> int:
        """Signed book quantity of `symbol` at QTY scale (0 when flat)."""
        held: dict[str, int] = _private(self, "_by_symbol")
        return held.get(symbol, 0)

    def quantities_fixed(self) -> Mapping[str, int]:
        """Every book position's signed quantity at QTY scale."""
        value: Mapping[str, int] = _private(self, "_by_symbol")
        return value


class PricePoint(_Frozen):
    """One oracle observation."""

    price: ExactDecimal = Field(gt=0)
    """USD price, at most PRICE_DECIMALS decimals, below 2^64 / 10^8."""
    timestamp: UnixSeconds
    """Oracle update time (unix seconds, `updatedAt`)."""
    round_id: int = Field(ge=0, lt=2**fp.ROUND_ID_BITS)
    """Oracle round id (Chainlink uint80)."""

    _price_fixed: int = PrivateAttr(default=0)

    def model_post_init(self, context: Any, /) -> None:
        self._price_fixed = fp.to_price(self.price)

    @property
    def price_fixed(self) -> int:
        """Price at PRICE scale."""
        value: int = _private(self, "_price_fixed")
        return value


SYMBOL_TEXT = re.compile(r"[A-Z0-9][A-Z0-9._-]{0,31}")
_ADDRESS_TEXT = re.compile(r"0x[0-9a-fA-F]{40}")


def assembled(
    cls: type[_M], fields: dict[str, Any], given: set[str], private: dict[str, Any] | None
) -> _M:
    """A model from values already checked as its validators check them, without running
    pydantic (what `model_construct` does, a few times faster): `given` is the fields set."""
    model = cls.__new__(cls)
    object.__setattr__(model, "__dict__", fields)
    object.__setattr__(model, "__pydantic_fields_set__", given)
    object.__setattr__(model, "__pydantic_extra__", None)
    object.__setattr__(model, "__pydantic_private__", private)
    return model


_POSITION_GIVEN = frozenset({"symbol", "quantity"})
_PORTFOLIO_GIVEN = frozenset({"account", "positions"})
_POINT_GIVEN = frozenset({"price", "timestamp", "round_id"})
_ZERO = Decimal(0)


def book_position(symbol: str, quantity: Decimal) -> Position:
    """`Position(symbol=symbol, quantity=quantity)`, equal in every respect, checked the same
    way but built directly when the values are plainly valid (the paper gate builds its book
    on every fill); anything else goes through the validator, which refuses it as it would."""
    if type(symbol) is str and type(quantity) is Decimal and SYMBOL_TEXT.fullmatch(symbol):
        try:
            fixed = fp.to_qty(quantity, name=f"position {symbol} quantity")
        except ValueError:
            pass
        else:
            return assembled(Position, {"symbol": symbol, "quantity": quantity},
                              set(_POSITION_GIVEN), {"_quantity_fixed": fixed})  # fmt: skip
    return Position(symbol=symbol, quantity=quantity)


def book_portfolio(account: str, positions: tuple[Position, ...]) -> Portfolio:
    """`Portfolio(account=account, positions=positions)` as `book_position` builds a position."""
    symbols = {p.symbol for p in positions}
    if (
        type(account) is str
        and _ADDRESS_TEXT.fullmatch(account)
        and all(type(p) is Position for p in positions)
        and len(symbols) == len(positions) <= fp.MAX_POSITIONS
    ):
        fields = {"account": account.lower(), "positions": positions, "margin": _ZERO,
                  "margin_symbol": None}  # fmt: skip
        private = {"_by_symbol": {p.symbol: p.quantity_fixed for p in positions},
                   "_margin_fixed": 0}  # fmt: skip
        return assembled(Portfolio, fields, set(_PORTFOLIO_GIVEN), private)
    return Portfolio(account=account, positions=positions)


def price_point(price: Decimal, timestamp: int, round_id: int) -> PricePoint:
    """`PricePoint(price=..., timestamp=..., round_id=...)` as `book_position` builds one."""
    if (
        type(price) is Decimal
        and price.is_finite()
        and price > 0
        and type(timestamp) is int
        and 0 <= timestamp < 2**fp.TIMESTAMP_BITS
        and type(round_id) is int
        and 0 <= round_id < 2**fp.ROUND_ID_BITS
    ):
        try:
            fixed = fp.to_price(price)
        except ValueError:
            pass
        else:
            fields = {"price": price, "timestamp": timestamp, "round_id": round_id}
            return assembled(PricePoint, fields, set(_POINT_GIVEN), {"_price_fixed": fixed})
    return PricePoint(price=price, timestamp=timestamp, round_id=round_id)


_SNAPSHOT_GIVEN = frozenset({"prices", "snapshot_id", "taken_at"})


def price_snapshot(
    prices: Mapping[str, PricePoint], snapshot_id: int, taken_at: int
) -> PriceSnapshot:
    """`PriceSnapshot(prices=..., snapshot_id=..., taken_at=...)` as `book_position` builds a
    position (the paper gate builds one per intent; its points are already models)."""
    if (
        type(prices) is dict
        and type(snapshot_id) is int
        and 0 <= snapshot_id < 2**fp.SNAPSHOT_ID_BITS
        and type(taken_at) is int
        and 0 <= taken_at < 2**fp.TIMESTAMP_BITS
        and all(
            type(s) is str and type(p) is PricePoint and SYMBOL_TEXT.fullmatch(s)
            for s, p in prices.items()
        )
    ):
        fields = {"prices": dict(prices), "snapshot_id": snapshot_id, "taken_at": taken_at}
        return assembled(PriceSnapshot, fields, set(_SNAPSHOT_GIVEN), None)
    return PriceSnapshot(prices=prices, snapshot_id=snapshot_id, taken_at=taken_at)


class PriceSnapshot(_Frozen):
    """The oracle prices a verdict or proof is computed at."""

    prices: dict[Symbol, PricePoint]
    """Latest price per symbol."""
    snapshot_id: int = Field(ge=0, lt=2**fp.SNAPSHOT_ID_BITS)
    """Monotone id of this snapshot (bound into proofs)."""
    taken_at: UnixSeconds
    """When the snapshot was assembled (unix seconds)."""


class ScenarioSet(_Frozen):
    """K historical return vectors over a fixed list of symbols (historical simulation)."""

    symbols: tuple[Symbol, ...] = Field(min_length=1)
    """Column order of every return vector; unique."""
    returns: tuple[tuple[ExactDecimal, ...], ...] = Field(min_length=1, max_length=fp.MAX_SCENARIOS)
    """K rows, one per scenario, each a simple return per symbol (-1 ≤ r, 6 decimals)."""

    _fixed: tuple[tuple[int, ...], ...] = PrivateAttr(default=())
    _hash: str = PrivateAttr(default="")

    def model_post_init(self, context: Any, /) -> None:
        # Shape first: pydantic runs model_post_init before "after" validators.
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError("scenario symbols must be unique")
        width = len(self.symbols)
        for k, row in enumerate(self.returns):
            if len(row) != width:
                raise ValueError(f"scenario {k} has {len(row)} returns, expected {width}")
        self._fixed = tuple(
            tuple(
                fp.to_return(r, name=f"scenario {k} {s} return")
                for s, r in zip(self.symbols, row, strict=True)
            )
            for k, row in enumerate(self.returns)
        )
        self._hash = hashlib.sha256(self.canonical_encoding()).hexdigest()

    def canonical_encoding(self) -> bytes:
        """'zkrisk/scenarios/v1', then the symbols, then one line per scenario of fixed ints."""
        lines = ["zkrisk/scenarios/v1", ",".join(self.symbols)]
        lines.extend(",".join(map(str, row)) for row in self._fixed)
        return ("\n".join(lines) + "\n").encode()

    @property
    def content_hash(self) -> str:
        """sha256 hex of `canonical_encoding()`: equal sets hash equal, any change differs."""
        value: str = _private(self, "_hash")
        return value

    @property
    def returns_fixed(self) -> tuple[tuple[int, ...], ...]:
        """Returns at RETURN scale, K rows × len(symbols)."""
        value: tuple[tuple[int, ...], ...] = _private(self, "_fixed")
        return value

    def returns_matrix(self) -> npt.NDArray[np.float64]:
        """Returns as a float64 K × n matrix (for the fast screening path)."""
        import numpy as np

        return np.asarray(self._fixed, dtype=np.float64) / fp.RETURN_SCALE

    @property
    def size(self) -> int:
        """K, the number of scenarios."""
        return len(self.returns)


class OrderIntent(_Frozen):
    """An order a strategy wants to send, before the pre-trade gate."""

    client_order_id: str = Field(min_length=1, max_length=64)
    """Idempotency key chosen by the client."""
    symbol: Symbol
    """Instrument to trade."""
    side: Side
    """BUY grows the signed position, SELL shrinks it."""
    quantity: ExactDecimal = Field(gt=0)
    """Order size in asset units (> 0, at most QTY_DECIMALS decimals)."""
    order_type: OrderType = OrderType.LIMIT
    """LIMIT needs `limit_price`; MARKET needs `max_slippage_bps`."""
    limit_price: ExactDecimal | None = Field(default=None, gt=0)
    """Worst acceptable price of a LIMIT order, USD."""
    max_slippage_bps: Bps | None = None
    """Slippage tolerance of a MARKET order versus the reference price, in bps."""
    counterparty: str = Field(min_length=1)
    """Venue or counterparty the order goes to."""
    strategy_id: str = ""
    """The strategy that emitted the intent (for metrics and audit)."""

    _qty_fixed: int = PrivateAttr(default=0)
    _limit_fixed: int | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check_type(self) -> Self:
        if self.order_type is OrderType.LIMIT and self.limit_price is None:
            raise ValueError("a LIMIT order needs limit_price")
        if self.order_type is OrderType.MARKET:
            if self.limit_price is not None:
                raise ValueError("a MARKET order must not carry limit_price")
            if self.max_slippage_bps is None:
                raise ValueError("a MARKET order needs max_slippage_bps (unbounded otherwise)")
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._qty_fixed = fp.to_fixed(
            self.quantity, fp.QTY_DECIMALS, fp.QTY_BITS, name="order quantity"
        )
        if self.limit_price is not None:
            self._limit_fixed = fp.to_price(self.limit_price, name="limit_price")

    @property
    def quantity_fixed(self) -> int:
        """Unsigned order size at QTY scale."""
        value: int = _private(self, "_qty_fixed")
        return value

    @property
    def signed_quantity_fixed(self) -> int:
        """+size for BUY, -size for SELL, at QTY scale."""
        size = self.quantity_fixed
        return size if self.side is Side.BUY else -size

    @property
    def limit_price_fixed(self) -> int | None:
        """Limit price at PRICE scale, None for MARKET."""
        value: int | None = _private(self, "_limit_fixed")
        return value


_LIMIT_GIVEN = frozenset(
    {"client_order_id", "symbol", "side", "quantity", "limit_price", "counterparty", "strategy_id"}
)


def limit_intent(
    client_order_id: str,
    symbol: str,
    side: Side,
    quantity: Decimal,
    limit_price: Decimal,
    counterparty: str,
    strategy_id: str,
) -> OrderIntent:
    """`OrderIntent(...)` of a LIMIT order given these fields, as `book_position` builds a
    position: direct when every value is plainly valid (the signal stage builds one per
    decision), else through the validator, which refuses it as it would."""
    if (
        type(client_order_id) is str
        and 1 <= len(client_order_id) <= 64
        and type(symbol) is str
        and SYMBOL_TEXT.fullmatch(symbol)
        and type(side) is Side
        and type(quantity) is Decimal
        and quantity.is_finite()
        and quantity > 0
        and type(limit_price) is Decimal
        and limit_price.is_finite()
        and limit_price > 0
        and type(counterparty) is str
        and counterparty
        and type(strategy_id) is str
    ):
        try:
            size = fp.to_fixed(quantity, fp.QTY_DECIMALS, fp.QTY_BITS, name="order quantity")
            limit = fp.to_price(limit_price, name="limit_price")
        except ValueError:
            pass
        else:
            fields = {"client_order_id": client_order_id, "symbol": symbol, "side": side,
                      "quantity": quantity, "order_type": OrderType.LIMIT,
                      "limit_price": limit_price, "max_slippage_bps": None,
                      "counterparty": counterparty, "strategy_id": strategy_id}  # fmt: skip
            private = {"_qty_fixed": size, "_limit_fixed": limit}
            return assembled(OrderIntent, fields, set(_LIMIT_GIVEN), private)
    return OrderIntent(client_order_id=client_order_id, symbol=symbol, side=side,
                       quantity=quantity, limit_price=limit_price, counterparty=counterparty,
                       strategy_id=strategy_id)  # fmt: skip


def _parse_time(value: object) -> object:
    # YAML 1.1 reads an unquoted 22:00 as the integer 1320: refuse numbers outright.
    if isinstance(value, int | float):
        raise ValueError(f"time {value!r} must be a 'HH:MM' string (quote it in YAML)")
    return value


WallTime = Annotated[time, BeforeValidator(_parse_time)]


class TradingWindow(_Frozen):
    """UTC hours in which orders may be sent; start > end spans midnight."""

    start: WallTime
    """Opening time, UTC, inclusive ('HH:MM' or 'HH:MM:SS')."""
    end: WallTime
    """Closing time, UTC, exclusive."""
    days: tuple[Annotated[int, Field(ge=1, le=7)], ...] = (1, 2, 3, 4, 5, 6, 7)
    """ISO weekdays (1 = Monday) on which `now` may fall."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.start == self.end:
            raise ValueError("start == end is ambiguous; omit trading_window for 24/7")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("times are UTC; drop the offset")
        if not self.days:
            raise ValueError("days must not be empty")
        return self

    def is_open(self, now: int) -> bool:
        """True when unix time `now` is inside the window (False past year 9999: fail closed)."""
        try:
            moment = datetime.fromtimestamp(now, UTC)
        except (OverflowError, OSError, ValueError):
            return False
        if moment.isoweekday() not in self.days:
            return False
        t = moment.time()
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end


class RiskPolicy(_Frozen):
    """Every pre-trade limit of a desk. USD amounts are exact decimals."""

    policy_id: str = Field(min_length=1, max_length=64)
    """Name and version of this policy, e.g. 'desk-a/2026-11'; stamped on every verdict."""
    instruments: tuple[Symbol, ...] = Field(min_length=1)
    """Instrument allowlist: symbols that may be traded."""
    counterparties: tuple[str, ...] = Field(min_length=1)
    """Counterparty / venue allowlist."""
    quote_symbol: Symbol
    """Settlement asset that pays for every trade (e.g. 'USDC'); never itself an instrument."""
    max_order_quantity: ExactDecimal = Field(gt=0)
    """Largest size of one order, asset units."""
    max_order_notional_usd: ExactDecimal = Field(gt=0)
    """Largest notional of one order, USD (quantity × the worse of limit and reference price)."""
    max_position_quantity: ExactDecimal = Field(gt=0)
    """Default cap on |position| after the trade, asset units."""
    position_quantity_limits: dict[Symbol, Annotated[ExactDecimal, Field(gt=0)]] = Field(
        default_factory=dict
    )
    """Per-symbol caps on |position| overriding `max_position_quantity`."""
    max_gross_exposure_usd: ExactDecimal = Field(gt=0)
    """Cap on Σ|quantity·price| of the book after the trade, USD."""
    max_net_exposure_usd: ExactDecimal = Field(gt=0)
    """Cap on |Σ quantity·price| of the book after the trade, USD."""
    max_concentration_bps: Annotated[int, Field(ge=1, le=fp.BPS_SCALE)]
    """Cap on one asset's share of gross exposure after the trade, bps."""
    concentration_min_gross_usd: ExactDecimal = Field(default=Decimal(0), ge=0)
    """Concentration is enforced only when post-trade gross exposure reaches this, USD."""
    price_band_bps: Bps
    """Fat-finger band: |limit − reference| ≤ band · reference, bps."""
    max_slippage_bps: Bps
    """Largest adverse distance of the worst execution price from the reference, bps."""
    trading_window: TradingWindow | None = None
    """When orders may be sent (UTC); None means always (24/7 markets)."""
    max_orders_per_window: int = Field(ge=1)
    """Rate limit: orders allowed in any `rate_window_seconds`, this one included."""
    rate_window_seconds: int = Field(ge=1)
    """Rate-limit window length, seconds."""
    max_price_age_seconds: int = Field(ge=1)
    """A price older than this (now − timestamp) is stale and fails closed."""
    max_clock_skew_seconds: int = Field(default=5, ge=0)
    """A price stamped further than this in the future fails closed."""
    min_health_factor_bps: Annotated[int, Field(ge=1, lt=2**fp.BPS_BITS)]
    """Post-trade health factor floor, bps (10000 = 1.0)."""
    var_confidence_bps: Annotated[int, Field(ge=1, le=fp.BPS_SCALE - 1)]
    """α of the post-trade VaR check, bps (9900 = 99 %), strictly inside (0, 1)."""
    max_var_usd: ExactDecimal = Field(gt=0)
    """Post-trade historical VaR_α limit, USD."""
    max_es_usd: Annotated[ExactDecimal, Field(gt=0)] | None = None
    """Optional post-trade historical ES_α limit (Acerbi–Tasche, metrics.var), USD."""
    close_factor_bps: Bps = 5_000
    """Share of the total debt a liquidator may repay at once while HF is above the
    full-liquidation level (Aave v3.3 DEFAULT_LIQUIDATION_CLOSE_FACTOR: 50 %)."""
    full_liquidation_health_factor_bps: Bps = 9_500
    """At or below this HF the whole debt may be repaid in one liquidation (Aave v3.3
    CLOSE_FACTOR_HF_THRESHOLD: 0.95; see metrics.health for the $2,000 and dust rules)."""
    liquidation_bonus_bps: Bps = 500
    """Extra collateral a liquidator receives over the repaid value, bps."""
    review_order_notional_usd: Annotated[ExactDecimal, Field(gt=0)] | None = None
    """Orders above this notional that pass every rule are FLAG_FOR_REVIEW, USD."""
    review_health_factor_bps: Annotated[int, Field(ge=1, lt=2**fp.BPS_BITS)] | None = None
    """Orders leaving HF below this (but ≥ the floor) are FLAG_FOR_REVIEW, bps."""

    _fixed: dict[str, int] = PrivateAttr(default_factory=dict)
    _position_limits: dict[str, int] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        allowed = set(self.instruments)
        if self.quote_symbol in allowed:
            raise ValueError(f"quote_symbol {self.quote_symbol} cannot also be an instrument")
        unknown = sorted(set(self.position_quantity_limits) - allowed)
        if unknown:
            raise ValueError(f"position_quantity_limits name non-allowlisted: {unknown}")
        if (
            self.review_order_notional_usd is not None
            and self.review_order_notional_usd >= self.max_order_notional_usd
        ):
            raise ValueError("review_order_notional_usd must be below max_order_notional_usd")
        if (
            self.review_health_factor_bps is not None
            and self.review_health_factor_bps <= self.min_health_factor_bps
        ):
            raise ValueError("review_health_factor_bps must be above min_health_factor_bps")
        return self

    def model_post_init(self, context: Any, /) -> None:
        qty = fp.QTY_DECIMALS, fp.QTY_BITS
        self._fixed = {
            "max_order_quantity": fp.to_fixed(
                self.max_order_quantity, *qty, name="max_order_quantity"
            ),
            "max_position_quantity": fp.to_fixed(
                self.max_position_quantity, *qty, name="max_position_quantity"
            ),
            "max_order_notional": usd_to_value(
                self.max_order_notional_usd, name="max_order_notional_usd"
            ),
            "max_gross_exposure": usd_to_value(
                self.max_gross_exposure_usd, name="max_gross_exposure_usd"
            ),
            "max_net_exposure": usd_to_value(
                self.max_net_exposure_usd, name="max_net_exposure_usd"
            ),
            "concentration_min_gross": usd_to_value(
                self.concentration_min_gross_usd, name="concentration_min_gross_usd"
            ),
            "max_var": usd_to_loss(self.max_var_usd, name="max_var_usd"),
            "max_es": -1
            if self.max_es_usd is None
            else usd_to_loss(self.max_es_usd, name="max_es_usd"),
            "review_order_notional": -1
            if self.review_order_notional_usd is None
            else usd_to_value(self.review_order_notional_usd, name="review_order_notional_usd"),
        }
        self._position_limits = {
            s: fp.to_fixed(v, *qty, name=f"position_quantity_limits.{s}")
            for s, v in self.position_quantity_limits.items()
        }

    def fixed(self, name: str) -> int:
        """A limit in fixed point (QTY scale for quantities, VALUE for USD, LOSS for VaR/ES)."""
        limits: dict[str, int] = _private(self, "_fixed")
        return limits[name]

    def fixed_limits(self) -> dict[str, int]:
        """Every limit in fixed point (a copy; -1 marks an absent optional limit)."""
        limits: dict[str, int] = _private(self, "_fixed")
        return dict(limits)

    def position_limit_fixed(self, symbol: str) -> int:
        """|position| cap of `symbol` at QTY scale."""
        limits: dict[str, int] = _private(self, "_position_limits")
        return limits.get(symbol, self.fixed("max_position_quantity"))


class CheckState(_Frozen):
    """Everything a pre-trade check needs besides the order, book and prices."""

    trading_state: TradingState
    """Kill-switch state."""
    now: UnixSeconds
    """The clock, unix seconds (passed in: the engine never reads a clock)."""
    recent_order_times: tuple[int, ...] = ()
    """Send times of the desk's earlier orders (for the rate limit), unix seconds."""


class Reason(_Frozen):
    """Why a verdict is not a plain approval."""

    code: str
    """Stable machine-readable code, e.g. 'MAX_ORDER_NOTIONAL'."""
    message: str
    """One human sentence with the numbers involved."""
    blocking: bool = True
    """True rejects the order; False only asks for review."""


class Verdict(_Frozen):
    """The pre-trade gate's answer, with every failing reason."""

    kind: VerdictKind
    """APPROVE, REJECT or FLAG_FOR_REVIEW."""
    reasons: tuple[Reason, ...] = ()
    """Every failing rule (blocking) and every review flag (non-blocking), in rule order."""
    client_order_id: str
    """The order this verdict is about."""
    policy_id: str
    """The policy applied."""
    post_trade_health_factor_bps: int | None = None
    """HF after the trade, bps (None without debt, or when it could not be computed)."""
    post_trade_var_usd: Decimal | None = None
    """Historical VaR_α after the trade, USD (None when it could not be computed)."""

    @property
    def codes(self) -> tuple[str, ...]:
        """The reason codes, in order."""
        return tuple(r.code for r in self.reasons)

    @property
    def approved(self) -> bool:
        return self.kind is VerdictKind.APPROVE
