"""A Groth16 proof and its one calldata format: `uint256[8]` plus the ordered public signals.

The same layout is defined once in Solidity (contracts/src/interfaces/IGroth16Verifier.sol):
    [A.x, A.y, B.x.c1, B.x.c0, B.y.c1, B.y.c0, C.x, C.y]
snarkjs writes G2 coordinates as [c0, c1]; the EVM pairing precompile wants [c1, c0], so the
two halves of B are swapped here (the pi_b coordinate swap).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .field import require_field_element

Calldata = tuple[list[int], list[int]]


@dataclass(frozen=True)
class Proof:
    """A Groth16 proof over BN254 with its public signals, in snarkjs' affine coordinates."""

    a: tuple[int, int]
    b: tuple[tuple[int, int], tuple[int, int]]  # ((x.c0, x.c1), (y.c0, y.c1))
    c: tuple[int, int]
    public_signals: tuple[int, ...]

    @classmethod
    def from_snarkjs(cls, proof: dict[str, Any], public: list[str] | list[int]) -> Proof:
        try:
            a = (int(proof["pi_a"][0]), int(proof["pi_a"][1]))
            b = (
                (int(proof["pi_b"][0][0]), int(proof["pi_b"][0][1])),
                (int(proof["pi_b"][1][0]), int(proof["pi_b"][1][1])),
            )
            c = (int(proof["pi_c"][0]), int(proof["pi_c"][1]))
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ValueError(f"not a snarkjs Groth16 proof (pi_a / pi_b / pi_c): {exc}") from None
        return cls(a, b, c, tuple(int(s) for s in public))

    @classmethod
    def load(cls, proof_path: Path, public_path: Path) -> Proof:
        return cls.from_snarkjs(
            json.loads(proof_path.read_text()), json.loads(public_path.read_text())
        )

    def to_snarkjs(self) -> tuple[dict[str, Any], list[str]]:
        proof = {
            "pi_a": [str(self.a[0]), str(self.a[1]), "1"],
            "pi_b": [[str(v) for v in self.b[0]], [str(v) for v in self.b[1]], ["1", "0"]],
            "pi_c": [str(self.c[0]), str(self.c[1]), "1"],
            "protocol": "groth16",
            "curve": "bn128",
        }
        return proof, [str(s) for s in self.public_signals]

    def save(self, proof_path: Path, public_path: Path) -> None:
        proof, public = self.to_snarkjs()
        proof_path.write_text(json.dumps(proof, indent=1) + "\n")
        public_path.write_text(json.dumps(public) + "\n")

    def calldata(self) -> Calldata:
        """(uint256[8] proof, uint256[] public signals) for the Solidity verifier."""
        words = [
            self.a[0], self.a[1],
            self.b[0][1], self.b[0][0], self.b[1][1], self.b[1][0],
            self.c[0], self.c[1],
        ]  # fmt: skip
        return words, list(self.public_signals)

    @classmethod
    def from_calldata(cls, words: list[int], public: list[int]) -> Proof:
        if len(words) != 8:
            raise ValueError(f"proof calldata has {len(words)} words, expected 8")
        return cls(
            (words[0], words[1]),
            ((words[3], words[2]), (words[5], words[4])),
            (words[6], words[7]),
            tuple(public),
        )

    @classmethod
    def from_calldata_bytes(cls, blob: bytes, public: list[int]) -> Proof:
        """From the 256 bytes of uint256[8] big-endian (what native provers return)."""
        if len(blob) != 256:
            raise ValueError(f"proof calldata has {len(blob)} bytes, expected 256")
        return cls.from_calldata(
            [int.from_bytes(blob[i : i + 32], "big") for i in range(0, 256, 32)], public
        )

    def with_public_signals(self, public: tuple[int, ...]) -> Proof:
        return Proof(self.a, self.b, self.c, public)

    def check_public_signals_in_field(self) -> None:
        for i, s in enumerate(self.public_signals):
            require_field_element(s, f"public signal {i}")
