"""One calldata format: uint256[8] with the pi_b coordinate swap, plus ordered public signals."""

from __future__ import annotations

import pytest

from zkrisk.prover.field import SNARK_SCALAR_FIELD
from zkrisk.prover.proof import Proof

PROOF = Proof(a=(1, 2), b=((3, 4), (5, 6)), c=(7, 8), public_signals=(9, 10))


def test_calldata_swaps_each_g2_coordinate_pair() -> None:
    words, public = PROOF.calldata()
    assert words == [1, 2, 4, 3, 6, 5, 7, 8]
    assert public == [9, 10]


def test_calldata_round_trips() -> None:
    words, public = PROOF.calldata()
    assert Proof.from_calldata(words, public) == PROOF


def test_snarkjs_json_round_trips() -> None:
    proof, public = PROOF.to_snarkjs()
    assert Proof.from_snarkjs(proof, public) == PROOF


def test_malformed_snarkjs_proof_is_rejected_with_the_reason() -> None:
    with pytest.raises(ValueError, match="not a snarkjs Groth16 proof"):
        Proof.from_snarkjs({"pi_a": [1]}, [])


def test_public_signal_at_the_field_order_is_rejected() -> None:
    bad = PROOF.with_public_signals((SNARK_SCALAR_FIELD,))
    with pytest.raises(ValueError, match="public signal 0"):
        bad.check_public_signals_in_field()
