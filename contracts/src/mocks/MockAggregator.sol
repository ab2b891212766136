// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";

/// @title MockAggregator
/// @notice A Chainlink-style feed for Anvil and tests: `setAnswer` starts and completes a round now;
///         `setRound` writes any round, including incomplete or stale ones.
contract MockAggregator is AggregatorV3Interface {
    struct Round {
        int256 answer;
        uint256 startedAt;
        uint256 updatedAt;
        uint80 answeredInRound;
    }

    uint8 public immutable decimals;
    string public description;
    uint80 public latestRound;
    mapping(uint80 roundId => Round) internal _rounds;

    /// @notice getRoundData asked for a round that was never written.
    error MockAggregator__NoRound(uint80 roundId);

    /// @param decimals_ Decimals of the answers.
    /// @param description_ E.g. "ETH / USD".
    constructor(uint8 decimals_, string memory description_) {
        decimals = decimals_;
        description = description_;
    }

    /// @notice Publish `answer` as a new complete round updated now.
    function setAnswer(int256 answer) external {
        uint80 id = latestRound + 1;
        _rounds[id] = Round(answer, block.timestamp, block.timestamp, id);
        latestRound = id;
    }

    /// @notice Write round `roundId` verbatim and make it the latest.
    function setRound(uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
        external
    {
        _rounds[roundId] = Round(answer, startedAt, updatedAt, answeredInRound);
        latestRound = roundId;
    }

    /// @notice Always 4, like Chainlink's current aggregators.
    function version() external pure returns (uint256) {
        return 4;
    }

    /// @notice Data of round `roundId`.
    function getRoundData(uint80 roundId) public view returns (uint80, int256, uint256, uint256, uint80) {
        Round memory r = _rounds[roundId];
        if (r.startedAt == 0 && r.updatedAt == 0 && r.answer == 0) revert MockAggregator__NoRound(roundId);
        return (roundId, r.answer, r.startedAt, r.updatedAt, r.answeredInRound);
    }

    /// @notice Data of the latest round.
    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        Round memory r = _rounds[latestRound];
        return (latestRound, r.answer, r.startedAt, r.updatedAt, r.answeredInRound);
    }
}
