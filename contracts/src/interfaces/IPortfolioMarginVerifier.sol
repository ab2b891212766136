// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IPortfolioMarginVerifier
/// @notice The PortfolioMargin(N, S) verifier a vault gates withdrawals on: the generated
///         folded verifier (zkrisk.prover.folded_verifier, e.g. Margin4x8ArraysVerifier), whose
///         risk arrays — public inputs of the circuit — are folded into its key once per
///         publication. pubSignals = [commitment, arrays key, marginHeld, binding]; proof
///         calldata in the same uint256[8] layout as IHealthVerifier's.
interface IPortfolioMarginVerifier {
    /// @notice True when the proof verifies for these public signals and the folded arrays of
    ///         pubSignals[1]; false otherwise (an unknown key included).
    function verifyProof(
        uint256[2] calldata pA,
        uint256[2][2] calldata pB,
        uint256[2] calldata pC,
        uint256[4] calldata pubSignals
    ) external view returns (bool);

    /// @notice True once the arrays with this key have been folded (range-checked, on record).
    function folded(uint256 key) external view returns (bool);
}
