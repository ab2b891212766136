"""The attester's side against a live vault: read the account's book sequence, the chain's time,
the price book's slots and the policy's maxAttestationAge, then sign (engine/chain/attestation.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_account import Account
from eth_utils.address import to_checksum_address

from ..risk.models import Portfolio
from .anvil import DEV_ATTESTER, DEV_PRIVATE_KEYS
from .attestation import AttestationError, SignedAttestation, attest_book, check_freshness
from .vault import VaultClient

#: The dev attester: Anvil's well-known dev account 4 (public test key, no value).
DEV_ATTESTER_KEY = DEV_PRIVATE_KEYS[DEV_ATTESTER]


def attest_for_vault(
    vault: VaultClient,
    book: Portfolio,
    *,
    salt: int,
    symbols: Sequence[str],
    private_key: str,
    account: str | None = None,
    sequence: int | None = None,
    issued_at: int | None = None,
    claimed_commitment: int | None = None,
) -> SignedAttestation:
    """Sign `book` (for `account`, default the book's) for `vault`: sequence defaults to the
    vault's bookSequence + 1, issuedAt to the latest block's time; both are checked as the vault
    will check them (AttestationError naming the fix) and the signer must be the account's
    registered attester."""
    who = account or book.account
    current = vault.book_sequence(_checksum(who))
    now = vault.chain_time()
    signed = attest_book(
        book, account=who, salt=salt, symbols=symbols, slots=vault.slots(),
        sequence=current + 1 if sequence is None else sequence,
        issued_at=now if issued_at is None else issued_at, domain=vault.domain,
        private_key=private_key, claimed_commitment=claimed_commitment,
    )  # fmt: skip
    check_freshness(signed.attestation, current_sequence=current, now=now,
                    max_age=vault.policy().max_attestation_age)  # fmt: skip
    registered = vault.attester_of(_checksum(who))
    me = Account.from_key(private_key).address
    if registered.lower() != me.lower():
        raise AttestationError(
            f"{me} is not {who}'s attester in the vault (that is {registered}): sign with the "
            "registered attester's key, or have governance call setAttester first"
        )
    return signed


def _checksum(address: str) -> str:
    return str(to_checksum_address(address))
