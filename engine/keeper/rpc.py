"""Raw JSON-RPC requests for the keeper's hot path, without web3's request pipeline.

web3's pipeline (middleware, formatters, validation) and one HTTP round trip per request cost the
keeper ~0.8 ms of CPU per read, while in a storm the provers want the cores. `batch` sends many
requests in one JSON-RPC batch (one HTTP round trip); `request` sends one. Both are best effort:
they return None where a request (or the whole batch) did not give a result, and the callers
then take web3's path, whose exceptions the failure rules classify as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_abi.abi import encode as abi_encode
from web3 import Web3

Call = tuple[str, Sequence[Any]]


def calldata(selector: bytes, inputs: Sequence[str], args: Sequence[Any]) -> str:
    """A call's data (0x-hex): the function's selector and its arguments, ABI-encoded."""
    return "0x" + (selector + abi_encode(inputs, tuple(args))).hex()


def request(w3: Web3, method: str, params: Sequence[Any]) -> Any:
    """The result of one request, or None (an error, no result, a transport failure)."""
    try:
        response = w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    except Exception:  # the transport: the caller's web3 path says what it was
        return None
    return _result(response)


def batch(w3: Web3, calls: Sequence[Call]) -> list[Any]:
    """One result (or None) per call, in order, from a single JSON-RPC batch; every entry is
    None when the provider cannot batch or the batch failed as a whole."""
    if not calls:
        return []
    try:
        make = w3.provider.make_batch_request  # type: ignore[attr-defined]
        responses = make([(method, list(params)) for method, params in calls])
    except Exception:  # no batching here (IPC, a custom provider), or the node refused it
        return [None] * len(calls)
    if not _matched(responses, len(calls)):
        return [None] * len(calls)
    return [_result(r) for r in responses]  # web3 sorts a batch's responses by request id


def _matched(responses: Any, n: int) -> bool:
    """Whether `responses` are one per request, each with its own id, so that web3's sort by id
    put them in request order: a node may answer a batch in any order, and web3 keeps the order
    received when an id is missing, which would give one account's answer to another."""
    if not isinstance(responses, list) or len(responses) != n:
        return False
    ids = [r.get("id") if isinstance(r, dict) else None for r in responses]
    return None not in ids and len(set(ids)) == n


def _result(response: Any) -> Any:
    if not isinstance(response, dict) or "error" in response:
        return None
    return response.get("result")
