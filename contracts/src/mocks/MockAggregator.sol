// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";

/// @title MockAggregator
/// @notice A Chainlink-style feed for Anvil and tests: `setAnswer` starts and completes a round now;
///         `setRound` writes any round, including incomplete or stale ones; `setDecimals`,
///         `setReverts` and `setMalformed` play a migrated, broken or garbage-returning feed.
contract MockAggregator is AggregatorV3Interface {
    struct Round {
        int256 answer;
        uint256 startedAt;
        uint256 updatedAt;
        uint80 answeredInRound;
    }

    uint8 internal _decimals;
    string public description;
    uint80 public latestRound;
    /// @notice When true, decimals() and latestRoundData() revert.
    bool public reverts;
    /// @notice When true, latestRoundData() returns one word instead of five.
    bool public malformed;
    mapping(uint80 roundId => Round) internal _rounds;

    /// @notice getRoundData asked for a round that was never written.
    error MockAggregator__NoRound(uint80 roundId);
    /// @notice The feed is set to revert (setReverts).
    error MockAggregator__Broken();

    /// @param decimals_ Decimals of the answers.
    /// @param description_ E.g. "ETH / USD".
    constructor(uint8 decimals_, string memory description_) {
        _decimals = decimals_;
        description = description_;
    }

    /// @notice Decimals of the answers (changeable: a feed migrated behind the same address).
    function decimals() external view returns (uint8) {
        if (reverts) revert MockAggregator__Broken();
        return _decimals;
    }

    /// @notice Report `decimals_` from now on (answers already written are not rescaled).
    function setDecimals(uint8 decimals_) external {
        _decimals = decimals_;
    }

    /// @notice Make decimals() and latestRoundData() revert (or work again).
    function setReverts(bool reverts_) external {
        reverts = reverts_;
    }

    /// @notice Make latestRoundData() return 32 bytes of garbage (or five words again).
    function setMalformed(bool malformed_) external {
        malformed = malformed_;
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
        if (reverts) revert MockAggregator__Broken();
        if (malformed) {
            assembly ("memory-safe") {
                mstore(0, 0xdeadbeef)
                return(0, 32)
            }
        }
        Round memory r = _rounds[latestRound];
        return (latestRound, r.answer, r.startedAt, r.updatedAt, r.answeredInRound);
    }
}
