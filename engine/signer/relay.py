"""JSON-RPC calls that hand a signed transaction to a node or a private relay.

A relay takes Flashbots' shapes: `eth_sendPrivateTransaction [{"tx", "maxBlockNumber"?}]` (held
private until a builder includes it, dropped after `maxBlockNumber`) or `eth_sendBundle
[{"txs": [tx], "blockNumber"}]` (a one-transaction bundle for one block); the public node takes
`eth_sendRawTransaction [tx]`. Every failure is a `RouteError` whose text says what happened.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx

RelayMethod = Literal["eth_sendPrivateTransaction", "eth_sendBundle"]


class RouteError(Exception):
    """The route did not take the transaction; the message says why."""


def rpc(url: str, method: str, params: list[Any], timeout_s: float) -> Any:
    """The `result` of one JSON-RPC call, or RouteError (unreachable, HTTP error, RPC error)."""
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    try:
        response = httpx.post(url, json=body, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise RouteError(f"unreachable ({type(exc).__name__}: {exc})") from None
    if response.status_code != 200:
        raise RouteError(f"HTTP {response.status_code}: {response.text[:200]}")
    try:
        reply = response.json()
    except ValueError:
        raise RouteError(f"not a JSON-RPC reply: {response.text[:200]!r}") from None
    if not isinstance(reply, dict) or "error" in reply or "result" not in reply:
        error = reply.get("error") if isinstance(reply, dict) else reply
        message = error.get("message", error) if isinstance(error, dict) else error
        raise RouteError(f"refused: {message}")
    return reply["result"]


def relay_params(
    method: RelayMethod, raw: str, block: int | None, max_blocks_ahead: int
) -> list[dict[str, Any]]:
    """The relay call's params; `block` is the chain's latest block (None: not known)."""
    if method == "eth_sendBundle":
        if block is None:
            raise RouteError("eth_sendBundle needs the next block number: set public_rpc_url")
        return [{"txs": [raw], "blockNumber": hex(block + 1)}]
    params: dict[str, Any] = {"tx": raw}
    if block is not None:
        params["maxBlockNumber"] = hex(block + max_blocks_ahead)
    return [params]


def send_public(url: str, raw: str, timeout_s: float) -> None:
    rpc(url, "eth_sendRawTransaction", [raw], timeout_s)


def latest_block(url: str, timeout_s: float) -> int:
    return int(rpc(url, "eth_blockNumber", [], timeout_s), 16)


def known_to_node(url: str, tx_hash: str, timeout_s: float) -> bool:
    """Does the node hold `tx_hash` (pending or mined)? (After a crash: was it sent?)"""
    return rpc(url, "eth_getTransactionByHash", [tx_hash], timeout_s) is not None
