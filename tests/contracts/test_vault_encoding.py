"""Engine and vault agree on every derived number: binding, margin rounding, constants."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest
from eth_utils.address import to_checksum_address

from zkrisk.engine.chain.attestation import BookAttestation, attestation_digest
from zkrisk.engine.chain.vault_statement import margin_quantity
from zkrisk.engine.statements.binding import Action, action_binding
from zkrisk.prover.field import SNARK_SCALAR_FIELD

from ..conftest import REPO
from .world import VaultWorld


def test_binding_on_chain_equals_the_engines(world: VaultWorld) -> None:
    rng = random.Random(11)
    fn = world.admin.vault.functions.bindingFor
    for _ in range(12):
        account = to_checksum_address(rng.randbytes(20))
        submitter = to_checksum_address(rng.randbytes(20))
        action = rng.choice(list(Action))
        amount, nonce, sid = rng.randrange(2**256), rng.randrange(2**64), rng.randrange(2**64)
        expected = action_binding(
            chain_id=world.admin.chain.chain_id, vault=world.admin.address, account=account,
            action=action, amount=amount, nonce=nonce, snapshot_id=sid, submitter=submitter,
        )  # fmt: skip
        got = fn(account, int(action), amount, nonce, sid, submitter).call()
        assert got == expected < SNARK_SCALAR_FIELD


def test_margin_rounding_on_chain_equals_the_engines(world: VaultWorld) -> None:
    fn = world.admin.vault.functions.marginQuantity
    for amount in (0, 1, 999_999, 20_000 * 10**6, world.admin.vault.functions.maxEscrow().call()):
        for up in (False, True):
            assert fn(amount, up).call() == margin_quantity(amount, 6, round_up=up)


@pytest.mark.parametrize(
    ("amount", "decimals", "up", "expected"),
    [
        (1, 18, False, 0),  # 1 wei of an 18-decimal token: below the 8-decimal quantum
        (1, 18, True, 1),  # keepers' proofs round the desk's margin up
        (10**10, 18, False, 1),
        (5, 8, False, 5),
        (5, 0, True, 5 * 10**8),
    ],
)
def test_margin_quantity_rounds_against_the_prover(
    amount: int, decimals: int, up: bool, expected: int
) -> None:
    assert margin_quantity(amount, decimals, round_up=up) == expected


def test_generated_solidity_constants_are_up_to_date() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_sol_constants.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_attestation_digest_on_chain_equals_the_engines(world: VaultWorld) -> None:
    rng = random.Random(12)
    for _ in range(6):
        att = BookAttestation(
            account=to_checksum_address(rng.randbytes(20)),
            commitment=rng.randrange(1, SNARK_SCALAR_FIELD),
            sequence=rng.randrange(2**64),
            issued_at=rng.randrange(2**64),
        )
        expected = attestation_digest(att, world.admin.domain)
        assert world.admin.attestation_digest(att) == expected
        domain = world.admin.vault.functions.domainSeparator().call()
        assert len(domain) == 32 and domain != expected
