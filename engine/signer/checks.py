"""Does an approval cover a transaction? Pure: (policy, venue, approval, transaction, now) → the
first reason to refuse, or None.

The approval must be the risk service's (its key, its domain), unexpired, for an allowed wallet
on the configured venue, and cover exactly this transaction: chain, target, value and the
keccak256 of its calldata. The calldata is also decoded against the router's ABI and held to
the approved order: the function of the approved side, the path of the approved symbol, the
exact amount of the approved quantity, a price bound at least as tight as the approved limit
price, the wallet as recipient and a deadline in the near future. Gas within policy. What needs
state (HALTED, the rate limit, the nonce never used) is the server's.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Final

from coincurve import PublicKey
from eth_abi.abi import decode, encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from pydantic import BaseModel, ConfigDict, Field

from ..api.schemas import ZERO_HASH, SignedApproval
from ..api.signer import approval_domain, approval_struct_hash, domain_separator
from ..chain.uniswap_deploy import UniswapAddresses, artefact
from .policy import SignerPolicy

QTY_SCALE: Final = 10**8
PRICE_SCALE: Final = 10**8
SELL_FUNCTION: Final = "swapExactTokensForTokens"
BUY_FUNCTION: Final = "swapTokensForExactTokens"
_HEX = r"^0x([0-9a-fA-F]{2})*$"
Uint = Annotated[int, Field(ge=0, lt=2**256)]


class UnsignedTransaction(BaseModel):
    """An EIP-1559 transaction to sign (its `from` is the approval's wallet)."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_name=True,
                              validate_by_alias=True, serialize_by_alias=True)  # fmt: skip

    chain_id: int = Field(alias="chainId", ge=1)
    nonce: int = Field(ge=0, lt=2**64)
    to: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    value: Uint = 0
    data: str = Field(pattern=_HEX, max_length=8_194)
    gas: int = Field(ge=21_000, lt=2**64)
    max_fee_per_gas: Uint = Field(alias="maxFeePerGas")
    max_priority_fee_per_gas: Uint = Field(alias="maxPriorityFeePerGas")

    def for_signing(self) -> dict[str, Any]:
        return {"type": 2, "chainId": self.chain_id, "nonce": self.nonce, "to": to_checksum_address(self.to),
                "value": self.value, "data": self.data, "gas": self.gas,
                "maxFeePerGas": self.max_fee_per_gas,
                "maxPriorityFeePerGas": self.max_priority_fee_per_gas}  # fmt: skip


class SignRequest(BaseModel):
    """POST /v1/sign: an unsigned transaction and the approval that covers it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    approval: SignedApproval
    transaction: UnsignedTransaction


@dataclass(frozen=True, slots=True)
class Refusal:
    code: str
    detail: str


_ARGS: Final = ["uint256", "uint256", "address[]", "address", "uint256"]
"""Both swaps' arguments: (exact, bound, path, to, deadline)."""


@lru_cache(maxsize=1)
def swap_selectors() -> dict[bytes, str]:
    """4-byte selector → function name, from the router artefact's ABI."""
    out = {}
    for entry in artefact("UniswapV2Router02").abi:
        if entry.get("type") == "function" and entry["name"] in (SELL_FUNCTION, BUY_FUNCTION):
            types = [i["type"] for i in entry["inputs"]]
            assert types == _ARGS, f"{entry['name']} takes {types}"
            out[keccak(f"{entry['name']}({','.join(types)})".encode())[:4]] = entry["name"]
    return out


