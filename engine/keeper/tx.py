"""Send a contract call with a gas margin, as a keeper racing other senders must.

`ChainClient.transact` sends exactly eth_estimateGas; when another sender's transaction lands
first (two keepers taking a snapshot), the estimate can fall short and the transaction runs out
of gas. A 25 % margin costs nothing on the unused part.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any, cast

import rlp  # type: ignore[import-untyped]  # no py.typed; decode() gives lists of bytes
from eth_account import Account
from eth_typing import ChecksumAddress
from eth_utils.abi import function_abi_to_4byte_selector, get_abi_input_types
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD
from web3.types import TxParams, TxReceipt

from ..chain.client import ChainClient, TransactionReverted
from ..chain.vault import VaultClient, snapshot_from_event
from ..chain.vault_types import OnchainSnapshot
from . import rpc

GAS_MARGIN = 1.25


def build_signed(chain: ChainClient, fn: ContractFunction) -> Any:
    """Measure the gas, add the margin, sign; a revert raises TransactionReverted, decoded.

    The gas is measured in two runs, not eth_estimateGas's binary search (~20 runs: a second of
    Anvil's CPU for a liquidateMany of 10, taken from the provers in a storm): the gas used by
    one run (eth_createAccessList) × GAS_MARGIN, then an eth_call at exactly that limit proves
    it is enough at the pending state; a call shaped like one measured before tries that
    one's gas first, in the eth_call alone. When either run fails (a revert, the limit too low, a
    node without eth_createAccessList), eth_estimateGas decides, as before.

    The rest of the transaction is what web3's build_transaction makes (EIP-1559 fees: the
    node's priority fee, plus twice the latest block's base fee), built by `_unsigned` from one
    JSON-RPC batch instead of web3's pipeline (~15 ms of the keeper's CPU per liquidateMany);
    when that batch cannot say, web3 builds it."""
    params = _unsigned(chain, fn)
    if params is None:
        me = chain.address
        nonce = chain.w3.eth.get_transaction_count(me, "pending")
        params = {"from": me, "chainId": chain.chain_id, "nonce": nonce}
        with suppress(Exception):  # when it fails, eth_estimateGas below says what is wrong
            params = dict(fn.build_transaction(cast(TxParams, {**params, "gas": 0})))
    measured = _measured(chain, params) if "data" in params else None
    if measured is not None:
        return chain.signer.sign_transaction(measured)
    base = {k: params[k] for k in ("from", "chainId", "nonce")}
    try:
        tx = fn.build_transaction(cast(TxParams, base))
    except ContractLogicError as exc:
        raise chain.decode_revert(fn, exc) from None
    params = dict(tx)
    params["gas"] = int(int(params["gas"]) * GAS_MARGIN)
    return chain.signer.sign_transaction(params)


def _unsigned(chain: ChainClient, fn: ContractFunction) -> dict[str, Any] | None:
    """`fn`'s transaction as web3's build_transaction makes it, but gas (0): the calldata
    encoded by eth_abi, and the sender's pending nonce, the chain id, the node's priority fee and
    the latest base fee from one JSON-RPC batch; None when web3 should build it (a gas price
    strategy, a node without EIP-1559 fees, a failed read, arguments eth_abi does not take)."""
    w3 = chain.w3
    if getattr(w3.eth, "_gas_price_strategy", None) is not None:  # web3 would go legacy
        return None
    me = chain.address
    reads = rpc.batch(w3, [("eth_getTransactionCount", [me, "pending"]), ("eth_chainId", []),
                           ("eth_maxPriorityFeePerGas", []),
                           ("eth_getBlockByNumber", ["latest", False])])  # fmt: skip
    nonce, chain_id, tip, block = reads
    base_fee: Any = block.get("baseFeePerGas") if isinstance(block, dict) else None
    data = _calldata(fn)
    try:
        tip_wei = int(tip, 16)
        made = {"from": me, "to": fn.address, "data": data, "value": 0, "nonce": int(nonce, 16),
                "chainId": int(chain_id, 16), "gas": 0, "maxPriorityFeePerGas": tip_wei,
                "maxFeePerGas": tip_wei + 2 * int(base_fee, 16)}  # fmt: skip
    except (TypeError, ValueError):  # a read without an answer (None), or not a quantity
        return None
    return None if data is None else made


def _calldata(fn: ContractFunction) -> str | None:
    """`fn`'s calldata (0x-hex) as web3 encodes it, by eth_abi from the function's own ABI;
    None for keyword arguments (web3 orders them)."""
    if fn.kwargs:
        return None
    abi = fn.abi
    try:
        return rpc.calldata(function_abi_to_4byte_selector(abi), get_abi_input_types(abi), fn.args)
    except Exception:  # a value web3 would normalise first (an ENS name, a dict…)
        return None


_GAS_USED: dict[tuple[int, str, str, int], int] = {}
"""The gas one run of a call of this shape used last time: (chain id, to, selector, calldata
length) -> gas used. A storm's keeper sends twenty liquidateMany of 10 in a row, and
eth_createAccessList of one (ten proofs verified) took Anvil ~45 ms of the provers' CPU."""
_GAS_USED_MAX = 256


