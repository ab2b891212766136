"""A Groth16 verifier whose trailing public inputs are folded into the key once, not per proof.

A Groth16 verifier computes vk_x = IC_0 + Σ x_i·IC_i, one ecMul (~6,000 gas) per public input.
When most inputs are published data that changes rarely (a clearing house's risk arrays), the
part over them, P = Σ_{i ≥ k} x_i·IC_i, can be computed once per publication (`fold`) and kept
under a key; a proof then verifies with vk_x = IC_0 + P + Σ_{i < k} x_i·IC_i, paying for its
k leading inputs only. `fold` takes the entries and their bases IC_k… in calldata (the bases
are checked against their keccak256, compiled in: 528 bases would not fit a contract's code),
and refuses any entry wider than its column allows (rows of `row_width` entries: column 0 has
`first_column_bits`, the others `column_bits`), so the arithmetic the circuit assumes holds.

The contract's public array is [kept inputs with the key inserted at `key_slot`]: the shape
of the stock snarkjs verifier with k + 1 inputs, so a caller built for a hash-bound circuit
passes the key where the hash was. The key is keccak256(abi.encodePacked(entries)) mod r.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak

from .field import SNARK_SCALAR_FIELD

BASE_FIELD = 21888242871839275222246405745257275088696311157297823662689037894645226208583


@dataclass(frozen=True)
class FoldedLayout:
    """Which public inputs stay per proof and how the folded ones are range-checked."""

    kept: int  # leading public inputs given per proof
    key_slot: int  # index of the key in the contract's public array (0..kept)
    row_width: int  # folded entries per row
    first_column_bits: int  # entry 0 of each row is < 2^this
    column_bits: int  # the other entries of a row are < 2^this

    def __post_init__(self) -> None:
        if not 0 <= self.key_slot <= self.kept or self.row_width < 1:
            raise ValueError(f"bad folded layout {self}: 0 ≤ key_slot ≤ kept, row_width ≥ 1")
        if not 0 < self.first_column_bits <= 253 or not 0 < self.column_bits <= 253:
            raise ValueError("column bit widths must be in 1..253 (entries below r)")


def _words(vk: dict[str, Any]) -> list[tuple[int, int]]:
    return [(int(p[0]), int(p[1])) for p in vk["IC"]]


def folded_bases(vk: dict[str, Any], layout: FoldedLayout) -> list[int]:
    """The bases `fold` takes: IC_{k+1}… flattened (x, y, x, y, …)."""
    return [c for point in _words(vk)[layout.kept + 1 :] for c in point]


def fold_key(entries: list[int]) -> int:
    """The key `fold` stores P under: keccak256(abi.encodePacked(uint256[] entries)) mod r."""
    packed = b"".join(e.to_bytes(32, "big") for e in entries)
    return int.from_bytes(keccak(packed), "big") % SNARK_SCALAR_FIELD


def check_entries(entries: list[int], layout: FoldedLayout) -> None:
    """What the contract's `fold` refuses, refused here first (same rule, same message)."""
    for i, v in enumerate(entries):
        bits = layout.first_column_bits if i % layout.row_width == 0 else layout.column_bits
        if not 0 <= v < 1 << bits:
            raise ValueError(f"folded entry {i} = {v} is outside [0, 2^{bits})")


def _g2(point: list[list[str]]) -> tuple[int, int, int, int]:
    # snarkjs' Solidity order: x1 (imaginary) before x0
    return int(point[0][1]), int(point[0][0]), int(point[1][1]), int(point[1][0])


