// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {VaultFixture} from "./utils/VaultFixture.sol";
import {RiskVault} from "../src/RiskVault.sol";
import {MockERC20} from "../src/mocks/MockERC20.sol";
import {ReentrantToken} from "../src/mocks/ReentrantToken.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @notice A malicious margin token re-enters the vault in the middle of a payout. The cooldown is
///         set to its minimum and the re-entry happens in the same block, so only the reentrancy
///         guard stands in the way of a second seizure (the cooldown check reads lastLiquidatedAt,
///         which the effects already wrote — the guard is the first line, CEI the second).
contract ReentrancyTest is VaultFixture {
    ReentrantToken internal evil;

    function _marginToken(uint8 decimals) internal override returns (MockERC20) {
        evil = new ReentrantToken(decimals);
        return evil;
    }

    function setUp() public override {
        super.setUp();
        _commitDesk();
    }

    function test_liquidate_when_the_token_reenters_liquidate_then_escrow_is_seized_once() public {
        _crash();
        uint256[8] memory proof = _proof("liquidate");
        evil.arm(
            address(vault), address(vault), abi.encodeCall(RiskVault.liquidate, (desk, 2, keeperMargin, 10_000, proof))
        );
        (,, uint256 left) = vault.previewLiquidation(desk, 10_000);
        _liquidate("liquidate", keeperMargin, 10_000);
        _assertReentryRefused();
        assertEq(vault.escrowOf(desk), left, "seized exactly once");
        _assertConserved();
    }

    function test_liquidateStale_when_the_token_reenters_liquidateStale_then_escrow_is_seized_once() public {
        vm.warp(START + vault.policy().maxProofAge + 1);
        evil.arm(address(vault), address(vault), abi.encodeCall(RiskVault.liquidateStale, (desk)));
        (,, uint256 left) = vault.previewStaleLiquidation(desk);
        vm.prank(keeper);
        vault.liquidateStale(desk);
        _assertReentryRefused();
        assertEq(vault.escrowOf(desk), left, "seized exactly once");
        _assertConserved();
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

    function test_deposit_when_the_token_reenters_deposit_then_it_is_refused() public {
        margin.mint(desk, 10);
        vm.startPrank(desk);
        margin.approve(address(vault), 10);
        evil.arm(desk, address(vault), abi.encodeCall(RiskVault.deposit, (1)));
        vault.deposit(5);
        vm.stopPrank();
        _assertReentryRefused();
        assertEq(margin.balanceOf(address(vault)), vault.escrowOf(desk), "escrow conserved");
    }

    /// The beneficiary's claim pays out once: a re-entering withdrawOwed is refused.
    function test_withdrawOwed_when_the_token_reenters_withdrawOwed_then_it_is_refused() public {
        _crash();
        _liquidate("liquidate", keeperMargin, 10_000);
        uint256 owed = vault.owed(beneficiary);
        evil.arm(address(vault), address(vault), abi.encodeCall(RiskVault.withdrawOwed, (beneficiary)));
        vm.prank(beneficiary);
        vault.claim();
        _assertReentryRefused();
        assertEq(margin.balanceOf(beneficiary), owed, "paid exactly once");
        assertEq(vault.owed(beneficiary), 0);
        _assertConserved();
    }

    /// The vault holds every escrow and every unclaimed repayment.
    function _assertConserved() internal view {
        assertEq(
            margin.balanceOf(address(vault)), vault.escrowOf(desk) + vault.owed(beneficiary), "escrow + owed conserved"
        );
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
