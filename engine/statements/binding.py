"""The action binding: one field element tying a proof to exactly one on-chain action.

binding = uint256(keccak256(abi.encode(chainId, vault, account, action, amount, nonce,
snapshotId, submitter))) mod 2^BINDING_BITS — computed identically by the vault (Solidity) and
here, so a proof made for one chain, vault, account, action, amount, nonce, snapshot or submitter
is useless for any other. The submitter is msg.sender of the transaction that uses the proof (the
desk for its own actions, the keeper for a liquidation): a keeper's proof copied from the mempool
does not verify when sent by anyone else. Reduced mod 2^252, not mod r: Health range-checks the binding to 252 bits, so b is its
only field representation (p − b, which squares to the same b², is rejected).
"""

from __future__ import annotations

from enum import IntEnum

from eth_abi.abi import encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from ..risk.fixed_point import BINDING_BITS


class Action(IntEnum):
    """Action codes shared with the vault contract."""

    ATTEST = 0
    WITHDRAW = 1
    UPDATE_COMMITMENT = 2
    LIQUIDATE = 3


def action_binding(
    *,
    chain_id: int,
    vault: str,
    account: str,
    action: Action,
    amount: int,
    nonce: int,
    snapshot_id: int,
    submitter: str,
) -> int:
    """The binding RiskVault derives for this action sent by `submitter` (msg.sender)."""
    encoded = encode(
        ["uint256", "address", "address", "uint8", "uint256", "uint256", "uint256", "address"],
        [
            chain_id,
            to_checksum_address(vault),
            to_checksum_address(account),
            int(action),
            amount,
            nonce,
            snapshot_id,
            to_checksum_address(submitter),
        ],
    )
    return int.from_bytes(keccak(encoded), "big") % (1 << BINDING_BITS)