def _measured(chain: ChainClient, tx: dict[str, Any]) -> dict[str, Any] | None:
    """`tx` with gas = one run's gas used × GAS_MARGIN, checked by an eth_call at that limit;
    None when a run fails (the caller falls back to eth_estimateGas). A call of the same shape
    as one measured before starts from that one's gas and skips the measuring run when the
    eth_call at the limit passes: the check, not the memo, is the guarantee."""
    w3 = chain.w3
    params = dict(tx)
    try:
        call = {"from": params["from"], "to": params["to"], "data": params["data"],
                "value": params.get("value", 0)}  # fmt: skip
        data = str(params["data"])
        shape = (int(params["chainId"]), str(params["to"]).lower(), data[:10], len(data))
        known = _GAS_USED.get(shape)
        if known is not None and _enough(chain, call, gas := int(known * GAS_MARGIN)):
            params["gas"] = gas
            return params
        listed = w3.eth.create_access_list(cast(TxParams, call), "pending")
        if listed.get("error"):
            return None
        used = int(listed["gasUsed"])
        params["gas"] = int(used * GAS_MARGIN)
    except Exception:  # a revert: eth_estimateGas says which
        return None
    if not _enough(chain, call, params["gas"]):  # out of gas at the limit, or a revert
        return None
    if len(_GAS_USED) >= _GAS_USED_MAX:
        _GAS_USED.clear()
    _GAS_USED[shape] = used
    return params


def _enough(chain: ChainClient, call: dict[str, Any], gas: int) -> bool:
    """Whether the call succeeds at the pending state within `gas` (an eth_call at that limit,
    straight to the node: any error, out of gas or a revert, or no answer at all, is a no)."""
    checked = {"from": call["from"], "to": call["to"], "data": call["data"],
               "value": hex(int(call.get("value", 0))), "gas": hex(gas)}  # fmt: skip
    return rpc.request(chain.w3, "eth_call", [checked, "pending"]) is not None


def sender_and_nonce(raw_tx: bytes) -> tuple[ChecksumAddress, int]:
    """The signer and the account nonce of a signed transaction (legacy or typed, EIP-2718)."""
    sender = Account.recover_transaction(raw_tx)
    if raw_tx and raw_tx[0] <= 0x7F:  # typed: type byte, then [chainId, nonce, …]
        fields = rlp.decode(raw_tx[1:])
        return sender, int.from_bytes(fields[1], "big")
    return sender, int.from_bytes(rlp.decode(raw_tx)[0], "big")  # legacy: [nonce, …]


def send(chain: ChainClient, fn: ContractFunction, *, timeout: float = 60) -> TxReceipt:
    """Send `fn` with the gas margin and wait for it; TransactionReverted if it fails."""
    signed = build_signed(chain, fn)
    tx_hash = chain.w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout, poll_latency=0.05)
    if receipt["status"] != 1:
        raise TransactionReverted("transaction failed", f"tx 0x{bytes(tx_hash).hex()}")
    return receipt


def take_snapshot(vault: VaultClient) -> OnchainSnapshot:
    """PriceBook.takeSnapshot() with the gas margin; the snapshot it took."""
    receipt = send(vault.chain, vault.price_book.functions.takeSnapshot())
    (event,) = vault.price_book.events.SnapshotTaken().process_receipt(receipt, errors=DISCARD)
    return snapshot_from_event(event["args"])
