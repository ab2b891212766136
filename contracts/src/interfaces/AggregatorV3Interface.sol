// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title AggregatorV3Interface
/// @notice The Chainlink price feed interface (same selectors as @chainlink/contracts'), defined
///         here so zkrisk needs no Chainlink package.
interface AggregatorV3Interface {
    /// @notice Decimals of `answer` (8 for Chainlink USD feeds).
    function decimals() external view returns (uint8);

    /// @notice Human-readable feed name, e.g. "ETH / USD".
    function description() external view returns (string memory);

    /// @notice Aggregator version.
    function version() external view returns (uint256);

    /// @notice Data of round `roundId`.
    function getRoundData(uint80 roundId)
        external
        view
        returns (uint80 roundId_, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);

    /// @notice Data of the latest round.
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);
}
