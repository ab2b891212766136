// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IPriceBook
/// @notice What the vault reads from the price book: committed price snapshots and the end of the
///         grace period after the last oracle or L2 sequencer outage.
interface IPriceBook {
    /// @notice A committed price snapshot.
    /// @param hash SnapshotHash(N) of (id, prices, liquidation thresholds): the Health proof's
    ///        public `snapshotHash`.
    /// @param takenAt Block timestamp of `takeSnapshot` (0 = no such snapshot).
    /// @param oldestPriceAt The oldest `updatedAt` among the price sources it used.
    /// @param degraded True when at least one asset was priced by its secondary source (the primary
    ///        failed) or its two sources deviated by more than the listing allows.
    struct Snapshot {
        uint256 hash;
        uint64 takenAt;
        uint64 oldestPriceAt;
        bool degraded;
    }

    /// @notice Number of asset slots in a snapshot (the Health circuit's N).
    function slots() external view returns (uint256);

    /// @notice Token of the asset listed in `slot` (slot 0 is a vault's margin token).
    function tokenAt(uint256 slot) external view returns (address);

    /// @notice Id of the latest snapshot (0 before the first).
    function latestSnapshotId() external view returns (uint64);

    /// @notice Snapshot `id`; `takenAt` is 0 when it does not exist.
    function snapshot(uint256 id) external view returns (Snapshot memory);

    /// @notice The latest snapshot and its id.
    function latestSnapshot() external view returns (uint64 id, Snapshot memory);

    /// @notice Read every price source and commit a new snapshot.
    function takeSnapshot() external returns (uint64 id, uint256 hash);

    /// @notice End of the grace period after the last outage known: the later of
    ///         (L2 sequencer up since + sequencer grace) and (last oracle outage end + oracle grace);
    ///         type(uint64).max while the sequencer is down. No liquidation before it.
    function graceEndsAt() external view returns (uint64);
}
