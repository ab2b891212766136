"""What a proof is about and who checks it: the choices of `zkrisk prove` and `zkrisk verify`.

Kept free of heavy imports so that the command line can offer them as choices without loading
the prover; `prove_params` and `attestation_verifier` re-export them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class StatementKind(StrEnum):
    """What `zkrisk prove` proves."""

    HEALTH = "health"
    LIMITS = "limits"
    ATTEST = "attest"


#: Who checks a Groth16 proof: the pure-Python verifier or snarkjs.
Verifier = Literal["python", "snarkjs"]
