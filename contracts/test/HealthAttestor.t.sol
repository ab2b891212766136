// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ZkTest} from "./utils/ZkTest.sol";
import {HealthAttestor} from "../src/HealthAttestor.sol";
import {Groth16Calldata} from "../src/Groth16Calldata.sol";
import {IHealthVerifier} from "../src/interfaces/IHealthVerifier.sol";

/// @dev Stands in for the generated verifier so the gate's own rules can be tested in isolation;
///      real proofs against the real verifier run in tests/e2e on Anvil.
contract ScriptedVerifier is IHealthVerifier {
    bool public answer;

    function setAnswer(bool answer_) external {
        answer = answer_;
    }

    function verifyProof(uint256[2] calldata, uint256[2][2] calldata, uint256[2] calldata, uint256[5] calldata)
        external
        view
        returns (bool)
    {
        return answer;
    }
}

contract HealthAttestorTest is ZkTest {
    ScriptedVerifier internal verifier;
    HealthAttestor internal attestor;
    uint256[8] internal proof;

    function setUp() public {
        verifier = new ScriptedVerifier();
        attestor = new HealthAttestor(verifier);
    }

    function _pub(uint256 binding) internal pure returns (uint256[5] memory pub) {
        pub = [uint256(11), 22, 33, 10_500, binding];
    }

    function test_attest_when_proof_verifies_then_binding_is_consumed_and_event_emitted() public {
        verifier.setAnswer(true);
        vm.expectEmit(true, true, false, true);
        emit HealthAttestor.HealthAttested(11, 7, 22, 10_500, address(this));
        attestor.attest(proof, _pub(7));
        assertTrue(attestor.consumed(7));
    }

    function test_attest_when_proof_fails_then_reverts() public {
        verifier.setAnswer(false);
        vm.expectRevert(HealthAttestor.HealthAttestor__InvalidProof.selector);
        attestor.attest(proof, _pub(7));
        assertFalse(attestor.consumed(7));
    }

    function test_attest_when_binding_reused_then_reverts() public {
        verifier.setAnswer(true);
        attestor.attest(proof, _pub(7));
        vm.expectRevert(abi.encodeWithSelector(HealthAttestor.HealthAttestor__BindingReused.selector, 7));
        attestor.attest(proof, _pub(7));
    }

    function testFuzz_attest_when_any_public_input_is_not_in_field_then_reverts(uint8 index, uint256 value) public {
        verifier.setAnswer(true);
        index = uint8(bound(index, 0, 4));
        value = bound(value, Groth16Calldata.SNARK_SCALAR_FIELD, type(uint256).max);
        uint256[5] memory pub = _pub(9);
        pub[index] = value;
        vm.expectRevert(
            abi.encodeWithSelector(Groth16Calldata.Groth16Calldata__PublicInputNotInField.selector, uint256(index))
        );
        attestor.attest(proof, pub);
    }
}
