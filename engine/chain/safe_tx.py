"""Safe 1.4.1 transactions, pure: the EIP-712 SafeTx hash, owners' signatures sorted by address,
and the packed signature bytes `execTransaction` takes.

A small own module rather than safe-eth-py: we need three functions of the Safe's
transaction format (hash, sign, pack), and safe-eth-py would pull a second web3 stack, Django
style settings and dozens of transitive dependencies into an engine that already has
eth_account. The hash is cross-checked against the deployed Safe's `getTransactionHash` in the
tests.

    domain  EIP712Domain(uint256 chainId,address verifyingContract)   (the Safe proxy)
    type    SafeTx(address to,uint256 value,bytes data,uint8 operation,uint256 safeTxGas,
                   uint256 baseGas,uint256 gasPrice,address gasToken,address refundReceiver,
                   uint256 nonce)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
CALL, DELEGATECALL = 0, 1

SAFE_TX_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": [
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "SafeTx": [
        {"name": "to", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "data", "type": "bytes"},
        {"name": "operation", "type": "uint8"},
        {"name": "safeTxGas", "type": "uint256"},
        {"name": "baseGas", "type": "uint256"},
        {"name": "gasPrice", "type": "uint256"},
        {"name": "gasToken", "type": "address"},
        {"name": "refundReceiver", "type": "address"},
        {"name": "nonce", "type": "uint256"},
    ],
}


class SafeTxError(ValueError):
    """A Safe transaction that cannot be signed or executed as asked; the message says why."""


@dataclass(frozen=True)
class SafeTx:
    """One Safe transaction (no refunds: gas fields 0, gas token and receiver the zero address)."""

    safe: str
    chain_id: int
    to: str
    data: bytes
    nonce: int
    value: int = 0
    operation: int = CALL

    def typed_data(self) -> dict[str, Any]:
        return {
            "types": SAFE_TX_TYPES,
            "primaryType": "SafeTx",
            "domain": {"chainId": self.chain_id, "verifyingContract": to_checksum_address(self.safe)},
            "message": {
                "to": to_checksum_address(self.to), "value": self.value, "data": self.data,
                "operation": self.operation, "safeTxGas": 0, "baseGas": 0, "gasPrice": 0,
                "gasToken": ZERO_ADDRESS, "refundReceiver": ZERO_ADDRESS, "nonce": self.nonce,
            },
        }  # fmt: skip

    def hash(self) -> bytes:
        """The SafeTx hash owners sign (Safe.getTransactionHash)."""
        signable = encode_typed_data(full_message=self.typed_data())
        return keccak(b"\x19" + signable.version + signable.header + signable.body)

    def exec_args(self, signatures: bytes) -> tuple[Any, ...]:
        """Arguments of Safe.execTransaction, in order."""
        return (to_checksum_address(self.to), self.value, self.data, self.operation, 0, 0, 0,
                ZERO_ADDRESS, ZERO_ADDRESS, signatures)  # fmt: skip


@dataclass(frozen=True)
class OwnerSignature:
    owner: str
    signature: bytes  # r ‖ s ‖ v, 65 bytes (EIP-712, v ∈ {27, 28})


def sign_safe_tx(tx: SafeTx, private_key: str) -> OwnerSignature:
    """One owner's EIP-712 signature of the SafeTx."""
    signed = Account.sign_typed_data(private_key, full_message=tx.typed_data())
    return OwnerSignature(Account.from_key(private_key).address, bytes(signed.signature))


def pack_signatures(
    tx: SafeTx, signatures: Sequence[OwnerSignature], *, owners: Sequence[str], threshold: int
) -> bytes:
    """The signatures sorted by owner address (ascending, as Safe.checkNSignatures requires),
    each checked to recover to its owner and to be a Safe owner; SafeTxError if fewer than
    `threshold` distinct owners signed."""
    message = encode_typed_data(full_message=tx.typed_data())
    known = {to_checksum_address(o) for o in owners}
    by_owner: dict[str, bytes] = {}
    for sig in signatures:
        owner = to_checksum_address(sig.owner)
        if owner not in known:
            raise SafeTxError(f"{owner} is not an owner of the Safe {tx.safe}")
        recovered = Account.recover_message(message, signature=sig.signature)
        if recovered != owner:
            raise SafeTxError(f"the signature of {owner} recovers to {recovered}: sign again")
        by_owner[owner] = sig.signature
    if len(by_owner) < threshold:
        raise SafeTxError(
            f"{len(by_owner)} owner signature(s), the Safe needs {threshold}: "
            "collect more owners' signatures"
        )
    ordered = sorted(by_owner, key=lambda a: int(a, 16))
    return b"".join(by_owner[o] for o in ordered)