def recover_approver(approval: SignedApproval) -> str | None:
    """The lower-case address whose key signed `approval`'s domain and message; None if garbled."""
    try:
        raw = bytes.fromhex(approval.signature.removeprefix("0x"))
        if len(raw) != 65 or raw[64] not in (27, 28):
            return None
        digest = keccak(b"\x19\x01" + domain_separator(approval.domain)
                        + approval_struct_hash(approval.message))  # fmt: skip
        public = PublicKey.from_signature_and_message(raw[:64] + bytes([raw[64] - 27]), digest,
                                                      hasher=None)  # fmt: skip
    except ValueError:
        return None
    return "0x" + keccak(public.format(compressed=False)[1:])[-20:].hex()


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def check(
    policy: SignerPolicy, venue: UniswapAddresses, request: SignRequest, now: int
) -> Refusal | None:
    """The first reason `request`'s approval does not cover its transaction, else None."""
    a, tx = request.approval, request.transaction
    m = a.message
    if a.domain != approval_domain(policy.approval_domain):
        return Refusal("WRONG_DOMAIN", f"the approval's EIP-712 domain {a.domain.model_dump()} "
                       "is not the risk service's [approval_domain]")  # fmt: skip
    if recover_approver(a) != policy.approver.lower():
        return Refusal("NOT_APPROVER", "the approval is not signed by the risk service's key "
                       f"{policy.approver}")  # fmt: skip
    if now > m.expiry:
        return Refusal("EXPIRED", f"the approval expired at {m.expiry} (now {now})")
    if m.call_data_hash == ZERO_HASH:
        return Refusal("NO_TRANSACTION_APPROVED", "the approval covers no transaction: send "
                       "the transaction with the order check (CheckRequest.transaction)")  # fmt: skip
    if m.wallet.lower() not in policy.wallets:
        return Refusal("WALLET_NOT_ALLOWED", f"wallet {m.wallet} is not on the signer's "
                       "allowlist (wallets in signer.toml)")  # fmt: skip
    if m.counterparty != policy.venue:
        return Refusal("WRONG_VENUE", f"the approval is for {m.counterparty!r}, this signer "
                       f"signs for {policy.venue!r}")  # fmt: skip
    if tx.chain_id != a.domain.chain_id or tx.chain_id != venue.chain_id:
        return Refusal("WRONG_CHAIN", f"the transaction is for chain {tx.chain_id}, the "
                       f"approval and venue for {a.domain.chain_id}")  # fmt: skip
    if tx.to.lower() != m.target.lower() or tx.to.lower() != venue.router.lower():
        return Refusal("WRONG_TARGET", f"the transaction goes to {tx.to}; the approval covers "
                       f"{m.target}, the venue's router is {venue.router}")  # fmt: skip
    if tx.value != m.value or tx.value != 0:
        return Refusal("WRONG_VALUE", f"the transaction sends {tx.value} wei; the approval "
                       f"covers {m.value} and a token swap sends none")  # fmt: skip
    data = bytes.fromhex(tx.data[2:])
    if "0x" + keccak(data).hex() != m.call_data_hash.lower():
        return Refusal("CALLDATA_NOT_APPROVED", "keccak256 of the transaction's calldata is not "
                       "the approval's callDataHash")  # fmt: skip
    refused = _check_swap(venue, request, data, now, policy.max_deadline_seconds)
    if refused is not None:
        return refused
    if tx.gas > policy.max_gas:
        return Refusal("GAS_LIMIT", f"gas {tx.gas} is above the policy's max_gas {policy.max_gas}")
    if tx.max_fee_per_gas > policy.max_fee_per_gas_wei:
        return Refusal("GAS_PRICE", f"maxFeePerGas {tx.max_fee_per_gas} is above the policy's "
                       f"max_fee_per_gas_wei {policy.max_fee_per_gas_wei}")  # fmt: skip
    if tx.max_priority_fee_per_gas > tx.max_fee_per_gas:
        return Refusal("GAS_PRICE", "maxPriorityFeePerGas is above maxFeePerGas")
    return None


def _check_swap(
    venue: UniswapAddresses, request: SignRequest, data: bytes, now: int, max_deadline: int
) -> Refusal | None:
    m = request.approval.message
    name = swap_selectors().get(data[:4])
    want = SELL_FUNCTION if m.side == 1 else BUY_FUNCTION
    if name != want:
        return Refusal("WRONG_FUNCTION", f"the calldata does not call the router's {want} (the "
                       f"approved side is {'SELL' if m.side else 'BUY'})")  # fmt: skip
    try:
        exact, bound, path, to, deadline = decode(_ARGS, data[4:])
        canonical = encode(_ARGS, [exact, bound, path, to, deadline]) == data[4:]
    except Exception:
        canonical = False
    if not canonical:
        return Refusal("BAD_CALLDATA", f"the calldata is not one canonical {want} call")
    if m.symbol not in venue.pairs:
        return Refusal("UNKNOWN_SYMBOL", f"the venue has no pool for {m.symbol!r}")
    asset, quote = venue.token(m.symbol), venue.token(venue.quote)
    expected = [asset.address, quote.address] if m.side == 1 else [quote.address, asset.address]
    if [p.lower() for p in path] != [p.lower() for p in expected]:
        return Refusal("WRONG_PATH", f"the swap path {list(path)} is not {m.symbol}'s {expected}")
    if to.lower() != m.wallet.lower():
        return Refusal("WRONG_RECIPIENT", f"the swap pays {to}, not the wallet {m.wallet}")
    units, rest = divmod(m.quantity * 10**asset.decimals, QTY_SCALE)
    if rest or exact != units:
        return Refusal("WRONG_AMOUNT", f"the swap trades {exact} {m.symbol} units; the approved "
                       f"quantity is {units} units")  # fmt: skip
    if m.limit_price == 0:
        return Refusal("NO_PRICE_BOUND", "a MARKET approval carries no limit price to hold the "
                       "swap's minimum out / maximum in to; approve a LIMIT order")  # fmt: skip
    notional = m.quantity * m.limit_price * 10**quote.decimals
    if m.side == 1 and bound < _ceil_div(notional, QTY_SCALE * PRICE_SCALE):
        return Refusal("WRONG_MIN_OUT", f"amountOutMin {bound} is below the approved limit's "
                       f"{_ceil_div(notional, QTY_SCALE * PRICE_SCALE)}")  # fmt: skip
    if m.side == 0 and bound > notional // (QTY_SCALE * PRICE_SCALE):
        return Refusal("WRONG_MAX_IN", f"amountInMax {bound} is above the approved limit's "
                       f"{notional // (QTY_SCALE * PRICE_SCALE)}")  # fmt: skip
    if not now < deadline <= now + max_deadline:
        return Refusal("WRONG_DEADLINE", f"the swap's deadline {deadline} is not within "
                       f"{max_deadline} s after now ({now})")  # fmt: skip
    return None
