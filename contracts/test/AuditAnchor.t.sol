// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

import {AuditAnchor} from "../src/AuditAnchor.sol";
import {ZkTest} from "./utils/ZkTest.sol";

/// @notice The audit log's anchor: only the writer checkpoints, sizes only grow, every
///         checkpoint is an event and the latest one is in storage.
contract AuditAnchorTest is ZkTest {
    event Checkpointed(uint64 indexed size, bytes32 root, uint64 timestamp);

    address internal admin = address(0xA11CE);
    address internal writer = address(0xB0B);
    address internal stranger = address(0xBAD);
    AuditAnchor internal anchor;

    function setUp() public {
        anchor = new AuditAnchor(admin, writer);
    }

    function test_checkpoint_when_caller_is_not_the_writer_then_reverts() public {
        bytes32 role = anchor.WRITER_ROLE();
        for (uint256 i = 0; i < 2; i++) {
            address caller = i == 0 ? stranger : admin; // not even the admin writes
            vm.expectRevert(
                abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, caller, role)
            );
            vm.prank(caller);
            anchor.checkpoint(1, keccak256("root"));
        }
    }

    function test_checkpoint_when_size_does_not_increase_then_reverts() public {
        vm.startPrank(writer);
        vm.expectRevert(abi.encodeWithSelector(AuditAnchor.AuditAnchor__SizeNotIncreasing.selector, 0, 0));
        anchor.checkpoint(0, keccak256("empty"));
        anchor.checkpoint(10, keccak256("a"));
        vm.expectRevert(abi.encodeWithSelector(AuditAnchor.AuditAnchor__SizeNotIncreasing.selector, 10, 10));
        anchor.checkpoint(10, keccak256("b"));
        vm.expectRevert(abi.encodeWithSelector(AuditAnchor.AuditAnchor__SizeNotIncreasing.selector, 9, 10));
        anchor.checkpoint(9, keccak256("c"));
        vm.stopPrank();
    }

    function test_checkpoint_emits_an_event_and_stores_the_latest() public {
        vm.warp(1_800_000_000);
        vm.expectEmit(true, false, false, true, address(anchor));
        emit Checkpointed(500, keccak256("r500"), 1_800_000_000);
        vm.prank(writer);
        anchor.checkpoint(500, keccak256("r500"));
        (uint64 size, bytes32 root, uint64 stamp) = anchor.latest();
        assertEq(size, 500);
        assertEq(root, keccak256("r500"), "root");
        assertEq(stamp, 1_800_000_000);

        vm.warp(1_800_000_060);
        vm.prank(writer);
        anchor.checkpoint(1000, keccak256("r1000"));
        (size, root, stamp) = anchor.latest();
        assertEq(size, 1000);
        assertEq(root, keccak256("r1000"), "root");
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
        anchor.checkpoint(1, keccak256("root"));
    }

    function test_constructor_when_an_address_is_zero_then_reverts() public {
        vm.expectRevert(AuditAnchor.AuditAnchor__ZeroAddress.selector);
        new AuditAnchor(address(0), writer);
        vm.expectRevert(AuditAnchor.AuditAnchor__ZeroAddress.selector);
        new AuditAnchor(admin, address(0));
    }

    function testFuzz_sizes_only_grow(uint64 first, uint64 second) public {
        first = uint64(bound(first, 1, type(uint64).max - 1));
        vm.startPrank(writer);
        anchor.checkpoint(first, keccak256("first"));
        if (second <= first) {
            vm.expectRevert(abi.encodeWithSelector(AuditAnchor.AuditAnchor__SizeNotIncreasing.selector, second, first));
        }
        anchor.checkpoint(second, keccak256("second"));
        vm.stopPrank();
        (uint64 size,,) = anchor.latest();
        assertEq(size, second > first ? second : first);
    }
}
