// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {VaultFixture} from "./utils/VaultFixture.sol";
import {RiskVault} from "../src/RiskVault.sol";
import {MockERC20} from "../src/mocks/MockERC20.sol";
import {ReentrantToken} from "../src/mocks/ReentrantToken.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @notice A malicious margin token re-enters the vault in the middle of a liquidation's payout.
///         The cooldown is set to 0 so that only the reentrancy guard stands in the way.
contract ReentrancyTest is VaultFixture {
    ReentrantToken internal evil;

    function _marginToken(uint8 decimals) internal override returns (MockERC20) {
        evil = new ReentrantToken(decimals);
        return evil;
    }

    function setUp() public override {
        super.setUp();
        vault.setLiquidationTerms(5_000, 500, 0);
        _commitDesk();
    }

    function test_liquidate_when_the_token_reenters_liquidate_then_escrow_is_seized_once() public {
        _crash();
        uint256[8] memory proof = _proof("liquidate");
        evil.arm(address(vault), address(vault), abi.encodeCall(RiskVault.liquidate, (desk, 2, proof)));
        (uint256 repay, uint256 bonus) = vault.previewLiquidation(desk);
        vm.prank(keeper);
        vault.liquidate(desk, 2, proof);
        _assertReentryRefused();
        assertEq(vault.escrowOf(desk), deposit - repay - bonus, "seized exactly once");
        assertEq(margin.balanceOf(address(vault)), vault.escrowOf(desk), "escrow conserved");
    }

    function test_liquidateStale_when_the_token_reenters_liquidateStale_then_escrow_is_seized_once() public {
        vm.warp(START + vault.policy().maxProofAge + 1);
        _refreshFeeds();
        book.takeSnapshot();
        // Without the guard this re-entry would succeed: the account is still stale and the
        // cooldown is 0, so a second (and third, …) seizure would drain the escrow.
        evil.arm(address(vault), address(vault), abi.encodeCall(RiskVault.liquidateStale, (desk)));
        (uint256 repay, uint256 bonus) = vault.previewLiquidation(desk);
        vm.prank(keeper);
        vault.liquidateStale(desk);
        _assertReentryRefused();
        assertEq(vault.escrowOf(desk), deposit - repay - bonus, "seized exactly once");
        assertEq(margin.balanceOf(address(vault)), vault.escrowOf(desk), "escrow conserved");
    }

    function test_withdraw_when_the_token_reenters_withdraw_then_it_is_refused() public {
        uint256[8] memory proof = _proof("withdraw");
        evil.arm(address(vault), address(vault), abi.encodeCall(RiskVault.withdraw, (1, 1, proof)));
        vm.prank(desk);
        vault.withdraw(withdrawal, 1, proof);
        _assertReentryRefused();
        assertEq(vault.escrowOf(desk), deposit - withdrawal);
        assertEq(margin.balanceOf(address(vault)), vault.escrowOf(desk), "escrow conserved");
    }

    function _assertReentryRefused() internal view {
        assertTrue(evil.reentryAttempted(), "the token re-entered");
        assertFalse(evil.reentrySucceeded());
        assertEq(
            uint256(keccak256(evil.reentryReturnData())),
            uint256(keccak256(abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector))),
            "refused by the reentrancy guard"
        );
    }
}
