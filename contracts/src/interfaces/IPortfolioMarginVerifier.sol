// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IPortfolioMarginVerifier
/// @notice The snarkjs-generated Groth16 verifier of a PortfolioMargin(N, S) circuit (4 public
///         signals = [commitment, riskArraysHash, marginHeld, binding]); proof calldata in the
///         same uint256[8] layout as IHealthVerifier's.
interface IPortfolioMarginVerifier {
    /// @notice True when the proof verifies for these public signals; false otherwise.
    function verifyProof(
        uint256[2] calldata pA,
        uint256[2][2] calldata pB,
        uint256[2] calldata pC,
        uint256[4] calldata pubSignals
    ) external view returns (bool);
}
