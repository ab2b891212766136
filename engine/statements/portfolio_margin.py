"""The portfolio-margin statement (circuits/PortfolioMargin.circom): requirement ≤ margin held.

The requirement is the engine's (`zkrisk.engine.risk.margin.requirement`): SPAN's
max(0, SOM, loss_0 … loss_{S−1}) over public risk arrays. The arrays are public inputs,
`riskArrays[i] = [m_i, u_i[0..S−1]]` (`array_words`; the on-chain verifier folds them into its
key once per publication and range-checks them as `array_words` does), the book is bound by its
commitment. The circuit must accept exactly when `holds()` is True; the prover's pick of the
maximising candidate is computed here. A vault names a publication by its key in the folded
verifier (zkrisk.engine.chain.margin_verifier.arrays_key).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from zkrisk.prover.poseidon import poseidon

from ..risk.fixed_point import BINDING_BITS, PRICE_BITS, QTY_BITS, VALUE_BITS
from ..risk.margin.arrays import RiskArraySet
from ..risk.margin.requirement import ARRAY_BITS, MarginRequirement, margin_requirement
from ..risk.models import Portfolio
from .book_slots import BookSlots
from .commitment import account_to_int
from .limits import flatten_public

PUBLIC_SIGNALS = ("commitment", "marginHeld", "binding", "riskArrays")
ARRAY_OFFSET = 1 << (PRICE_BITS - 1)  # arrays enter the circuit as a + 2^(PRICE_BITS−1)
HASH_ARITY = 15


def poseidon_chain_wide(seed: int, values: Sequence[int]) -> int:
    """circuits/PoseidonChainWide.circom: acc = Poseidon16(acc, next 15 values, zero-padded)."""
    if not values:
        raise ValueError("poseidon_chain_wide needs at least one value")
    acc = seed
    for k in range(0, len(values), HASH_ARITY):
        chunk = list(values[k : k + HASH_ARITY])
        acc = poseidon([acc, *chunk, *([0] * (HASH_ARITY - len(chunk)))])
    return acc


def encode_array_entry(a: int) -> int:
    if not -(1 << ARRAY_BITS) < a < 1 << ARRAY_BITS:
        raise ValueError(f"risk array entry {a} outside (−2^{ARRAY_BITS}, 2^{ARRAY_BITS}) fixed")
    return a + ARRAY_OFFSET


def array_words(arrays: Sequence[Sequence[int]], minimums: Sequence[int]) -> list[int]:
    """The public words [m_0, u_0[0..S−1], m_1, …]; refuses entries the circuit cannot take."""
    n, s = len(arrays), len(arrays[0]) if arrays else 0
    if not n or not s or len(minimums) != n or any(len(row) != s for row in arrays):
        raise ValueError("risk arrays must be a non-empty N × S matrix with N minimums")
    words: list[int] = []
    for row, m in zip(arrays, minimums, strict=True):
        if not 0 <= m < 1 << ARRAY_BITS:
            raise ValueError(f"short-option minimum {m} outside [0, 2^{ARRAY_BITS}) fixed")
        words += [m, *(encode_array_entry(a) for a in row)]
    return words


@dataclass(frozen=True)
class PortfolioMarginStatement:
    """All inputs of PortfolioMargin(N, S) as engine integers."""

    book: BookSlots
    arrays: tuple[tuple[int, ...], ...]  # N × S, PRICE scale, signed (P&L of one long unit)
    minimums: tuple[int, ...]  # N, PRICE scale
    margin_held: int  # VALUE scale
    binding: int

    def __post_init__(self) -> None:
        n = self.book.slots
        if len(self.arrays) != n or len(self.minimums) != n:
            raise ValueError(f"one risk array and one minimum per slot: {n} slots")
        if not 0 <= self.margin_held < 1 << VALUE_BITS:
            raise ValueError(f"margin held {self.margin_held} outside [0, 2^{VALUE_BITS}) (VALUE)")
        if not 0 <= self.binding < 1 << BINDING_BITS:
            raise ValueError(f"binding outside [0, 2^{BINDING_BITS}): derive it with "
                             "zkrisk.engine.statements.binding (keccak mod 2^252)")  # fmt: skip
        array_words(self.arrays, self.minimums)  # refuses out-of-range entries

    @property
    def scenarios(self) -> int:
        return len(self.arrays[0])

    def margin(self) -> MarginRequirement:
        return margin_requirement(self.book.net(), self.arrays, self.minimums)

    def requirement(self) -> int:
        return self.margin().requirement

    def holds(self) -> bool:
        return self.margin().covered_by(self.margin_held)

    def risk_array_rows(self) -> list[list[int]]:
        """riskArrays[N][S + 1] as the circuit takes it: [m_i, u_i[0..S−1]] per slot."""
        words, width = array_words(self.arrays, self.minimums), self.scenarios + 1
        return [words[k : k + width] for k in range(0, len(words), width)]

    def public_inputs(self) -> dict[str, int | list[list[int]]]:
        return {
            "commitment": self.book.commitment(),
            "marginHeld": self.margin_held,
            "binding": self.binding,
            "riskArrays": self.risk_array_rows(),
        }

    def public_signals(self) -> tuple[int, ...]:
        return flatten_public(self.public_inputs(), PUBLIC_SIGNALS)

    def pick(self) -> list[int]:
        chosen = self.margin().argmax()
        return [int(j == chosen) for j in range(self.scenarios + 2)]

    def signals(self) -> dict[str, int | list[int] | list[list[int]]]:
        return {
            **self.public_inputs(),
            **self.book.private_signals(),
            "pick": self.pick(),
        }


def portfolio_margin_statement(
    portfolio: Portfolio,
    risk_arrays: RiskArraySet,
    symbols: Sequence[str],
    *,
    slots: int,
    salt: int,
    binding: int,
) -> PortfolioMarginStatement:
    """Lay out the book on `slots` slots (slot i = symbols[i]; unused slots flat, arrays 0)."""
    if not symbols or len(symbols) > slots or len(set(symbols)) != len(symbols):
        raise ValueError(f"{list(symbols)}: need 1..{slots} unique slot symbols")
    unknown = sorted(s for s, q in portfolio.quantities_fixed().items() if q and s not in symbols)
    if unknown:
        raise ValueError(f"positions in instruments without a slot: {', '.join(unknown)}")
    missing = risk_arrays.missing(symbols)
    if missing:
        raise ValueError(f"no risk array for {', '.join(missing)}")
    width = len(risk_arrays.scenarios)
    qs = [portfolio.quantity_fixed(s) for s in symbols] + [0] * (slots - len(symbols))
    if any(abs(q) >= 1 << QTY_BITS for q in qs):
        raise ValueError(f"a position does not fit {QTY_BITS} bits in quantity fixed point")
    rows = [risk_arrays.array(s) for s in symbols]
    return PortfolioMarginStatement(
        book=BookSlots(
            account=account_to_int(portfolio.account), salt=salt,
            long=tuple(max(q, 0) for q in qs), short=tuple(max(-q, 0) for q in qs),
        ),
        arrays=tuple(r.pnl_fixed for r in rows if r) + ((0,) * width,) * (slots - len(symbols)),
        minimums=tuple(r.som_fixed for r in rows if r) + (0,) * (slots - len(symbols)),
        margin_held=risk_arrays.margin_held(portfolio),
        binding=binding,
    )  # fmt: skip
