// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IHealthVerifier
/// @notice The snarkjs-generated Groth16 verifier of a Health(N) circuit (5 public signals).
/// @dev Proof calldata format, defined once here and once in zkrisk.prover.proof:
///      uint256[8] = [A.x, A.y, B.x.c1, B.x.c0, B.y.c1, B.y.c0, C.x, C.y];
///      public signals = [commitment, snapshotHash, margin, thresholdMode, binding].
interface IHealthVerifier {
    /// @notice True when the proof verifies for these public signals; false otherwise.
    function verifyProof(
        uint256[2] calldata pA,
        uint256[2][2] calldata pB,
        uint256[2] calldata pC,
        uint256[5] calldata pubSignals
    ) external view returns (bool);
}
