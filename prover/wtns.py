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


class WtnsFormatError(ValueError):
    """The file is not a witness file this reader understands."""


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
    data = path.read_bytes()
    if data[:4] != b"wtns":
        raise WtnsFormatError(f"{path}: not a .wtns file (magic {data[:4]!r})")
    (n_sections,) = struct.unpack_from("<I", data, 8)
    offset, sections = 12, {}
    for _ in range(n_sections):
        kind, size = struct.unpack_from("<IQ", data, offset)
        sections[kind] = data[offset + 12 : offset + 12 + size]
        offset += 12 + size
    if 1 not in sections or 2 not in sections:
        raise WtnsFormatError(f"{path}: header or witness section missing")
    header = sections[1]
    (n8,) = struct.unpack_from("<I", header, 0)
    prime = int.from_bytes(header[4 : 4 + n8], "little")
    (count,) = struct.unpack_from("<I", header, 4 + n8)
    body = sections[2]
    if len(body) != n8 * count:
        raise WtnsFormatError(f"{path}: {len(body)} witness bytes for {count} values of {n8}")
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
