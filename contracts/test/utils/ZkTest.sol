// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @dev The forge cheatcodes zkrisk's tests use (same address and signatures as forge-std's Vm).
interface Vm {
    function expectRevert() external;
    function expectRevert(bytes calldata revertData) external;
    function expectRevert(bytes4 revertData) external;
    function expectEmit(bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData) external;
    function expectEmit(bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData, address emitter) external;
    function prank(address sender) external;
    function startPrank(address sender) external;
    function stopPrank() external;
    function warp(uint256 timestamp) external;
    function assume(bool condition) external;
    function readFile(string calldata path) external view returns (string memory);
    function exists(string calldata path) external view returns (bool);
    function parseJsonUint(string calldata json, string calldata key) external pure returns (uint256);
    function parseJsonUintArray(string calldata json, string calldata key) external pure returns (uint256[] memory);
    function parseJsonAddress(string calldata json, string calldata key) external pure returns (address);
    function parseJsonBytes(string calldata json, string calldata key) external pure returns (bytes memory);
    function getNonce(address account) external view returns (uint64);
    function load(address target, bytes32 slot) external view returns (bytes32);
    function store(address target, bytes32 slot, bytes32 value) external;
    function label(address account, string calldata name) external;
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    function addr(uint256 privateKey) external pure returns (address);
    function snapshotState() external returns (uint256);
    function revertToState(uint256 snapshotId) external returns (bool);
    function parseJsonBytes32(string calldata json, string calldata key) external pure returns (bytes32);
}

/// @title ZkTest
/// @notice A minimal test base: the npm `forge-std` (1.1.2) needs `ds-test`, which npm does not
///         carry, so zkrisk's forge tests use the cheatcodes directly and revert on failure.
abstract contract ZkTest {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    error ZkTest__AssertionFailed(string what);
    error ZkTest__NotEqual(string what, uint256 a, uint256 b);

    function assertTrue(bool condition) internal pure {
        if (!condition) revert ZkTest__AssertionFailed("expected true");
    }

    function assertTrue(bool condition, string memory what) internal pure {
        if (!condition) revert ZkTest__AssertionFailed(what);
    }

    function assertFalse(bool condition) internal pure {
        if (condition) revert ZkTest__AssertionFailed("expected false");
    }

    function assertEq(uint256 a, uint256 b) internal pure {
        if (a != b) revert ZkTest__NotEqual("values differ", a, b);
    }

    function assertEq(uint256 a, uint256 b, string memory what) internal pure {
        if (a != b) revert ZkTest__NotEqual(what, a, b);
    }

    function assertEq(address a, address b) internal pure {
        if (a != b) revert ZkTest__AssertionFailed("addresses differ");
    }

    function assertEq(bytes32 a, bytes32 b, string memory what) internal pure {
        if (a != b) revert ZkTest__AssertionFailed(what);
    }

    function assertLe(uint256 a, uint256 b, string memory what) internal pure {
        if (a > b) revert ZkTest__NotEqual(what, a, b);
    }

    /// @dev Maps any x into [min, max] (uniform enough for fuzzing; keeps edge values reachable).
    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        require(min <= max, "bound: min > max");
        if (x >= min && x <= max) return x;
        uint256 size = max - min;
        if (size == type(uint256).max) return x;
        return min + (x % (size + 1));
    }
}
