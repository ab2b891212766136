// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MockERC20} from "./MockERC20.sol";

/// @title ReentrantToken
/// @notice A malicious margin token: when armed, the first transfer out of `source` calls `target`
///         with `payload` (e.g. the vault's liquidate again) in the middle of the transfer, and
///         records what happened instead of reverting, so tests can assert the re-entry was refused
///         while the outer call went through.
contract ReentrantToken is MockERC20 {
    address public source;
    address public target;
    bytes public payload;
    bool public armed;
    bool public reentryAttempted;
    bool public reentrySucceeded;
    bytes public reentryReturnData;

    /// @param decimals_ Token decimals.
    constructor(uint8 decimals_) MockERC20("Reentrant USD", "rUSD", decimals_) {}

    /// @notice Arm the hook: the next transfer from `source_` calls `target_` with `payload_`.
    function arm(address source_, address target_, bytes calldata payload_) external {
        (source, target, payload, armed) = (source_, target_, payload_, true);
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (armed && from == source) {
            armed = false;
            reentryAttempted = true;
            (bool ok, bytes memory ret) = target.call(payload);
            reentrySucceeded = ok;
            reentryReturnData = ret;
        }
    }
}
