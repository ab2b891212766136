// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";

/// @title MockSequencerUptimeFeed
/// @notice Chainlink's L2 sequencer-uptime feed for Anvil and tests: answer 0 = up, 1 = down,
///         startedAt = when the status last changed. Deployed up, since its deployment.
contract MockSequencerUptimeFeed is AggregatorV3Interface {
    uint80 public latestRound;
    int256 public answer;
    uint256 public startedAt;
    uint256 public updatedAt;

    constructor() {
        _write(0, block.timestamp);
    }

    /// @notice The sequencer goes down (`down`) or comes back up, now.
    function setStatus(bool down) external {
        _write(down ? int256(1) : int256(0), block.timestamp);
    }

    /// @notice Write a round verbatim (e.g. startedAt 0: an uninitialised feed).
    function setRound(int256 answer_, uint256 startedAt_) external {
        _write(answer_, startedAt_);
    }

    /// @notice Always 0: the answer is a status.
    function decimals() external pure returns (uint8) {
        return 0;
    }

    /// @notice Chainlink's description of these feeds.
    function description() external pure returns (string memory) {
        return "L2 Sequencer Uptime Status Feed";
    }

    /// @notice Always 4.
    function version() external pure returns (uint256) {
        return 4;
    }

    /// @notice The latest round only (the mock keeps no history).
    function getRoundData(uint80) external view returns (uint80, int256, uint256, uint256, uint80) {
        return (latestRound, answer, startedAt, updatedAt, latestRound);
    }

    /// @notice The latest status round.
    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        return (latestRound, answer, startedAt, updatedAt, latestRound);
    }

    function _write(int256 answer_, uint256 startedAt_) internal {
        latestRound += 1;
        answer = answer_;
        startedAt = startedAt_;
        updatedAt = block.timestamp;
    }
}
