// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IPoseidon5
/// @notice circomlibjs' generated Poseidon contract for 5 inputs (`poseidonContract.createCode(5)`,
///         deployed from raw bytecode by zkrisk.engine.chain.poseidon_contract). Equal to circomlib's
///         `Poseidon(5)` template and to zkrisk.prover.poseidon.
interface IPoseidon5 {
    /// @notice Poseidon hash of five field elements.
    function poseidon(uint256[5] calldata input) external pure returns (uint256);
}
