"""Book attestations (EIP-712): digest, signing, recovery and the signer-side checks."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from eth_abi.abi import encode
from eth_account import Account
from eth_utils.crypto import keccak

from zkrisk.engine.chain.attestation import (
    AttestationDomain,
    AttestationError,
    BookAttestation,
    SignedAttestation,
    attest_book,
    attestation_digest,
    check_freshness,
    check_signature,
    reconciled_commitment,
    recover_attester,
    sign_attestation,
)
from zkrisk.engine.risk.models import Portfolio, Position

ATTESTER_KEY = "0x" + "11" * 32
ACCOUNT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
VAULT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
DOMAIN = AttestationDomain(chain_id=31337, vault=VAULT)
SYMBOLS = ("USDC", "WETH", "WBTC")


def book(account: str = ACCOUNT) -> Portfolio:
    return Portfolio(
        account=account,
        positions=(
            Position(symbol="WBTC", quantity=Decimal("1.5")),
            Position(symbol="WETH", quantity=Decimal("-12")),
        ),
    )


def attestation(**changes: object) -> BookAttestation:
    base = BookAttestation(account=ACCOUNT, commitment=12345, sequence=3, issued_at=1_700_000_000)
    return replace(base, **changes)  # type: ignore[arg-type]


def _manual_digest(att: BookAttestation, domain: AttestationDomain) -> bytes:
    """EIP-712 by hand (abi.encode of the type hashes), independent of eth_account."""
    domain_type = keccak(
        text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    )
    values = [domain_type, keccak(text="zkrisk RiskVault"), keccak(text="2"), domain.chain_id]
    separator = keccak(
        encode(["bytes32", "bytes32", "bytes32", "uint256", "address"], [*values, domain.vault])
    )
    att_type = keccak(
        text="BookAttestation(address account,uint256 commitment,uint64 sequence,uint64 issuedAt)"
    )
    struct = keccak(
        encode(
            ["bytes32", "address", "uint256", "uint64", "uint64"],
            [att_type, att.account, att.commitment, att.sequence, att.issued_at],
        )
    )
    return keccak(b"\x19\x01" + separator + struct)


def test_digest_equals_the_eip712_digest_computed_by_hand() -> None:
    att = attestation()
    assert attestation_digest(att, DOMAIN) == _manual_digest(att, DOMAIN)


def test_signature_recovers_to_the_attester() -> None:
    signed = sign_attestation(attestation(), DOMAIN, ATTESTER_KEY)
    assert recover_attester(signed) == Account.from_key(ATTESTER_KEY).address
    check_signature(signed)


@pytest.mark.parametrize(
    "field, value",
    [("commitment", 12346), ("sequence", 4), ("issued_at", 1_700_000_001),
     ("account", "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC")],
)  # fmt: skip
def test_tampered_field_makes_the_signature_fail_to_recover_to_the_attester(
    field: str, value: object
) -> None:
    signed = sign_attestation(attestation(), DOMAIN, ATTESTER_KEY)
    tampered = replace(signed, attestation=replace(signed.attestation, **{field: value}))
    assert recover_attester(tampered) != signed.attester
    with pytest.raises(AttestationError, match="recovers to"):
        check_signature(tampered)


@pytest.mark.parametrize(
    "domain",
    [AttestationDomain(1, VAULT), AttestationDomain(31337, "0x" + "22" * 20)],
)
def test_attestation_for_another_chain_or_vault_does_not_recover(
    domain: AttestationDomain,
) -> None:
    signed = sign_attestation(attestation(), DOMAIN, ATTESTER_KEY)
    with pytest.raises(AttestationError):
        check_signature(replace(signed, domain=domain))


def test_json_round_trip_keeps_the_signature_valid() -> None:
    signed = sign_attestation(attestation(), DOMAIN, ATTESTER_KEY)
    again = SignedAttestation.from_json(signed.to_json())
    assert again == signed
    check_signature(again)


def test_malformed_json_names_the_fix() -> None:
    with pytest.raises(AttestationError, match="zkrisk attest"):
        SignedAttestation.from_json('{"domain": {}}')


def test_sequence_must_grow() -> None:
    with pytest.raises(AttestationError, match="--sequence 4"):
        check_freshness(attestation(sequence=3), current_sequence=3, now=1_700_000_000,
                        max_age=None)  # fmt: skip
    check_freshness(attestation(sequence=4), current_sequence=3, now=1_700_000_000, max_age=None)


def test_issued_at_in_the_future_is_refused() -> None:
    with pytest.raises(AttestationError, match="future"):
        check_freshness(attestation(), current_sequence=0, now=1_699_999_999, max_age=None)


def test_issued_at_older_than_max_attestation_age_is_refused() -> None:
    with pytest.raises(AttestationError, match="maxAttestationAge"):
        check_freshness(attestation(), current_sequence=0, now=1_700_000_061, max_age=60)
    check_freshness(attestation(), current_sequence=0, now=1_700_000_060, max_age=60)


def test_zero_commitment_and_oversized_sequence_are_refused() -> None:
    with pytest.raises(AttestationError, match="not in"):
        attestation(commitment=0)
    with pytest.raises(AttestationError, match="uint64"):
        attestation(sequence=2**64)


def test_attested_commitment_is_the_reconciled_books() -> None:
    signed = attest_book(book(), account=ACCOUNT, salt=7, symbols=SYMBOLS, slots=4, sequence=1,
                         issued_at=1, domain=DOMAIN, private_key=ATTESTER_KEY)  # fmt: skip
    expected = reconciled_commitment(book(), account=ACCOUNT, salt=7, symbols=SYMBOLS, slots=4)
    assert signed.attestation.commitment == expected


def test_a_claimed_commitment_other_than_the_reconciled_books_is_not_signed() -> None:
    empty = Portfolio(account=ACCOUNT)
    claimed = reconciled_commitment(empty, account=ACCOUNT, salt=7, symbols=SYMBOLS, slots=4)
    with pytest.raises(AttestationError, match="reconcile"):
        attest_book(book(), account=ACCOUNT, salt=7, symbols=SYMBOLS, slots=4, sequence=1,
                    issued_at=1, domain=DOMAIN, private_key=ATTESTER_KEY,
                    claimed_commitment=claimed)  # fmt: skip


def test_another_accounts_book_is_not_attested() -> None:
    other = book("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC")
    with pytest.raises(AttestationError, match="not"):
        reconciled_commitment(other, account=ACCOUNT, salt=7, symbols=SYMBOLS, slots=4)
