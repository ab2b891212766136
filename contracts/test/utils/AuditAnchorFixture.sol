// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AuditAnchor} from "../../src/AuditAnchor.sol";
import {ZkTest} from "./ZkTest.sol";

/// @notice An AuditAnchor with a known admin and writer, and RFC 6962's node hash, for the
///         anchor's tests.
abstract contract AuditAnchorFixture is ZkTest {
    address internal admin = address(0xA11CE);
    address internal writer = address(0xB0B);
    uint64 internal constant MAX_STEP = 1_000_000;
    bytes32[] internal none;
    AuditAnchor internal anchor;

    function setUp() public virtual {
        anchor = new AuditAnchor(admin, writer, MAX_STEP);
    }

    /// @dev RFC 6962's node hash: a tree of 2k leaves whose left half is the tree of k.
    function node(bytes32 left, bytes32 right) internal pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x01), left, right));
    }
}
