"""EIP-712 order approvals: the struct the risk service signs, and how anyone checks it.

A contract or venue verifies an approval by hashing the same struct under the same domain
(name 'zkrisk', version, chainId, verifyingContract) and comparing `ecrecover` with the risk
service's address; `ORDER_APPROVAL_TYPE` is the Solidity type string for its typehash.

Signing hashes the struct directly (every field is one 32-byte word: this struct has no
arrays or nested structs) because eth-account's generic typed-data encoder costs ~0.7 ms per
approval; verification goes through eth-account's `encode_typed_data`, an independent
implementation, and the tests hold the two to the same digest.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from coincurve import PrivateKey
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_keys.exceptions import BadSignature
from eth_utils.crypto import keccak

from ..risk.models import OrderIntent, OrderType, Side
from .config import SigningConfig
from .schemas import ApprovalDomain, ApprovalMessage, ApprovalTransaction, SignedApproval

APPROVAL_FIELDS: list[dict[str, str]] = [
    {"name": "account", "type": "address"},
    {"name": "clientOrderId", "type": "string"},
    {"name": "symbol", "type": "string"},
    {"name": "side", "type": "uint8"},
    {"name": "quantity", "type": "uint256"},
    {"name": "limitPrice", "type": "uint256"},
    {"name": "maxSlippageBps", "type": "uint16"},
    {"name": "counterparty", "type": "string"},
    {"name": "policyId", "type": "string"},
    {"name": "snapshotId", "type": "uint64"},
    {"name": "nonce", "type": "uint256"},
    {"name": "expiry", "type": "uint64"},
    {"name": "wallet", "type": "address"},
    {"name": "target", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "callDataHash", "type": "bytes32"},
]
ORDER_APPROVAL_TYPE = (
    "OrderApproval(" + ",".join(f"{f['type']} {f['name']}" for f in APPROVAL_FIELDS) + ")"
)
DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def approval_domain(config: SigningConfig) -> ApprovalDomain:
    return ApprovalDomain(
        name=config.name,
        version=config.version,
        chain_id=config.chain_id,
        verifying_contract=config.verifying_contract,
    )


def approval_message(
    intent: OrderIntent,
    *,
    account: str,
    policy_id: str,
    snapshot_id: int,
    nonce: int,
    expiry: int,
    transaction: ApprovalTransaction | None = None,
) -> ApprovalMessage:
    """The OrderApproval struct for an approved intent (amounts in the engine's fixed point).

    With `transaction`, the approval also covers that one transaction (its wallet, target, value
    and calldata hash: what `zkrisk signer` checks); without, those fields are zero and no
    signer signs anything under it."""
    market = intent.order_type is OrderType.MARKET
    covered: dict[str, Any] = {}
    if transaction is not None:
        covered = {
            "wallet": transaction.wallet,
            "target": transaction.to,
            "value": transaction.value,
            "call_data_hash": "0x" + keccak(hexstr=transaction.data).hex(),
        }
    return ApprovalMessage(
        account=account,
        client_order_id=intent.client_order_id,
        symbol=intent.symbol,
        side=0 if intent.side is Side.BUY else 1,
        quantity=intent.quantity_fixed,
        limit_price=0 if market else (intent.limit_price_fixed or 0),
        max_slippage_bps=(intent.max_slippage_bps or 0) if market else 0,
        counterparty=intent.counterparty,
        policy_id=policy_id,
        snapshot_id=snapshot_id,
        nonce=nonce,
        expiry=expiry,
        **covered,
    )


def typed_data(domain: ApprovalDomain, message: ApprovalMessage) -> dict[str, Any]:
    """The full EIP-712 typed-data document (eth_signTypedData_v4 shape)."""
    return {
        "types": {"EIP712Domain": DOMAIN_FIELDS, "OrderApproval": APPROVAL_FIELDS},
        "primaryType": "OrderApproval",
        "domain": domain.model_dump(),
        "message": message.model_dump(),
    }


def _uint(value: int, bits: int) -> bytes:
    if not 0 <= value < 1 << bits:
        raise ValueError(f"{value} does not fit uint{bits}")
    return value.to_bytes(32, "big")


def _address(value: str) -> bytes:
    raw = bytes.fromhex(value.removeprefix("0x"))
    if len(raw) != 20:
        raise ValueError(f"{value!r} is not a 20-byte address")
    return bytes(12) + raw


def _bytes32(value: str) -> bytes:
    raw = bytes.fromhex(value.removeprefix("0x"))
    if len(raw) != 32:
        raise ValueError(f"{value!r} is not 32 bytes")
    return raw


def _string(value: str) -> bytes:
    return keccak(value.encode())


# Symbols, venues, policy ids and domain strings repeat on every approval.
_cached_string = lru_cache(maxsize=4096)(_string)


_APPROVAL_TYPEHASH = keccak(ORDER_APPROVAL_TYPE.encode())
_DOMAIN_TYPEHASH = keccak(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)


def domain_separator(domain: ApprovalDomain) -> bytes:
    """EIP-712 hashStruct(domain)."""
    return keccak(
        _DOMAIN_TYPEHASH
        + _string(domain.name)
        + _string(domain.version)
        + _uint(domain.chain_id, 256)
        + _address(domain.verifying_contract)
    )


def approval_struct_hash(m: ApprovalMessage) -> bytes:
    """EIP-712 hashStruct(OrderApproval), fields in `APPROVAL_FIELDS` order."""
    return keccak(
        _APPROVAL_TYPEHASH
        + _address(m.account)
        + _string(m.client_order_id)
        + _cached_string(m.symbol)
        + _uint(m.side, 8)
        + _uint(m.quantity, 256)
        + _uint(m.limit_price, 256)
        + _uint(m.max_slippage_bps, 16)
        + _cached_string(m.counterparty)
        + _cached_string(m.policy_id)
        + _uint(m.snapshot_id, 64)
        + _uint(m.nonce, 256)
        + _uint(m.expiry, 64)
        + _address(m.wallet)
        + _address(m.target)
        + _uint(m.value, 256)
        + _bytes32(m.call_data_hash)
    )


class ApprovalSigner:
    """Signs approvals with the service's key under one domain."""

    def __init__(self, private_key: str, config: SigningConfig) -> None:
        self._key = PrivateKey(bytes.fromhex(private_key.removeprefix("0x")))
        self._address = str(Account.from_key(private_key).address)
        self.domain = approval_domain(config)
        self._separator = domain_separator(self.domain)

    @property
    def address(self) -> str:
        """The checksummed address approvals recover to."""
        return self._address

    def digest(self, message: ApprovalMessage) -> bytes:
        """keccak256(0x1901 ‖ domainSeparator ‖ hashStruct(message)): what is signed."""
        return keccak(b"\x19\x01" + self._separator + approval_struct_hash(message))

    def sign(self, message: ApprovalMessage) -> SignedApproval:
        digest = self.digest(message)
        # libsecp256k1 (RFC 6979, low s) gives r ‖ s ‖ recovery id; Ethereum wants v = 27 + id.
        rsv = self._key.sign_recoverable(digest, hasher=None)
        raw = rsv[:64] + bytes([27 + rsv[64]])
        return SignedApproval(
            domain=self.domain,
            types={"OrderApproval": APPROVAL_FIELDS},
            message=message,
            signer=self._address,
            signature="0x" + raw.hex(),
            digest="0x" + digest.hex(),
        )


def recover_signer(approval: SignedApproval) -> str:
    """The address that signed `approval`'s domain and message (types and digest not trusted)."""
    signable = encode_typed_data(full_message=typed_data(approval.domain, approval.message))
    return str(Account.recover_message(signable, signature=bytes.fromhex(approval.signature[2:])))


def verify_approval(
    approval: SignedApproval,
    signer: str,
    *,
    domain: ApprovalDomain | None = None,
    now: int | None = None,
) -> bool:
    """True when `signer` signed exactly this approval (under `domain`, unexpired at `now`)."""
    if domain is not None and approval.domain != domain:
        return False
    if now is not None and now > approval.message.expiry:
        return False
    try:
        recovered = recover_signer(approval)
    except (ValueError, TypeError, BadSignature):  # malformed signature bytes
        return False
    return recovered.lower() == signer.lower()
