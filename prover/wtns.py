"""Read and write snarkjs .wtns witness files (iden3 binary format, version 2).

Layout: magic "wtns", version u32, section count u32, then sections (type u32, size u64):
section 1 = field element size n8 (u32), the prime (n8 bytes LE), witness length (u32);
section 2 = the witness, n8 bytes little-endian per value. Signal 0 is the constant 1, then the
outputs, then the public inputs — the values a tampering test edits.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from .binfmt import BinFormatError, _sections


@dataclass(frozen=True)
class Witness:
    prime: int
    values: tuple[int, ...]

    def with_value(self, index: int, value: int) -> Witness:
        if not 0 <= index < len(self.values):
            raise IndexError(f"witness has {len(self.values)} values; no index {index}")
        values = list(self.values)
        values[index] = value % self.prime
        return Witness(self.prime, tuple(values))


def read_wtns(path: Path) -> Witness:
    with path.open("rb") as f:
        sections = _sections(f, b"wtns", path)
        if 1 not in sections or 2 not in sections:
            raise BinFormatError(f"{path}: wtns header or witness section missing")
        f.seek(sections[1][0])
        (n8,) = struct.unpack("<I", f.read(4))
        prime = int.from_bytes(f.read(n8), "little")
        (count,) = struct.unpack("<I", f.read(4))
        f.seek(sections[2][0])
        body = f.read(sections[2][1])
    if len(body) != n8 * count:
        raise BinFormatError(f"{path}: {len(body)} witness bytes for {count} values of {n8}")
    values = tuple(int.from_bytes(body[i * n8 : (i + 1) * n8], "little") for i in range(count))
    return Witness(prime, values)


def write_wtns(witness: Witness, path: Path) -> None:
    n8 = (witness.prime.bit_length() + 63) // 64 * 8
    header = (
        struct.pack("<I", n8)
        + witness.prime.to_bytes(n8, "little")
        + struct.pack("<I", len(witness.values))
    )
    body = b"".join(v.to_bytes(n8, "little") for v in witness.values)
    out = b"wtns" + struct.pack("<II", 2, 2)
    for kind, section in ((1, header), (2, body)):
        out += struct.pack("<IQ", kind, len(section)) + section
    path.write_bytes(out)
