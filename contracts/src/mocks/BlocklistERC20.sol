// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MockERC20} from "./MockERC20.sol";

/// @title BlocklistERC20
/// @notice A margin token with an issuer's blocklist, as USDC and USDT have: a transfer from or
///         to a blocked address reverts.
contract BlocklistERC20 is MockERC20 {
    /// @notice Addresses that may neither send nor receive.
    mapping(address account => bool) public blocked;

    /// @notice `account` is blocklisted.
    error BlocklistERC20__Blocked(address account);

    /// @param decimals_ Token decimals.
    constructor(uint8 decimals_) MockERC20("Blocklist USD", "bUSD", decimals_) {}

    /// @notice Block or unblock `account` (anyone may; test token).
    function setBlocked(address account, bool isBlocked) external {
        blocked[account] = isBlocked;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (blocked[from]) revert BlocklistERC20__Blocked(from);
        if (blocked[to]) revert BlocklistERC20__Blocked(to);
        super._update(from, to, value);
    }
}
