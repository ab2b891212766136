// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IHealthVerifier} from "./interfaces/IHealthVerifier.sol";
import {Groth16Calldata} from "./Groth16Calldata.sol";

/// @title HealthAttestor
/// @notice The walking skeleton's on-chain gate: records that a committed book was proven
///         healthy. A transaction succeeds only if the Groth16 proof verifies, so its gas is the
///         real cost of on-chain verification (the verifier returns false rather than reverting
///         when it runs out of gas, which makes `estimateGas` on it meaningless).
/// @dev The replay key is the action binding (a public input), never the proof bytes: Groth16
///      proofs are malleable.
contract HealthAttestor {
    using Groth16Calldata for IHealthVerifier;

    /// @notice The Groth16 verifier of the Health circuit; immutable.
    IHealthVerifier public immutable verifier;
    /// @notice Bindings already consumed.
    mapping(uint256 binding => bool used) public consumed;

    /// @notice The proof did not verify for the given public signals.
    error HealthAttestor__InvalidProof();
    /// @notice This binding was attested before.
    error HealthAttestor__BindingReused(uint256 binding);

    /// @notice A book with `commitment` was proven healthy at `snapshotHash`.
    event HealthAttested(
        uint256 indexed commitment, uint256 indexed binding, uint256 snapshotHash, uint256 thresholdMode, address sender
    );

    /// @param verifier_ The generated Health verifier.
    constructor(IHealthVerifier verifier_) {
        verifier = verifier_;
    }

    /// @notice Verify a Health proof and record its binding.
    /// @param proof The proof in zkrisk's uint256[8] layout.
    /// @param pub [commitment, snapshotHash, margin, thresholdMode, binding].
    function attest(uint256[8] calldata proof, uint256[5] calldata pub) external {
        uint256 binding = pub[4];
        if (consumed[binding]) revert HealthAttestor__BindingReused(binding);
        if (!verifier.verifyHealth(proof, pub)) revert HealthAttestor__InvalidProof();
        consumed[binding] = true;
        emit HealthAttested(pub[0], binding, pub[1], pub[3], msg.sender);
    }
}
