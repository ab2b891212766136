// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AuditAnchor, RFC6962Consistency} from "../src/AuditAnchor.sol";
import {ZkTest} from "./utils/ZkTest.sol";

/// @dev The cheatcodes these tests use beyond ZkTest's (same cheatcode address).
interface JsonVm {
    function readFile(string calldata path) external view returns (string memory);
    function exists(string calldata path) external view returns (bool);
    function parseJson(string calldata json, string calldata key) external pure returns (bytes memory);
    function parseJsonUint(string calldata json, string calldata key) external pure returns (uint256);
}

/// @dev The library behind an external function, so proofs are passed as calldata.
contract ConsistencyHarness {
    function verify(uint256 size1, uint256 size2, bytes32 root1, bytes32 root2, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        return RFC6962Consistency.verify(size1, size2, root1, root2, proof);
    }
}

/// @notice AuditAnchor's consistency verifier against proofs made by the Python audit log
///         (test/fixtures/audit.json, written by zkrisk.engine.audit_forge_fixtures: `make
///         contracts-test` writes it first).
contract AuditAnchorConsistencyTest is ZkTest {
    /// @dev Fields in the order forge decodes a JSON object (alphabetical).
    struct Case {
        bytes32[] proof;
        uint256[] refused; // (size1, size2) pairs Python's verifier refuses this proof for
        bytes32 root1;
        bytes32 root2;
        uint256 size1;
        uint256 size2;
    }

    string internal constant FIXTURES = "test/fixtures/audit.json";
    JsonVm internal constant jvm = JsonVm(address(uint160(uint256(keccak256("hevm cheat code")))));
    address internal writer = address(0xB0B);
    ConsistencyHarness internal harness;
    string internal json;

    function setUp() public {
        harness = new ConsistencyHarness();
        if (!jvm.exists(FIXTURES)) {
            revert(
                "test/fixtures/audit.json is missing: run `make contracts-test` (or python -m zkrisk.engine.audit_forge_fixtures)"
            );
        }
        json = jvm.readFile(FIXTURES);
    }

    function load(string memory key) internal view returns (Case memory) {
        return abi.decode(jvm.parseJson(json, key), (Case));
    }

    function cases() internal view returns (Case[] memory out) {
        out = new Case[](jvm.parseJsonUint(json, ".cases"));
        for (uint256 i = 0; i < out.length; i++) {
            out[i] = load(string.concat(".c", vm_toString(i)));
        }
    }

    function check(Case memory c) internal view returns (bool) {
        return harness.verify(c.size1, c.size2, c.root1, c.root2, c.proof);
    }

    function test_every_consistency_proof_of_the_python_log_verifies() public view {
        Case[] memory all = cases();
        assertTrue(all.length > 100, "fixture cases");
        for (uint256 i = 0; i < all.length; i++) {
            assertTrue(check(all[i]), string.concat("case c", vm_toString(i)));
        }
    }

    function test_a_python_proof_with_any_hash_altered_is_refused() public view {
        Case[] memory all = cases();
        for (uint256 i = 0; i < all.length; i++) {
            Case memory c = all[i];
            for (uint256 j = 0; j < c.proof.length; j++) {
                bytes32 kept = c.proof[j];
                c.proof[j] = kept ^ bytes32(uint256(1));
                assertFalse(check(c));
                c.proof[j] = kept;
            }
        }
    }

    function test_a_python_proof_for_other_roots_is_refused() public view {
        Case[] memory all = cases();
        for (uint256 i = 0; i < all.length; i++) {
            Case memory c = all[i];
            assertFalse(harness.verify(c.size1, c.size2, c.root1, c.root2 ^ bytes32(uint256(1)), c.proof));
            assertFalse(harness.verify(c.size1, c.size2, c.root1 ^ bytes32(uint256(1)), c.root2, c.proof));
            assertFalse(harness.verify(c.size1, c.size2, c.root2, c.root1, c.proof));
        }
    }

    /// Not every other size: RFC 9162 verification checks the proof's shape, which trees of
    /// other sizes can share (2 -> 3 and 2 -> 4); the roots bind the leaves. So: the sizes the
    /// Python verifier refuses the proof for.
    function test_a_python_proof_for_other_sizes_is_refused_where_python_refuses_it() public view {
        Case[] memory all = cases();
        uint256 checked;
        for (uint256 i = 0; i < all.length; i++) {
            Case memory c = all[i];
            for (uint256 j = 0; j < c.refused.length; j += 2) {
                assertFalse(harness.verify(c.refused[j], c.refused[j + 1], c.root1, c.root2, c.proof));
                checked++;
            }
        }
        assertTrue(checked > all.length, "refused sizes checked");
    }

    function test_a_python_proof_cut_short_or_padded_is_refused() public view {
        Case[] memory all = cases();
        for (uint256 i = 0; i < all.length; i++) {
            Case memory c = all[i];
            bytes32[] memory shorter = new bytes32[](c.proof.length - 1);
            bytes32[] memory longer = new bytes32[](c.proof.length + 1);
            for (uint256 j = 0; j < c.proof.length; j++) {
                if (j < shorter.length) shorter[j] = c.proof[j];
                longer[j] = c.proof[j];
            }
            longer[c.proof.length] = c.root2;
            assertFalse(harness.verify(c.size1, c.size2, c.root1, c.root2, shorter));
            assertFalse(harness.verify(c.size1, c.size2, c.root1, c.root2, longer));
        }
    }

    /// The checkpoints AnchorSender sends (AuditLog.consistency_proof from the one before),
    /// anchored one after another; each step of 500 entries within the gas budget.
    function test_the_python_logs_checkpoints_anchor_one_after_another() public {
        AuditAnchor anchor = new AuditAnchor(address(0xA11CE), writer, 1_000_000);
        uint256 steps = jvm.parseJsonUint(json, ".log.steps");
        vm.startPrank(writer);
        for (uint256 i = 0; i < steps; i++) {
            Case memory s = load(string.concat(".log.s", vm_toString(i)));
            uint256 before = gasleft();
            anchor.checkpoint(uint64(s.size2), s.root2, s.proof);
            // execution only (no 21,000 base, no calldata): the bench reports the mined total
            assertLe(before - gasleft(), 60_000, "checkpoint execution gas");
            (uint64 size, bytes32 root,) = anchor.latest();
            assertEq(size, s.size2);
            assertEq(root, s.root2, "root");
        }
        vm.stopPrank();
    }

    function test_a_leaked_writer_cannot_anchor_a_python_proof_of_another_step() public {
        AuditAnchor anchor = new AuditAnchor(address(0xA11CE), writer, 1_000_000);
        Case memory first = load(".log.s0");
        Case memory second = load(".log.s1");
        Case memory third = load(".log.s2");
        vm.startPrank(writer);
        anchor.checkpoint(uint64(first.size2), first.root2, first.proof);
        // a valid proof, but from 500 to 1000 offered for 1000 -> 1500 (skipping the anchor)
        vm.expectRevert(
            abi.encodeWithSelector(AuditAnchor.AuditAnchor__NotConsistent.selector, third.size2, first.size2)
        );
        anchor.checkpoint(uint64(third.size2), third.root2, third.proof);
        anchor.checkpoint(uint64(second.size2), second.root2, second.proof);
        vm.stopPrank();
    }

    function vm_toString(uint256 v) internal pure returns (string memory) {
        if (v == 0) return "0";
        bytes memory b;
        while (v > 0) {
            b = abi.encodePacked(bytes1(uint8(48 + (v % 10))), b);
            v /= 10;
        }
        return string(b);
    }
}
