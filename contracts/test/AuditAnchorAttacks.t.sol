// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AuditAnchor} from "../src/AuditAnchor.sol";
import {AuditAnchorFixture} from "./utils/AuditAnchorFixture.sol";

/// @notice What a leaked writer key must not be able to do. Written first against the contract
///         before consistency proofs and the step bound (checkpoint(size, root)): both attacks
///         went through there ("next call did not revert as expected").
contract AuditAnchorAttacksTest is AuditAnchorFixture {
    /// Before the fix the attacker's size stuck and every honest checkpoint after it reverted
    /// (SizeNotIncreasing): anchoring bricked for good.
    function test_a_leaked_writer_anchoring_size_2_64_minus_1_then_reverts_and_honest_checkpoints_go_on() public {
        vm.prank(writer);
        vm.expectRevert(
            abi.encodeWithSelector(AuditAnchor.AuditAnchor__StepTooLarge.selector, type(uint64).max, 0, MAX_STEP)
        );
        anchor.checkpoint(type(uint64).max, keccak256("attacker"), none);
        vm.prank(writer);
        anchor.checkpoint(1024, keccak256("honest"), none);
        // ... and from there, nor in one step past maxStep
        vm.prank(writer);
        vm.expectRevert(
            abi.encodeWithSelector(AuditAnchor.AuditAnchor__StepTooLarge.selector, type(uint64).max, 1024, MAX_STEP)
        );
        anchor.checkpoint(type(uint64).max, keccak256("attacker"), none);
        (uint64 size,,) = anchor.latest();
        assertEq(size, 1024);
    }

    function test_a_step_of_exactly_max_step_is_anchored_and_one_more_reverts() public {
        AuditAnchor small = new AuditAnchor(admin, writer, 8);
        vm.startPrank(writer);
        vm.expectRevert(abi.encodeWithSelector(AuditAnchor.AuditAnchor__StepTooLarge.selector, 9, 0, 8));
        small.checkpoint(9, keccak256("nine"), none);
        bytes32 r8 = keccak256("leaves 0..7");
        small.checkpoint(8, r8, none);
        bytes32[] memory proof = new bytes32[](1);
        proof[0] = keccak256("leaves 8..15");
        small.checkpoint(16, node(r8, proof[0]), proof); // 8 more: exactly the step
        vm.expectRevert(abi.encodeWithSelector(AuditAnchor.AuditAnchor__StepTooLarge.selector, 25, 16, 8));
        small.checkpoint(25, keccak256("25"), none);
        vm.stopPrank();
    }

    function test_a_leaked_writer_anchoring_a_root_that_rewrites_history_then_reverts() public {
        bytes32 r1024 = keccak256("honest leaves 0..1023");
        vm.startPrank(writer);
        anchor.checkpoint(1024, r1024, none);
        // no proof
        vm.expectRevert(abi.encodeWithSelector(AuditAnchor.AuditAnchor__NotConsistent.selector, 2048, 1024));
        anchor.checkpoint(2048, keccak256("a root that does not extend the one at 1024"), none);
        // a proof of a tree whose first 1024 leaves are not the anchored ones
        bytes32[] memory proof = new bytes32[](1);
        proof[0] = keccak256("leaves 1024..2047");
        bytes32 rewritten = node(keccak256("rewritten leaves 0..1023"), proof[0]);
        vm.expectRevert(abi.encodeWithSelector(AuditAnchor.AuditAnchor__NotConsistent.selector, 2048, 1024));
        anchor.checkpoint(2048, rewritten, proof);
        // the anchored root passed as the proof of a different new root
        proof[0] = r1024;
        vm.expectRevert(abi.encodeWithSelector(AuditAnchor.AuditAnchor__NotConsistent.selector, 2048, 1024));
        anchor.checkpoint(2048, keccak256("anything"), proof);
        vm.stopPrank();
        (uint64 size, bytes32 root,) = anchor.latest();
        assertEq(size, 1024);
        assertEq(root, r1024, "root");
    }
}
