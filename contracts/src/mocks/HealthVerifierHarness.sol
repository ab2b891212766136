// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Groth16Calldata} from "../Groth16Calldata.sol";
import {IHealthVerifier} from "../interfaces/IHealthVerifier.sol";

/// @title HealthVerifierHarness
/// @notice Measures the Health verifier's cost in mined transactions: `verifyTx` and `baselineTx`
///         take identical calldata and do identical work except the verifier call, so
///         gas(verifyTx) − gas(baselineTx) is the verifier call alone (CALL with a cold account
///         access + the verifier's execution). Called as a view, `verifyTx` also shows that a
///         public input ≥ r is refused before the verifier sees it.
contract HealthVerifierHarness {
    using Groth16Calldata for IHealthVerifier;

    /// @notice The verifier under measurement.
    IHealthVerifier public immutable verifier;

    /// @notice The proof did not verify.
    error HealthVerifierHarness__InvalidProof();

    /// @param verifier_ The generated Health verifier.
    constructor(IHealthVerifier verifier_) {
        verifier = verifier_;
    }

    /// @notice Field check + verifier call; reverts unless the proof verifies.
    function verifyTx(uint256[8] calldata proof, uint256[5] calldata pub) external view {
        if (!verifier.verifyHealth(proof, pub)) revert HealthVerifierHarness__InvalidProof();
    }

    /// @notice The same calldata and field check, without the verifier call.
    function baselineTx(uint256[8] calldata, uint256[5] calldata pub) external pure {
        Groth16Calldata.requireInField(pub);
    }
}
