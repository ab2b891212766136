"""Book attestations: the EIP-712 signature of an account's book attester over its commitment.

A RiskVault accepts a book commitment only with such a signature (attack 1: a desk must not
choose its own book). Pure functions: the typed data, its digest (the vault's
`attestationDigest`), signing with eth_account, recovering the signer, and the signer-side checks
(the book is the account's, the commitment is the reconciled book's, the sequence grows, the
timestamp is not in the future and not too old).

    domain  {name: "zkrisk RiskVault", version: "2", chainId, verifyingContract: the vault}
    type    BookAttestation(address account,uint256 commitment,uint64 sequence,uint64 issuedAt)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.address import is_address, to_checksum_address
from eth_utils.crypto import keccak

from zkrisk.prover.field import SNARK_SCALAR_FIELD as FIELD_ORDER

from ..risk.models import Portfolio
from ..statements.book_slots import book_slots

DOMAIN_NAME = "zkrisk RiskVault"
DOMAIN_VERSION = "2"
UINT64_MAX = 2**64 - 1
ATTESTATION_TYPES: dict[str, list[dict[str, str]]] = {
    "BookAttestation": [
        {"name": "account", "type": "address"},
        {"name": "commitment", "type": "uint256"},
        {"name": "sequence", "type": "uint64"},
        {"name": "issuedAt", "type": "uint64"},
    ]
}


class AttestationError(ValueError):
    """An attestation that must not be signed or submitted; the message says why and the fix."""


@dataclass(frozen=True)
class AttestationDomain:
    """The EIP-712 domain: one vault on one chain."""

    chain_id: int
    vault: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": self.chain_id,
            "verifyingContract": to_checksum_address(self.vault),
        }


@dataclass(frozen=True)
class BookAttestation:
    """RiskVault.BookAttestation: `account`'s book is `commitment`, the attester's `sequence`-th
    book, reconciled at `issued_at` (unix seconds)."""

    account: str
    commitment: int
    sequence: int
    issued_at: int

    def __post_init__(self) -> None:
        if not is_address(self.account):
            raise AttestationError(f"account {self.account!r} is not an address")
        if not 0 < self.commitment < FIELD_ORDER:
            raise AttestationError(
                f"commitment {self.commitment:#x} is not in (0, r): not a book commitment"
            )
        for name, value in (("sequence", self.sequence), ("issuedAt", self.issued_at)):
            if not 0 <= value <= UINT64_MAX:
                raise AttestationError(f"{name} {value} does not fit uint64")

    def as_message(self) -> dict[str, Any]:
        return {
            "account": to_checksum_address(self.account),
            "commitment": self.commitment,
            "sequence": self.sequence,
            "issuedAt": self.issued_at,
        }

    def as_tuple(self) -> tuple[str, int, int, int]:
        """The Solidity struct, in field order (for web3 calls)."""
        return (to_checksum_address(self.account), self.commitment, self.sequence, self.issued_at)


def typed_data(attestation: BookAttestation, domain: AttestationDomain) -> dict[str, Any]:
    """The full EIP-712 message (as eth_account's `full_message` / eth_signTypedData_v4)."""
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            **ATTESTATION_TYPES,
        },
        "primaryType": "BookAttestation",
        "domain": domain.as_dict(),
        "message": attestation.as_message(),
    }


def attestation_digest(attestation: BookAttestation, domain: AttestationDomain) -> bytes:
    """keccak256("\\x19\\x01" ‖ domainSeparator ‖ structHash): what the attester signs."""
    signable = encode_typed_data(full_message=typed_data(attestation, domain))
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


