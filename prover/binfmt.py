"""Read the headers of iden3 binary files (.r1cs, .ptau, .wtns) without Node."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO


class BinFormatError(ValueError):
    """The file is not the iden3 binary format it claims to be."""


def _sections(f: BinaryIO, magic: bytes, path: Path) -> dict[int, tuple[int, int]]:
    if f.read(4) != magic:
        raise BinFormatError(f"{path} is not a {magic.decode()} file (bad magic)")
    _version, n_sections = struct.unpack("<II", f.read(8))
    sections: dict[int, tuple[int, int]] = {}
    for _ in range(n_sections):
        kind, size = struct.unpack("<IQ", f.read(12))
        sections.setdefault(kind, (f.tell(), size))
        f.seek(size, 1)
    return sections


@dataclass(frozen=True)
class R1csInfo:
    """What `snarkjs r1cs info` prints, read from the header section."""

    n_wires: int
    n_outputs: int
    n_public_inputs: int
    n_private_inputs: int
    n_labels: int
    n_constraints: int

    @property
    def n_public(self) -> int:
        return self.n_outputs + self.n_public_inputs

    @property
    def min_ptau_power(self) -> int:
        # snarkjs zkey new: the domain must hold constraints + public signals + 1.
        return max(1, (self.n_constraints + self.n_public).bit_length())


def read_r1cs_info(path: Path) -> R1csInfo:
    with path.open("rb") as f:
        sections = _sections(f, b"r1cs", path)
        if 1 not in sections:
            raise BinFormatError(f"{path}: r1cs header section missing")
        f.seek(sections[1][0])
        (n8,) = struct.unpack("<I", f.read(4))
        f.seek(n8, 1)  # the prime
        wires, outs, pub_in, prv_in = struct.unpack("<IIII", f.read(16))
        labels, constraints = struct.unpack("<QI", f.read(12))
    return R1csInfo(wires, outs, pub_in, prv_in, labels, constraints)


def read_ptau_power(path: Path) -> int:
    """The power of a powers-of-tau file (it supports circuits up to 2^power constraints)."""
    with path.open("rb") as f:
        sections = _sections(f, b"ptau", path)
        if 1 not in sections or 2 not in sections:
            raise BinFormatError(f"{path}: ptau header section missing")
        f.seek(sections[1][0])
        (n8,) = struct.unpack("<I", f.read(4))
        f.seek(n8, 1)
        power, _ceremony_power = struct.unpack("<II", f.read(8))
        has_phase2 = 12 in sections  # prepared for phase 2 (Lagrange points present)
    if not has_phase2:
        raise BinFormatError(
            f"{path} is not prepared for phase 2: run `snarkjs powersoftau prepare phase2`"
        )
    return int(power)


def read_wtns_public(path: Path, n_public: int) -> tuple[int, ...]:
    """Witness values 1..n_public (outputs, then public inputs): a proof's public signals.

    Reads only those values, so it stays cheap for witnesses of millions of signals.
    """
    with path.open("rb") as f:
        sections = _sections(f, b"wtns", path)
        if 1 not in sections or 2 not in sections:
            raise BinFormatError(f"{path}: wtns header or witness section missing")
        f.seek(sections[1][0])
        (n8,) = struct.unpack("<I", f.read(4))
        f.seek(n8, 1)  # the prime
        (n_values,) = struct.unpack("<I", f.read(4))
        if n_public >= n_values:
            raise BinFormatError(f"{path}: {n_values} witness values, {n_public} public asked")
        f.seek(sections[2][0] + n8)  # value 0 is the constant 1
        data = f.read(n8 * n_public)
    return tuple(int.from_bytes(data[i * n8 : (i + 1) * n8], "little") for i in range(n_public))
