// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IHealthVerifier} from "./interfaces/IHealthVerifier.sol";
import {IPortfolioMarginVerifier} from "./interfaces/IPortfolioMarginVerifier.sol";

/// @title Groth16Calldata
/// @notice Unpacks zkrisk's proof calldata (`uint256[8]`) and rejects non-canonical public inputs.
library Groth16Calldata {
    /// @dev The BN254 scalar field order r.
    uint256 internal constant SNARK_SCALAR_FIELD =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;

    /// @notice A public input is ≥ r (it would alias x mod r in the pairing check).
    error Groth16Calldata__PublicInputNotInField(uint256 index);

    /// @notice Reverts unless every public signal is a canonical field element.
    function requireInField(uint256[5] memory pub) internal pure {
        for (uint256 i = 0; i < 5; i++) {
            if (pub[i] >= SNARK_SCALAR_FIELD) revert Groth16Calldata__PublicInputNotInField(i);
        }
    }

    /// @notice Verifies a Health proof given in zkrisk's uint256[8] layout.
    function verifyHealth(IHealthVerifier verifier, uint256[8] calldata proof, uint256[5] memory pub)
        internal
        view
        returns (bool)
    {
        requireInField(pub);
        return verifier.verifyProof(
            [proof[0], proof[1]], [[proof[2], proof[3]], [proof[4], proof[5]]], [proof[6], proof[7]], pub
        );
    }

    /// @notice Reverts unless every public signal of a PortfolioMargin proof is a field element.
    function requireInField(uint256[4] memory pub) internal pure {
        for (uint256 i = 0; i < 4; i++) {
            if (pub[i] >= SNARK_SCALAR_FIELD) revert Groth16Calldata__PublicInputNotInField(i);
        }
    }

    /// @notice Verifies a PortfolioMargin proof given in zkrisk's uint256[8] layout.
    function verifyMargin(IPortfolioMarginVerifier verifier, uint256[8] calldata proof, uint256[4] memory pub)
        internal
        view
        returns (bool)
    {
        requireInField(pub);
        return verifier.verifyProof(
            [proof[0], proof[1]], [[proof[2], proof[3]], [proof[4], proof[5]]], [proof[6], proof[7]], pub
        );
    }
}
