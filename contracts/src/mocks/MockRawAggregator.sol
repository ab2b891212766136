// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title MockRawAggregator
/// @notice A feed returning arbitrary 32-byte words from latestRoundData() — values no typed
///         Chainlink feed could return (e.g. a round id wider than uint80) — to test that
///         PriceBook judges raw return data instead of trusting (or reverting on) the ABI types.
contract MockRawAggregator {
    uint8 public decimals;
    uint256[5] internal _words;
    /// @notice Bytes latestRoundData() returns (160 = the five words; less = truncated).
    uint256 public length = 160;

    /// @param decimals_ What decimals() answers.
    constructor(uint8 decimals_) {
        decimals = decimals_;
    }

    /// @notice latestRoundData() returns these words: roundId, answer, startedAt, updatedAt,
    ///         answeredInRound.
    function setWords(uint256[5] calldata words) external {
        _words = words;
    }

    /// @notice Return only the first `length_` bytes of the words (≤ 160).
    function setLength(uint256 length_) external {
        length = length_;
    }

    /// @notice Every other selector (latestRoundData() included) returns the five words.
    fallback() external {
        uint256[5] memory words = _words;
        uint256 size = length;
        assembly ("memory-safe") {
            return(words, size)
        }
    }
}
