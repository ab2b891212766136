"""Send a contract call with a gas margin, as a keeper racing other senders must.

`ChainClient.transact` sends exactly eth_estimateGas; when another sender's transaction lands
first (two keepers taking a snapshot), the estimate can fall short and the transaction runs out
of gas. A 25 % margin costs nothing on the unused part.
"""

from __future__ import annotations

from typing import Any

import rlp  # type: ignore[import-untyped]  # no py.typed; decode() gives lists of bytes
from eth_account import Account
from eth_typing import ChecksumAddress
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD
from web3.types import TxReceipt

from ..chain.client import ChainClient, TransactionReverted
from ..chain.vault import VaultClient, snapshot_from_event
from ..chain.vault_types import OnchainSnapshot

GAS_MARGIN = 1.25


def build_signed(chain: ChainClient, fn: ContractFunction) -> Any:
    """Estimate (a revert raises TransactionReverted, decoded), add the margin, sign."""
    me = chain.address
    try:
        tx = fn.build_transaction({"from": me, "chainId": chain.chain_id,
                                   "nonce": chain.w3.eth.get_transaction_count(me, "pending")})  # fmt: skip
    except ContractLogicError as exc:
        raise chain.decode_revert(fn, exc) from None
    params: dict[str, Any] = dict(tx)
    params["gas"] = int(int(params["gas"]) * GAS_MARGIN)
    return chain.signer.sign_transaction(params)


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
