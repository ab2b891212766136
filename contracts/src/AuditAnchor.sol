// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title AuditAnchor
/// @notice Anchors checkpoints of the risk service's audit log: the log is an RFC 6962 Merkle
///         tree of its rows, and a checkpoint is (tree size, root). Once a root is here the
///         service cannot rewrite, drop or reorder a row it covers without the log failing to
///         reproduce the anchored root (`zkrisk audit verify --rpc … --anchor …`).
/// @dev Every checkpoint is an event (the history, for consistency proofs between any two);
///      storage keeps only the latest (two slots). Sizes strictly increase, so a checkpoint
///      can never move the anchored log backwards. Only WRITER_ROLE (the service's anchor key)
///      writes; DEFAULT_ADMIN_ROLE grants and revokes it.
contract AuditAnchor is AccessControl {
    /// @notice The role allowed to write checkpoints: the risk service's anchor key.
    bytes32 public constant WRITER_ROLE = keccak256("WRITER_ROLE");

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
    /// @notice The admin and the writer must be real accounts.
    error AuditAnchor__ZeroAddress();

    /// @param admin Holds DEFAULT_ADMIN_ROLE: grants and revokes the writer.
    /// @param writer Holds WRITER_ROLE: the service's anchor key.
    constructor(address admin, address writer) {
        if (admin == address(0) || writer == address(0)) revert AuditAnchor__ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(WRITER_ROLE, writer);
    }

    /// @notice Anchor the checkpoint (size, root) of the audit log, stamped with the block time.
    /// @param size The tree size: how many rows, from the first, the root covers.
    /// @param root The RFC 6962 Merkle tree hash of those rows.
    function checkpoint(uint64 size, bytes32 root) external onlyRole(WRITER_ROLE) {
        uint64 latestSize = _latest.size;
        if (size <= latestSize) revert AuditAnchor__SizeNotIncreasing(size, latestSize);
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
