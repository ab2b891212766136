// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title RFC6962Consistency
/// @notice Verifies an RFC 6962 / RFC 9162 Merkle consistency proof: the tree of `size2` leaves
///         with root `root2` extends the tree of `size1` leaves with root `root1` (no leaf of
///         the first changed, dropped or reordered). Node hash SHA-256(0x01 || left || right),
///         by the SHA-256 precompile.
library RFC6962Consistency {
    /// @notice RFC 9162 §2.1.4.2, for 0 < size1 < size2 (the caller has checked the sizes).
    function verify(uint256 size1, uint256 size2, bytes32 root1, bytes32 root2, bytes32[] calldata proof)
        internal
        view
        returns (bool)
    {
        uint256 n = proof.length;
        if (n == 0) return false;
        uint256 fn = size1 - 1;
        uint256 sn = size2 - 1;
        uint256 i;
        bytes32 fr;
        // A power-of-two first tree is a subtree of the second: its root opens the path.
        if (size1 & fn == 0) {
            fr = root1;
        } else {
            fr = proof[0];
            i = 1;
        }
        bytes32 sr = fr;
        while (fn & 1 == 1) {
            fn >>= 1;
            sn >>= 1;
        }
        for (; i < n; ++i) {
            if (sn == 0) return false; // a longer proof than the tree is deep
            bytes32 c = proof[i];
            if (fn & 1 == 1 || fn == sn) {
                fr = _node(c, fr);
                sr = _node(c, sr);
                while (fn & 1 == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            } else {
                sr = _node(sr, c);
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 && fr == root1 && sr == root2;
    }

    /// @dev SHA-256(0x01 || left || right), hashed from scratch memory past the free pointer.
    function _node(bytes32 left, bytes32 right) private view returns (bytes32 out) {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore8(p, 0x01)
            mstore(add(p, 1), left)
            mstore(add(p, 33), right)
            if iszero(staticcall(gas(), 0x02, p, 65, 0x00, 0x20)) { revert(0, 0) }
            out := mload(0x00)
        }
    }
}

/// @title AuditAnchor
/// @notice Anchors checkpoints of the risk service's audit log: the log is an RFC 6962 Merkle
///         tree of its rows, and a checkpoint is (tree size, root). Once a root is here the
///         service cannot rewrite, drop or reorder a row it covers without the log failing to
///         reproduce the anchored root (`zkrisk audit verify --rpc … --anchor …`).
/// @dev Every checkpoint is an event (the history); storage keeps only the latest (two slots).
///      Each checkpoint must extend the latest: a consistency proof from it (none from size 0),
///      and at most `maxStep` entries more. So not even the writer key can rewrite anchored
///      history or jump the size to 2^64 - 1 to lock honest checkpoints out. What a leaked
///      writer key still can do is append entries of its own invention past the latest anchor
///      (at most `maxStep` per transaction): the log then no longer reproduces the anchored
///      root, which `zkrisk audit verify` names as a forked history; revoke the key. Only
///      WRITER_ROLE (the service's anchor key) writes; DEFAULT_ADMIN_ROLE grants and revokes it.
contract AuditAnchor is AccessControl {
    /// @notice The role allowed to write checkpoints: the risk service's anchor key.
    bytes32 public constant WRITER_ROLE = keccak256("WRITER_ROLE");

    /// @notice The most entries one checkpoint may add to the latest one.
    uint64 public immutable maxStep;

    /// @dev size and timestamp share one slot; the root takes the other.
    struct Checkpoint {
        uint64 size;
        uint64 timestamp;
        bytes32 root;
    }

    Checkpoint private _latest;

    /// @notice A checkpoint was anchored: the log's first `size` rows hash to `root`.
    event Checkpointed(uint64 indexed size, bytes32 root, uint64 timestamp);

    /// @notice A checkpoint's size must be above the latest anchored one (`latestSize`).
    error AuditAnchor__SizeNotIncreasing(uint64 size, uint64 latestSize);
    /// @notice A checkpoint may add at most `maxStep` entries to the latest: anchor the ones
    ///         between first.
    error AuditAnchor__StepTooLarge(uint64 size, uint64 latestSize, uint64 maxStep);
    /// @notice The proof does not show the tree of `size` extending the latest anchored one
    ///         (`latestSize`): pass the log's consistency proof between the two.
    error AuditAnchor__NotConsistent(uint64 size, uint64 latestSize);
    /// @notice The first checkpoint (from size 0) takes no consistency proof.
    error AuditAnchor__ProofFromEmpty(uint256 proofLength);
    /// @notice The admin and the writer must be real accounts.
    error AuditAnchor__ZeroAddress();
    /// @notice maxStep must be at least 1 (else no checkpoint could ever be anchored).
    error AuditAnchor__ZeroMaxStep();

    /// @param admin Holds DEFAULT_ADMIN_ROLE: grants and revokes the writer.
    /// @param writer Holds WRITER_ROLE: the service's anchor key.
    /// @param maxStep_ The most entries one checkpoint may add (the service checkpoints every
    ///        1,000 entries by default; 1,000,000 leaves room for an outage).
    constructor(address admin, address writer, uint64 maxStep_) {
        if (admin == address(0) || writer == address(0)) revert AuditAnchor__ZeroAddress();
        if (maxStep_ == 0) revert AuditAnchor__ZeroMaxStep();
        maxStep = maxStep_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(WRITER_ROLE, writer);
    }

    /// @notice Anchor the checkpoint (size, root) of the audit log, stamped with the block time.
    /// @param size The tree size: how many rows, from the first, the root covers.
    /// @param root The RFC 6962 Merkle tree hash of those rows.
    /// @param proof The RFC 6962 consistency proof from the latest anchored checkpoint to this
    ///        one (empty for the first).
    function checkpoint(uint64 size, bytes32 root, bytes32[] calldata proof) external onlyRole(WRITER_ROLE) {
        Checkpoint memory last = _latest;
        if (size <= last.size) revert AuditAnchor__SizeNotIncreasing(size, last.size);
        if (size - last.size > maxStep) revert AuditAnchor__StepTooLarge(size, last.size, maxStep);
        if (last.size == 0) {
            if (proof.length != 0) revert AuditAnchor__ProofFromEmpty(proof.length);
        } else if (!RFC6962Consistency.verify(last.size, size, last.root, root, proof)) {
            revert AuditAnchor__NotConsistent(size, last.size);
        }
        uint64 stamp = uint64(block.timestamp);
        _latest = Checkpoint(size, stamp, root);
        emit Checkpointed(size, root, stamp);
    }

    /// @notice The latest anchored checkpoint; all zero before the first.
    /// @return size The tree size it covers.
    /// @return root Its RFC 6962 root.
    /// @return timestamp The block time it was anchored at.
    function latest() external view returns (uint64 size, bytes32 root, uint64 timestamp) {
        Checkpoint memory c = _latest;
        return (c.size, c.root, c.timestamp);
    }
}