def render(vk: dict[str, Any], layout: FoldedLayout, contract: str, header: str) -> str:
    """Solidity source of the folded verifier for `vk` (snarkjs verification_key.json)."""
    ics = _words(vk)
    folded = len(ics) - 1 - layout.kept
    if folded < 1 or folded % layout.row_width:
        raise ValueError(f"{len(ics) - 1} public inputs: {layout.kept} kept leaves {folded}, "
                         f"not a positive multiple of the row width {layout.row_width}")  # fmt: skip
    bases_hash = keccak(b"".join(c.to_bytes(32, "big") for c in folded_bases(vk, layout)))
    alpha = (int(vk["vk_alpha_1"][0]), int(vk["vk_alpha_1"][1]))
    beta, gamma, delta = _g2(vk["vk_beta_2"]), _g2(vk["vk_gamma_2"]), _g2(vk["vk_delta_2"])
    ic_consts = "\n".join(
        f"    uint256 internal constant IC{i}X = {x};\n    uint256 internal constant IC{i}Y = {y};"
        for i, (x, y) in enumerate(ics[: layout.kept + 1])
    )
    kept_slots = [j for j in range(layout.kept + 1) if j != layout.key_slot]
    accumulate = "\n".join(
        f"        (x, y) = _mulAdd(x, y, IC{n + 1}X, IC{n + 1}Y, pub[{j}]);"
        for n, j in enumerate(kept_slots)
    )
    field_checks = " || ".join(f"pub[{j}] >= R" for j in kept_slots)
    n_pub = layout.kept + 1
    return f"""{header}// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title {contract}
/// @notice Groth16 verifier whose last {folded} public inputs ({folded // layout.row_width} rows of
///         {layout.row_width}) are folded into the key once per publication (`fold`): a proof then
///         verifies with its {layout.kept} per-proof inputs and the publication's key, in the
///         stock verifier's shape uint256[{n_pub}] (the key at index {layout.key_slot}).
/// @dev Generated by zkrisk.prover.folded_verifier from the circuit's verification key; it
///      accepts exactly the proofs the stock snarkjs verifier accepts for the same inputs.
contract {contract} {{
    uint256 internal constant R = {SNARK_SCALAR_FIELD};
    uint256 internal constant Q = {BASE_FIELD};
    /// @notice Public inputs given per proof (the contract's array also holds the key).
    uint256 public constant KEPT = {layout.kept};
    /// @notice Public inputs folded by `fold`, in rows of ROW_WIDTH.
    uint256 public constant FOLDED = {folded};
    uint256 public constant ROW_WIDTH = {layout.row_width};
    /// @notice Entry 0 of a row is < 2^FIRST_COLUMN_BITS, the others < 2^COLUMN_BITS.
    uint256 public constant FIRST_COLUMN_BITS = {layout.first_column_bits};
    uint256 public constant COLUMN_BITS = {layout.column_bits};
    /// @notice keccak256 of the folded inputs' bases IC_{layout.kept + 1}… (x, y pairs).
    bytes32 public constant BASES_HASH = 0x{bases_hash.hex()};

    uint256 internal constant ALPHA_X = {alpha[0]};
    uint256 internal constant ALPHA_Y = {alpha[1]};
    uint256 internal constant BETA_X1 = {beta[0]};
    uint256 internal constant BETA_X0 = {beta[1]};
    uint256 internal constant BETA_Y1 = {beta[2]};
    uint256 internal constant BETA_Y0 = {beta[3]};
    uint256 internal constant GAMMA_X1 = {gamma[0]};
    uint256 internal constant GAMMA_X0 = {gamma[1]};
    uint256 internal constant GAMMA_Y1 = {gamma[2]};
    uint256 internal constant GAMMA_Y0 = {gamma[3]};
    uint256 internal constant DELTA_X1 = {delta[0]};
    uint256 internal constant DELTA_X0 = {delta[1]};
    uint256 internal constant DELTA_Y1 = {delta[2]};
    uint256 internal constant DELTA_Y0 = {delta[3]};
{ic_consts}

    /// @notice True once `fold` has folded the entries whose key this is.
    mapping(uint256 key => bool) public folded;
    mapping(uint256 key => uint256[2]) internal _point;

    /// @notice `entries` or `bases` has `length` words; `expected` are needed.
    error FoldedVerifier__WrongLength(uint256 length, uint256 expected);
    /// @notice The bases are not this circuit's IC points (keccak256 ≠ BASES_HASH).
    error FoldedVerifier__WrongBases();
    /// @notice Entry `index` = `value` is not below 2^`bits` (what the circuit's arithmetic assumes).
    error FoldedVerifier__EntryOutOfRange(uint256 index, uint256 value, uint256 bits);
    /// @notice An elliptic-curve precompile failed (a base off the curve cannot pass BASES_HASH).
    error FoldedVerifier__Precompile();

    /// @notice `entries` were folded under `key` by `by`.
    event Folded(uint256 indexed key, address indexed by);

    /// @notice The key `fold` stores `entries` under: keccak256(abi.encodePacked(entries)) mod r.
    function keyOf(uint256[] calldata entries) public pure returns (uint256) {{
        return uint256(keccak256(abi.encodePacked(entries))) % R;
    }}

    /// @notice Range-check `entries` and keep P = Σ entries[i]·IC_{{KEPT + 1 + i}} under their key
    ///         (~6,200 gas an entry; once per publication). Anyone may fold: the result depends
    ///         on the entries only, and a vault names the key it accepts.
    /// @param entries The folded public inputs in the circuit's order.
    /// @param bases IC_{{KEPT + 1}}… as x, y pairs (folded_bases of the verification key).
    /// @return key keyOf(entries).
    function fold(uint256[] calldata entries, uint256[] calldata bases) external returns (uint256 key) {{
        if (entries.length != FOLDED) revert FoldedVerifier__WrongLength(entries.length, FOLDED);
        if (bases.length != 2 * FOLDED) revert FoldedVerifier__WrongLength(bases.length, 2 * FOLDED);
        if (keccak256(abi.encodePacked(bases)) != BASES_HASH) revert FoldedVerifier__WrongBases();
        uint256 x;
        uint256 y;
        for (uint256 i; i < FOLDED; ++i) {{
            uint256 v = entries[i];
            uint256 bits = i % ROW_WIDTH == 0 ? FIRST_COLUMN_BITS : COLUMN_BITS;
            if (v >> bits != 0) revert FoldedVerifier__EntryOutOfRange(i, v, bits);
            if (v != 0) (x, y) = _mulAdd(x, y, bases[2 * i], bases[2 * i + 1], v);
        }}
        key = keyOf(entries);
        _point[key] = [x, y];
        folded[key] = true;
        emit Folded(key, msg.sender);
    }}

    /// @notice True when the proof verifies for the per-proof inputs and the folded entries of
    ///         pub[{layout.key_slot}]; false for an unknown key or an input ≥ r.
    function verifyProof(
        uint256[2] calldata pA,
        uint256[2][2] calldata pB,
        uint256[2] calldata pC,
        uint256[{n_pub}] calldata pub
    ) external view returns (bool) {{
        uint256 key = pub[{layout.key_slot}];
        if (!folded[key] || {field_checks}) return false;
        uint256[2] memory p = _point[key];
        (uint256 x, uint256 y) = _add(IC0X, IC0Y, p[0], p[1]);
{accumulate}
        return _pairing(pA, pB, pC, x, y);
    }}

    function _add(uint256 ax, uint256 ay, uint256 bx, uint256 by) internal view returns (uint256 x, uint256 y) {{
        bool ok;
        assembly ("memory-safe") {{
            let m := mload(0x40)
            mstore(m, ax)
            mstore(add(m, 32), ay)
            mstore(add(m, 64), bx)
            mstore(add(m, 96), by)
            ok := staticcall(gas(), 6, m, 128, m, 64)
            x := mload(m)
            y := mload(add(m, 32))
        }}
        if (!ok) revert FoldedVerifier__Precompile();
    }}

    function _mulAdd(uint256 ax, uint256 ay, uint256 bx, uint256 by, uint256 s)
        internal
        view
        returns (uint256 x, uint256 y)
    {{
        bool ok;
        assembly ("memory-safe") {{
            let m := mload(0x40)
            mstore(m, bx)
            mstore(add(m, 32), by)
            mstore(add(m, 64), s)
            ok := staticcall(gas(), 7, m, 96, add(m, 64), 64)
            mstore(m, ax)
            mstore(add(m, 32), ay)
            ok := and(ok, staticcall(gas(), 6, m, 128, m, 64))
            x := mload(m)
            y := mload(add(m, 32))
        }}
        if (!ok) revert FoldedVerifier__Precompile();
    }}

    // e(−A, B) · e(α, β) · e(vk_x, γ) · e(C, δ) = 1, as snarkjs' verifier checks it.
    function _pairing(
        uint256[2] calldata pA,
        uint256[2][2] calldata pB,
        uint256[2] calldata pC,
        uint256 x,
        uint256 y
    ) internal view returns (bool ok) {{
        uint256[24] memory input = [
            pA[0], (Q - pA[1] % Q) % Q, pB[0][0], pB[0][1], pB[1][0], pB[1][1],
            ALPHA_X, ALPHA_Y, BETA_X1, BETA_X0, BETA_Y1, BETA_Y0,
            x, y, GAMMA_X1, GAMMA_X0, GAMMA_Y1, GAMMA_Y0,
            pC[0], pC[1], DELTA_X1, DELTA_X0, DELTA_Y1, DELTA_Y0
        ];
        uint256[1] memory out;
        assembly ("memory-safe") {{
            ok := staticcall(gas(), 8, input, 768, out, 32)
        }}
        ok = ok && out[0] == 1;
    }}
}}
"""


def write_folded_verifier(
    vkey: Path, layout: FoldedLayout, contract: str, out: Path, *, header: str = ""
) -> Path:
    """Render the verifier for the verification key at `vkey` into `out` (if it changed)."""
    source = render(json.loads(vkey.read_text()), layout, contract, header)
    if not out.is_file() or out.read_text() != source:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(source)
    return out