@dataclass(frozen=True)
class SignedAttestation:
    """An attestation, its domain and the attester's 65-byte signature (r ‖ s ‖ v)."""

    attestation: BookAttestation
    domain: AttestationDomain
    signature: bytes
    attester: str

    def to_json(self) -> str:
        att = self.attestation
        return json.dumps(
            {
                "domain": self.domain.as_dict(),
                "attestation": {
                    "account": to_checksum_address(att.account),
                    "commitment": f"{att.commitment:#066x}",
                    "sequence": att.sequence,
                    "issuedAt": att.issued_at,
                },
                "digest": "0x" + attestation_digest(att, self.domain).hex(),
                "attester": to_checksum_address(self.attester),
                "signature": "0x" + self.signature.hex(),
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> SignedAttestation:
        """Parse `to_json`'s output; AttestationError naming what is wrong."""
        try:
            data = json.loads(text)
            domain, att = data["domain"], data["attestation"]
            if (domain["name"], domain["version"]) != (DOMAIN_NAME, DOMAIN_VERSION):
                raise AttestationError(
                    f"domain {domain['name']!r} v{domain['version']} is not "
                    f"{DOMAIN_NAME!r} v{DOMAIN_VERSION}: sign it with `zkrisk attest`"
                )
            return cls(
                attestation=BookAttestation(
                    account=str(att["account"]),
                    commitment=_int(att["commitment"]),
                    sequence=_int(att["sequence"]),
                    issued_at=_int(att["issuedAt"]),
                ),
                domain=AttestationDomain(int(domain["chainId"]), str(domain["verifyingContract"])),
                signature=bytes.fromhex(str(data["signature"]).removeprefix("0x")),
                attester=str(data["attester"]),
            )
        except AttestationError:
            raise
        except (KeyError, TypeError, ValueError, json.JSONDecodeError) as exc:
            raise AttestationError(
                f"not a signed attestation ({type(exc).__name__}: {exc}); make one with "
                "`zkrisk attest`"
            ) from None


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{value!r} is not an integer")
    return value if isinstance(value, int) else int(value, 0)


def sign_attestation(
    attestation: BookAttestation, domain: AttestationDomain, private_key: str
) -> SignedAttestation:
    """Sign with eth_account's `sign_typed_data` (the attester's key never leaves the caller)."""
    signed = Account.sign_typed_data(private_key, full_message=typed_data(attestation, domain))
    attester = Account.from_key(private_key).address
    return SignedAttestation(attestation, domain, bytes(signed.signature), attester)


def recover_attester(signed: SignedAttestation) -> str:
    """The address whose key made `signed.signature` over its attestation and domain."""
    message = encode_typed_data(full_message=typed_data(signed.attestation, signed.domain))
    return str(Account.recover_message(message, signature=signed.signature))


def check_signature(signed: SignedAttestation) -> None:
    """AttestationError unless the signature recovers to the stated attester."""
    recovered = recover_attester(signed)
    if recovered != to_checksum_address(signed.attester):
        raise AttestationError(
            f"the signature recovers to {recovered}, not the attester {signed.attester}: a field "
            "was changed after signing; sign the attestation again"
        )


def check_freshness(
    attestation: BookAttestation, *, current_sequence: int, now: int, max_age: int | None
) -> None:
    """The vault's rules, checked before signing or sending: the sequence grows, issuedAt is not
    in the future and (with `max_age`, the policy's maxAttestationAge) not too old."""
    if attestation.sequence <= current_sequence:
        raise AttestationError(
            f"sequence {attestation.sequence} is not above the account's book sequence "
            f"{current_sequence}: use --sequence {current_sequence + 1} or higher"
        )
    if attestation.issued_at > now:
        raise AttestationError(
            f"issuedAt {attestation.issued_at} is after the chain's time {now}: the vault refuses "
            "attestations from the future; sign with the chain's time"
        )
    if max_age is not None and now - attestation.issued_at > max_age:
        raise AttestationError(
            f"issuedAt {attestation.issued_at} is {now - attestation.issued_at} s old, more than "
            f"the vault's maxAttestationAge {max_age} s: sign a fresh attestation"
        )


def reconciled_commitment(
    book: Portfolio, *, account: str, salt: int, symbols: Sequence[str], slots: int
) -> int:
    """The commitment of the reconciled `book` for `account` (engine/statements/commitment.py
    via the circuits' slot layout). Refuses a book that belongs to another account."""
    if not is_address(account):
        raise AttestationError(f"account {account!r} is not an address")
    if book.account.lower() != account.lower():
        raise AttestationError(
            f"the book is {book.account}'s, not {account}'s: attest each account's own "
            "reconciled book"
        )
    return book_slots(book, symbols, slots=slots, salt=salt).commitment()


def attest_book(
    book: Portfolio,
    *,
    account: str,
    salt: int,
    symbols: Sequence[str],
    slots: int,
    sequence: int,
    issued_at: int,
    domain: AttestationDomain,
    private_key: str,
    claimed_commitment: int | None = None,
) -> SignedAttestation:
    """Compute the reconciled book's commitment and sign it. With `claimed_commitment` (the
    commitment the desk asks to have attested), refuse unless it is the reconciled one."""
    commitment = reconciled_commitment(book, account=account, salt=salt, symbols=symbols,
                                       slots=slots)  # fmt: skip
    if claimed_commitment is not None and claimed_commitment != commitment:
        raise AttestationError(
            f"the claimed commitment {claimed_commitment:#x} is not the reconciled book's "
            f"{commitment:#x}: the desk's book differs from the attester's; reconcile first"
        )
    attestation = BookAttestation(to_checksum_address(account), commitment, sequence, issued_at)
    return sign_attestation(attestation, domain, private_key)
