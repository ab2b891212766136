"""Decode a Uniswap v2 pair's Swap event from a receipt's logs (pure: no node)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from eth_abi.abi import decode
from eth_utils.crypto import keccak

SWAP_TOPIC: Final = (
    "0x" + keccak(text="Swap(address,uint256,uint256,uint256,uint256,address)").hex()
)


@dataclass(frozen=True, slots=True)
class PairSwap:
    """One Swap log, amounts oriented by asset and quote (token units)."""

    pair: str
    log_index: int
    asset_in: int
    asset_out: int
    quote_in: int
    quote_out: int
    to: str


def _hex(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    text = str(value)
    return text if text.startswith("0x") else "0x" + text


def _topic_address(topic: Any) -> str:
    return "0x" + _hex(topic)[-40:]


def pair_swaps(
    logs: Iterable[Mapping[str, Any]], pairs: Mapping[str, tuple[str, str]], quote: str
) -> list[PairSwap]:
    """The Swap logs of the pairs in `pairs` (pair address → (token0, token1), lower case),
    oriented so that `quote` (an address, lower case) is the quote side."""
    out: list[PairSwap] = []
    for log in logs:
        address = str(log["address"]).lower()
        topics = [_hex(t) for t in log["topics"]]
        if address not in pairs or not topics or topics[0] != SWAP_TOPIC:
            continue
        a0_in, a1_in, a0_out, a1_out = decode(["uint256"] * 4, bytes.fromhex(_hex(log["data"])[2:]))
        token0, _token1 = pairs[address]
        quote_is_0 = token0 == quote
        out.append(
            PairSwap(
                pair=address,
                log_index=int(log["logIndex"]),
                asset_in=a1_in if quote_is_0 else a0_in,
                asset_out=a1_out if quote_is_0 else a0_out,
                quote_in=a0_in if quote_is_0 else a1_in,
                quote_out=a0_out if quote_is_0 else a1_out,
                to=_topic_address(topics[2]),
            )
        )
    return out
