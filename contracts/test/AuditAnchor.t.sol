// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

import {AuditAnchor} from "../src/AuditAnchor.sol";
import {AuditAnchorFixture} from "./utils/AuditAnchorFixture.sol";

/// @notice The audit log's anchor: only the writer checkpoints, sizes only grow (by at most
///         maxStep), every checkpoint is an event and the latest one is in storage. (Consistency
///         proofs: AuditAnchorConsistency.t.sol; the leaked-key attacks: AuditAnchorAttacks.t.sol.)
contract AuditAnchorTest is AuditAnchorFixture {
    event Checkpointed(uint64 indexed size, bytes32 root, uint64 timestamp);

    address internal stranger = address(0xBAD);

    function test_checkpoint_when_caller_is_not_the_writer_then_reverts() public {
        bytes32 role = anchor.WRITER_ROLE();
        for (uint256 i = 0; i < 2; i++) {
            address caller = i == 0 ? stranger : admin; // not even the admin writes
            vm.expectRevert(
                abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, caller, role)
            );
            vm.prank(caller);
            anchor.checkpoint(1, keccak256("root"), none);
        }
    }

    function test_checkpoint_when_size_does_not_increase_then_reverts() public {
        vm.startPrank(writer);
        vm.expectRevert(abi.encodeWithSelector(AuditAnchor.AuditAnchor__SizeNotIncreasing.selector, 0, 0));
        anchor.checkpoint(0, keccak256("empty"), none);
        anchor.checkpoint(10, keccak256("a"), none);
        vm.expectRevert(abi.encodeWithSelector(AuditAnchor.AuditAnchor__SizeNotIncreasing.selector, 10, 10));
        anchor.checkpoint(10, keccak256("b"), none);
        vm.expectRevert(abi.encodeWithSelector(AuditAnchor.AuditAnchor__SizeNotIncreasing.selector, 9, 10));
        anchor.checkpoint(9, keccak256("c"), none);
        vm.stopPrank();
    }

    function test_checkpoint_emits_an_event_and_stores_the_latest() public {
        bytes32 r512 = keccak256("r512");
        vm.warp(1_800_000_000);
        vm.expectEmit(true, false, false, true, address(anchor));
        emit Checkpointed(512, r512, 1_800_000_000);
        vm.prank(writer);
        anchor.checkpoint(512, r512, none);
        (uint64 size, bytes32 root, uint64 stamp) = anchor.latest();
        assertEq(size, 512);
        assertEq(root, r512, "root");
        assertEq(stamp, 1_800_000_000);

        // 512 -> 1024: the proof is the new right half's root.
        bytes32[] memory proof = new bytes32[](1);
        proof[0] = keccak256("leaves 512..1023");
        bytes32 r1024 = node(r512, proof[0]);
        vm.warp(1_800_000_060);
        vm.prank(writer);
        anchor.checkpoint(1024, r1024, proof);
        (size, root, stamp) = anchor.latest();
        assertEq(size, 1024);
        assertEq(root, r1024, "root");
        assertEq(stamp, 1_800_000_060);
    }

    function test_latest_before_any_checkpoint_is_all_zero() public view {
        (uint64 size, bytes32 root, uint64 stamp) = anchor.latest();
        assertEq(size, 0);
        assertEq(root, bytes32(0), "root");
        assertEq(stamp, 0);
    }

    function test_a_revoked_writer_can_no_longer_checkpoint() public {
        bytes32 role = anchor.WRITER_ROLE();
        vm.prank(admin);
        anchor.revokeRole(role, writer);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, writer, role));
        vm.prank(writer);
        anchor.checkpoint(1, keccak256("root"), none);
    }

    function test_constructor_when_an_address_is_zero_then_reverts() public {
        vm.expectRevert(AuditAnchor.AuditAnchor__ZeroAddress.selector);
        new AuditAnchor(address(0), writer, MAX_STEP);
        vm.expectRevert(AuditAnchor.AuditAnchor__ZeroAddress.selector);
        new AuditAnchor(admin, address(0), MAX_STEP);
    }

    function test_constructor_when_max_step_is_zero_then_reverts() public {
        vm.expectRevert(AuditAnchor.AuditAnchor__ZeroMaxStep.selector);
        new AuditAnchor(admin, writer, 0);
    }

    function test_the_first_checkpoint_with_a_proof_then_reverts() public {
        bytes32[] memory proof = new bytes32[](1);
        vm.expectRevert(abi.encodeWithSelector(AuditAnchor.AuditAnchor__ProofFromEmpty.selector, 1));
        vm.prank(writer);
        anchor.checkpoint(1, keccak256("root"), proof);
    }

    function testFuzz_sizes_only_grow_and_by_at_most_max_step(uint64 first, uint64 second) public {
        first = uint64(bound(first, 1, MAX_STEP));
        vm.startPrank(writer);
        anchor.checkpoint(first, keccak256("first"), none);
        if (second <= first) {
            vm.expectRevert(abi.encodeWithSelector(AuditAnchor.AuditAnchor__SizeNotIncreasing.selector, second, first));
        } else if (second - first > MAX_STEP) {
            vm.expectRevert(
                abi.encodeWithSelector(AuditAnchor.AuditAnchor__StepTooLarge.selector, second, first, MAX_STEP)
            );
        } else {
            // within the step, only a consistency proof is missing
            vm.expectRevert(abi.encodeWithSelector(AuditAnchor.AuditAnchor__NotConsistent.selector, second, first));
        }
        anchor.checkpoint(second, keccak256("second"), none);
        vm.stopPrank();
        (uint64 size,,) = anchor.latest();
        assertEq(size, first);
    }
}
