// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {VaultFixture} from "./utils/VaultFixture.sol";
import {RiskVault} from "../src/RiskVault.sol";
import {PriceBook} from "../src/PriceBook.sol";
import {Groth16Calldata} from "../src/Groth16Calldata.sol";
import {Action} from "../src/ZkRiskConstants.sol";
import {MockERC20} from "../src/mocks/MockERC20.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

/// @notice RiskVault with REAL Groth16 proofs (fixtures proved by the engine for this vault's
///         address), one behaviour per test.
contract RiskVaultTest is VaultFixture {
    // ------------------------------------------------------------ deposit

    function test_deposit_credits_escrow_and_emits_event() public {
        margin.mint(desk, deposit);
        vm.startPrank(desk);
        margin.approve(address(vault), deposit);
        vm.expectEmit(true, false, false, true, address(vault));
        emit RiskVault.Deposited(desk, deposit, deposit);
        vault.deposit(deposit);
        vm.stopPrank();
        assertEq(vault.escrowOf(desk), deposit);
        assertEq(margin.balanceOf(address(vault)), deposit);
    }

    function test_deposit_when_amount_is_zero_then_reverts() public {
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__ZeroAmount.selector);
        vault.deposit(0);
    }

    function test_deposit_when_paused_then_reverts() public {
        vm.prank(guardian);
        vault.pause();
        margin.mint(desk, 1);
        vm.startPrank(desk);
        margin.approve(address(vault), 1);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        vault.deposit(1);
        vm.stopPrank();
    }

    function test_deposit_when_escrow_would_not_fit_the_circuit_then_reverts() public {
        uint256 cap = vault.maxEscrow();
        assertEq(cap, ((uint256(1) << 80) - 1) / 100, "6-decimal token: cap = (2^80 - 1) / 10^2");
        _deposit(desk, cap);
        margin.mint(desk, 1);
        vm.startPrank(desk);
        margin.approve(address(vault), 1);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__EscrowCapExceeded.selector, cap + 1, cap));
        vault.deposit(1);
        vm.stopPrank();
    }

    function testFuzz_deposit_credits_exactly_the_amount_received(uint256 amount) public {
        amount = bound(amount, 1, vault.maxEscrow());
        _deposit(desk, amount);
        assertEq(vault.escrowOf(desk), amount);
        assertEq(margin.balanceOf(address(vault)), amount);
    }

    // ------------------------------------------------------------ commit

    function test_commit_with_a_real_proof_stores_commitment_and_consumes_nonce() public {
        _deposit(desk, deposit);
        vm.expectEmit(true, true, false, true, address(vault));
        emit RiskVault.Committed(desk, commitment, 1, 0);
        vm.prank(desk);
        vault.commit(commitment, _proof("commit"));
        RiskVault.AccountState memory s = vault.accountState(desk);
        assertEq(s.commitment, commitment);
        assertEq(s.nonce, 1);
        assertEq(s.lastProofSnapshotId, 1);
        assertEq(s.lastProofAt, START);
    }

    function test_commit_when_already_committed_then_reverts() public {
        _commitDesk();
        vm.prank(desk);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__AlreadyCommitted.selector, desk));
        vault.commit(commitment, _proof("commit"));
    }

    function test_commit_when_commitment_differs_from_the_proven_one_then_reverts() public {
        _deposit(desk, deposit);
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.commit(commitment + 1, _proof("commit"));
    }

    function test_commit_when_margin_differs_from_the_proven_one_then_reverts() public {
        _deposit(desk, deposit + 1);
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.commit(commitment, _proof("commit"));
    }

    function test_commit_when_commitment_is_zero_then_reverts() public {
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__ZeroCommitment.selector);
        vault.commit(0, _proof("commit"));
    }

    function test_commit_when_commitment_plus_r_aliases_the_proven_one_then_reverts() public {
        _deposit(desk, deposit);
        vm.prank(desk);
        vm.expectRevert(abi.encodeWithSelector(Groth16Calldata.Groth16Calldata__PublicInputNotInField.selector, 0));
        vault.commit(commitment + R, _proof("commit"));
    }

    function testFuzz_commit_when_commitment_is_not_a_field_element_then_reverts(uint256 value) public {
        value = bound(value, R, type(uint256).max);
        _deposit(desk, deposit);
        vm.prank(desk);
        vm.expectRevert(abi.encodeWithSelector(Groth16Calldata.Groth16Calldata__PublicInputNotInField.selector, 0));
        vault.commit(value, _proof("commit"));
    }

    function test_commit_when_paused_then_reverts() public {
        _deposit(desk, deposit);
        vm.prank(guardian);
        vault.pause();
        vm.prank(desk);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        vault.commit(commitment, _proof("commit"));
    }

    function test_commit_when_the_latest_snapshot_is_not_the_proven_one_then_reverts() public {
        _deposit(desk, deposit);
        vm.warp(block.timestamp + 1);
        book.takeSnapshot(); // same prices, snapshot 2: another hash and binding
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.commit(commitment, _proof("commit"));
    }

    // ------------------------------------------------------------ withdraw

    function test_withdraw_with_a_real_proof_pays_out_and_emits_event() public {
        _commitDesk();
        vm.expectEmit(true, true, false, true, address(vault));
        emit RiskVault.Withdrawn(desk, withdrawal, deposit - withdrawal, 1, 1);
        vm.prank(desk);
        vault.withdraw(withdrawal, 1, _proof("withdraw"));
        assertEq(vault.escrowOf(desk), deposit - withdrawal);
        assertEq(margin.balanceOf(desk), withdrawal);
        assertEq(vault.nonceOf(desk), 2);
    }

    function test_withdraw_when_the_proof_is_replayed_then_reverts() public {
        _commitDesk();
        vm.prank(desk);
        vault.withdraw(withdrawal, 1, _proof("withdraw"));
        _deposit(desk, withdrawal); // same escrow again: only the consumed nonce differs
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.withdraw(withdrawal, 1, _proof("withdraw"));
    }

    function test_withdraw_when_the_proof_is_for_another_account_then_reverts() public {
        _commitDesk();
        _cloneAccount(desk, stranger); // same commitment, escrow and nonce: only the binding differs
        assertEq(vault.escrowOf(stranger), deposit);
        vm.prank(stranger);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.withdraw(withdrawal, 1, _proof("withdraw"));
    }

    function test_withdraw_when_the_proof_is_for_another_snapshot_then_reverts() public {
        _commitDesk();
        vm.warp(block.timestamp + 1);
        book.takeSnapshot(); // snapshot 2, same prices
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.withdraw(withdrawal, 2, _proof("withdraw"));
    }

    function test_withdraw_when_the_proof_is_a_commit_proof_then_reverts() public {
        _commitDesk();
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.withdraw(withdrawal, 1, _proof("commit"));
    }

    function test_withdraw_when_price_is_stale_then_reverts() public {
        _commitDesk();
        uint256 maxAge = vault.policy().maxPriceAge;
        vm.warp(START + maxAge + 1);
        vm.prank(desk);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__StalePrice.selector, 1, START, maxAge));
        vault.withdraw(withdrawal, 1, _proof("withdraw"));
    }

    function test_withdraw_at_the_last_fresh_second_then_succeeds() public {
        _commitDesk();
        vm.warp(START + vault.policy().maxPriceAge);
        vm.prank(desk);
        vault.withdraw(withdrawal, 1, _proof("withdraw"));
        assertEq(vault.escrowOf(desk), deposit - withdrawal);
    }

    function test_withdraw_when_snapshot_is_unknown_then_reverts() public {
        _commitDesk();
        vm.prank(desk);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__NotLatestSnapshot.selector, 9, 1));
        vault.withdraw(withdrawal, 9, _proof("withdraw"));
    }

    function test_withdraw_when_prices_crashed_since_the_proven_snapshot_then_reverts() public {
        _commitDesk();
        _crash(); // snapshot 1 is still fresh, but no longer the latest: no escape at old prices
        vm.prank(desk);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__NotLatestSnapshot.selector, 1, 2));
        vault.withdraw(withdrawal, 1, _proof("withdraw"));
    }

    function test_updateCommitment_when_a_newer_snapshot_exists_then_reverts() public {
        _commitDesk();
        _crash();
        vm.prank(desk);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__NotLatestSnapshot.selector, 1, 2));
        vault.updateCommitment(rebalanced, 1, _proof("update"));
    }

    function test_withdraw_when_no_commitment_then_reverts() public {
        _deposit(desk, deposit);
        vm.prank(desk);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__NoCommitment.selector, desk));
        vault.withdraw(withdrawal, 1, _proof("withdraw"));
    }

    function test_withdraw_when_amount_exceeds_escrow_then_reverts() public {
        _commitDesk();
        vm.prank(desk);
        vm.expectRevert(
            abi.encodeWithSelector(RiskVault.RiskVault__InsufficientEscrow.selector, deposit, deposit + 1)
        );
        vault.withdraw(deposit + 1, 1, _proof("withdraw"));
    }

    function test_withdraw_when_amount_is_zero_then_reverts() public {
        _commitDesk();
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__ZeroAmount.selector);
        vault.withdraw(0, 1, _proof("withdraw"));
    }

    function test_withdraw_when_paused_then_reverts() public {
        _commitDesk();
        vm.prank(guardian);
        vault.pause();
        vm.prank(desk);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        vault.withdraw(withdrawal, 1, _proof("withdraw"));
    }

    // ------------------------------------------------------------ updateCommitment

    function test_updateCommitment_with_a_real_proof_replaces_the_commitment() public {
        _commitDesk();
        vm.expectEmit(true, true, false, true, address(vault));
        emit RiskVault.CommitmentUpdated(desk, commitment, rebalanced, 1, 1);
        vm.prank(desk);
        vault.updateCommitment(rebalanced, 1, _proof("update"));
        assertEq(vault.accountState(desk).commitment, rebalanced);
        assertEq(vault.nonceOf(desk), 2);
    }

    function test_updateCommitment_when_no_commitment_then_reverts() public {
        vm.prank(desk);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__NoCommitment.selector, desk));
        vault.updateCommitment(rebalanced, 1, _proof("update"));
    }

    function test_updateCommitment_when_new_commitment_is_zero_then_reverts() public {
        _commitDesk();
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__ZeroCommitment.selector);
        vault.updateCommitment(0, 1, _proof("update"));
    }

    function test_updateCommitment_when_new_commitment_plus_r_then_reverts() public {
        _commitDesk();
        vm.prank(desk);
        vm.expectRevert(abi.encodeWithSelector(Groth16Calldata.Groth16Calldata__PublicInputNotInField.selector, 0));
        vault.updateCommitment(rebalanced + R, 1, _proof("update"));
    }

    function test_updateCommitment_when_the_proof_is_for_another_commitment_then_reverts() public {
        _commitDesk();
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.updateCommitment(commitment, 1, _proof("update"));
    }

    function test_updateCommitment_when_price_is_stale_then_reverts() public {
        _commitDesk();
        vm.warp(START + vault.policy().maxPriceAge + 1);
        vm.prank(desk);
        vm.expectRevert();
        vault.updateCommitment(rebalanced, 1, _proof("update"));
    }

    // ------------------------------------------------------------ liquidate (with a proof)

    function test_liquidate_with_a_real_proof_pays_beneficiary_and_keeper_bonus() public {
        _commitDesk();
        _crash();
        (uint256 repay, uint256 bonus) = vault.previewLiquidation(desk);
        assertEq(repay, deposit / 2, "close factor 50%");
        assertEq(bonus, repay * 500 / 10_000, "bonus 5% of the repaid amount");
        vm.expectEmit(true, true, true, true, address(vault));
        emit RiskVault.Liquidated(
            desk, keeper, beneficiary, RiskVault.LiquidationPath.PROOF, 2, 1, repay, bonus, deposit - repay - bonus
        );
        vm.prank(keeper);
        vault.liquidate(desk, 2, _proof("liquidate"));
        assertEq(margin.balanceOf(beneficiary), repay);
        assertEq(margin.balanceOf(keeper), bonus);
        assertEq(vault.escrowOf(desk), deposit - repay - bonus);
        assertEq(margin.balanceOf(address(vault)), deposit - repay - bonus);
        assertEq(vault.nonceOf(desk), 2);
    }

    function test_liquidate_after_a_withdrawal_with_its_own_real_proof_then_succeeds() public {
        _commitDesk();
        vm.prank(desk);
        vault.withdraw(withdrawal, 1, _proof("withdraw"));
        _crash();
        vm.prank(keeper);
        vault.liquidate(desk, 2, _proof("liquidateAfterWithdraw"));
        assertEq(vault.escrowOf(desk), (deposit - withdrawal) - (deposit - withdrawal) / 2 * 10_500 / 10_000);
    }

    function test_liquidate_when_the_proof_predates_a_withdrawal_then_reverts() public {
        _commitDesk();
        vm.prank(desk);
        vault.withdraw(withdrawal, 1, _proof("withdraw"));
        _crash();
        vm.prank(keeper);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.liquidate(desk, 2, _proof("liquidate")); // nonce 1 and the old margin
    }

    function test_liquidate_when_the_proof_names_another_snapshot_then_reverts() public {
        _commitDesk();
        _crash();
        vm.prank(keeper);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.liquidate(desk, 1, _proof("liquidate"));
    }

    function test_liquidate_when_the_proof_is_a_health_proof_then_reverts() public {
        _commitDesk();
        _crash();
        vm.prank(keeper);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.liquidate(desk, 2, _proof("withdraw"));
    }

    function test_liquidate_when_called_again_within_the_cooldown_then_reverts() public {
        _commitDesk();
        _crash();
        vm.prank(keeper);
        vault.liquidate(desk, 2, _proof("liquidate"));
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(
                RiskVault.RiskVault__LiquidationCooldown.selector, desk, block.timestamp + vault.policy().liquidationCooldown
            )
        );
        vault.liquidate(desk, 2, _proof("liquidate"));
    }

    function test_liquidate_when_the_proof_is_replayed_after_the_cooldown_then_reverts() public {
        _commitDesk();
        _crash();
        vm.prank(keeper);
        vault.liquidate(desk, 2, _proof("liquidate"));
        vm.warp(block.timestamp + vault.policy().liquidationCooldown);
        _refreshFeeds();
        book.takeSnapshot();
        vm.prank(keeper);
        vm.expectRevert(); // snapshot 2 is stale by now, and the nonce is consumed anyway
        vault.liquidate(desk, 2, _proof("liquidate"));
    }

    function test_liquidate_when_snapshot_is_older_than_the_last_health_proof_then_reverts() public {
        _commitDesk();
        _crash();
        _setLastProofSnapshot(desk, 3); // as if the desk had proved at a later snapshot 3
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__SnapshotBeforeLastProof.selector, 2, 3));
        vault.liquidate(desk, 2, _proof("liquidate"));
    }

    function test_liquidate_at_a_fresh_but_not_latest_snapshot_then_succeeds() public {
        _commitDesk();
        _crash();
        vm.warp(block.timestamp + 1);
        book.takeSnapshot(); // snapshot 3 (same prices) must not void the keeper's proof for 2
        vm.prank(keeper);
        vault.liquidate(desk, 2, _proof("liquidate"));
        assertEq(vault.nonceOf(desk), 2);
    }

    function test_liquidate_when_snapshot_is_unknown_then_reverts() public {
        _commitDesk();
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__UnknownSnapshot.selector, 9));
        vault.liquidate(desk, 9, _proof("liquidate"));
    }

    function test_liquidate_when_price_is_stale_then_reverts() public {
        _commitDesk();
        _crash();
        vm.warp(block.timestamp + vault.policy().maxPriceAge + 1);
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(
                RiskVault.RiskVault__StalePrice.selector, 2, START + 60, vault.policy().maxPriceAge
            )
        );
        vault.liquidate(desk, 2, _proof("liquidate"));
    }

    function test_liquidate_when_paused_then_reverts() public {
        _commitDesk();
        _crash();
        vm.prank(guardian);
        vault.pause();
        vm.prank(keeper);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        vault.liquidate(desk, 2, _proof("liquidate"));
    }

    function test_liquidate_when_account_has_no_commitment_then_reverts() public {
        _deposit(desk, deposit);
        _crash();
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__NoCommitment.selector, desk));
        vault.liquidate(desk, 2, _proof("liquidate"));
    }

    // ------------------------------------------------------------ liquidateStale (fail closed)

    function test_liquidateStale_when_the_last_proof_is_older_than_max_proof_age_then_seizes() public {
        _commitDesk();
        uint256 maxProofAge = vault.policy().maxProofAge;
        vm.warp(START + maxProofAge + 1);
        _refreshFeeds();
        book.takeSnapshot();
        (bool stale,) = vault.proofStatus(desk);
        assertTrue(stale, "proofStatus reports stale");
        (uint256 repay, uint256 bonus) = vault.previewLiquidation(desk);
        vm.expectEmit(true, true, true, true, address(vault));
        emit RiskVault.Liquidated(
            desk, keeper, beneficiary, RiskVault.LiquidationPath.STALE_PROOF, 2, 1, repay, bonus, deposit - repay - bonus
        );
        vm.prank(keeper);
        vault.liquidateStale(desk);
        assertEq(margin.balanceOf(beneficiary), repay);
        assertEq(margin.balanceOf(keeper), bonus);
        assertEq(vault.nonceOf(desk), 2);
    }

    function test_liquidateStale_when_the_proof_is_fresh_at_the_latest_snapshot_then_reverts() public {
        _commitDesk();
        uint256 maxProofAge = vault.policy().maxProofAge;
        vm.warp(START + maxProofAge); // the latest snapshot is still the one proven at
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(RiskVault.RiskVault__ProofNotStale.selector, desk, START, START + maxProofAge)
        );
        vault.liquidateStale(desk);
    }

    function test_liquidateStale_when_no_new_snapshot_was_taken_then_reverts() public {
        _commitDesk();
        vm.warp(START + 10 * vault.policy().maxProofAge); // time alone does not age a proof
        vm.prank(keeper);
        vm.expectRevert();
        vault.liquidateStale(desk);
    }

    function test_liquidateStale_after_unpause_then_the_proof_clock_restarts() public {
        _commitDesk();
        uint256 maxProofAge = vault.policy().maxProofAge;
        vm.prank(guardian);
        vault.pause();
        vm.warp(START + maxProofAge + 1);
        vault.unpause();
        _refreshFeeds();
        book.takeSnapshot();
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(
                RiskVault.RiskVault__ProofNotStale.selector, desk, START, START + 2 * maxProofAge + 1
            )
        );
        vault.liquidateStale(desk);
    }

    function test_liquidateStale_when_account_has_no_commitment_then_reverts() public {
        _deposit(desk, deposit);
        vm.warp(START + vault.policy().maxProofAge + 1);
        _refreshFeeds();
        book.takeSnapshot();
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__NoCommitment.selector, desk));
        vault.liquidateStale(desk);
    }

    function test_liquidateStale_when_paused_then_reverts() public {
        _commitDesk();
        vm.prank(guardian);
        vault.pause();
        vm.prank(keeper);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        vault.liquidateStale(desk);
    }

    // ------------------------------------------------------------ admin

    function test_admin_functions_when_caller_lacks_the_role_then_revert() public {
        bytes32 risk = vault.RISK_ADMIN_ROLE();
        bytes32 guard = vault.GUARDIAN_ROLE();
        bytes32 root = vault.DEFAULT_ADMIN_ROLE();
        _expectUnauthorized(abi.encodeCall(RiskVault.setMinHealth, (11_000)), risk);
        _expectUnauthorized(abi.encodeCall(RiskVault.setMaxAges, (60, 60)), risk);
        _expectUnauthorized(abi.encodeCall(RiskVault.setLiquidationTerms, (5_000, 500, 0)), risk);
        _expectUnauthorized(abi.encodeCall(RiskVault.setBeneficiary, (stranger)), risk);
        _expectUnauthorized(abi.encodeCall(RiskVault.pause, ()), guard);
        _expectUnauthorized(abi.encodeCall(RiskVault.unpause, ()), root);
        _expectUnauthorized(abi.encodeCall(IAccessControl.grantRole, (risk, stranger)), root);
        _expectUnauthorized(abi.encodeCall(IAccessControl.revokeRole, (risk, admin)), root);
    }

    function test_unpause_when_called_by_the_guardian_then_reverts() public {
        vm.startPrank(guardian);
        vault.pause();
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, guardian, vault.DEFAULT_ADMIN_ROLE()
            )
        );
        vault.unpause();
        vm.stopPrank();
    }

    function test_policy_setters_update_the_policy_and_emit() public {
        vault.setMinHealth(12_000);
        vault.setMaxAges(600, 7_200);
        vault.setLiquidationTerms(4_000, 1_000, 60);
        vm.expectEmit(false, false, false, true, address(vault));
        emit RiskVault.BeneficiaryChanged(beneficiary, stranger);
        vault.setBeneficiary(stranger);
        RiskVault.Policy memory p = vault.policy();
        assertEq(p.minHealthBps, 12_000);
        assertEq(p.maxPriceAge, 600);
        assertEq(p.maxProofAge, 7_200);
        assertEq(p.closeFactorBps, 4_000);
        assertEq(p.liquidationBonusBps, 1_000);
        assertEq(p.liquidationCooldown, 60);
        assertEq(vault.beneficiary(), stranger);
    }

    function test_setMinHealth_below_one_then_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__InvalidPolicy.selector, "minHealthBps < 10000"));
        vault.setMinHealth(9_999);
    }

    function test_setMaxAges_with_a_zero_age_then_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__InvalidPolicy.selector, "maxPriceAge == 0"));
        vault.setMaxAges(0, 60);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__InvalidPolicy.selector, "maxProofAge == 0"));
        vault.setMaxAges(60, 0);
    }

    function test_setBeneficiary_to_zero_then_reverts() public {
        vm.expectRevert(RiskVault.RiskVault__ZeroAddress.selector);
        vault.setBeneficiary(address(0));
    }

    function testFuzz_setLiquidationTerms_never_lets_a_liquidation_exceed_escrow(
        uint16 closeFactor,
        uint16 bonus,
        uint256 escrow
    ) public {
        escrow = bound(escrow, 1, vault.maxEscrow());
        bool valid = closeFactor > 0 && closeFactor <= 10_000
            && uint256(closeFactor) * (10_000 + uint256(bonus)) <= 10_000 * 10_000;
        if (!valid) vm.expectRevert();
        vault.setLiquidationTerms(closeFactor, bonus, 0);
        if (!valid) return;
        _deposit(desk, escrow);
        (uint256 repay, uint256 paid) = vault.previewLiquidation(desk);
        assertLe(repay + paid, escrow, "repay + bonus <= escrow");
    }

    function test_constructor_when_margin_token_is_not_slot_0_then_reverts() public {
        MockERC20 other = new MockERC20("Other", "OTH", 6);
        RiskVault.Policy memory p = policy;
        vm.expectRevert(
            abi.encodeWithSelector(RiskVault.RiskVault__MarginAssetMismatch.selector, address(other), address(margin))
        );
        new RiskVault(verifier, book, other, admin, guardian, beneficiary, p);
    }

    // ------------------------------------------------------------ engine ⇄ vault agreement

    function test_publicSignals_equal_the_engine_statements_of_every_fixture() public {
        _deposit(desk, deposit);
        _assertSignals(vault.publicSignals(desk, Action.UPDATE_COMMITMENT, 0, 1, commitment), "commit");
        _commitDesk2();
        _assertSignals(vault.publicSignals(desk, Action.WITHDRAW, withdrawal, 1, 0), "withdraw");
        _assertSignals(vault.publicSignals(desk, Action.UPDATE_COMMITMENT, 0, 1, rebalanced), "update");
        _crash();
        _assertSignals(vault.publicSignals(desk, Action.LIQUIDATE, 0, 2, 0), "liquidate");
    }

    function testFuzz_marginQuantity_rounds_against_the_prover(uint256 amount) public view {
        amount = bound(amount, 0, vault.maxEscrow());
        uint256 down = vault.marginQuantity(amount, false);
        uint256 up = vault.marginQuantity(amount, true);
        assertEq(down, amount * 100, "6 decimals -> 8: exact");
        assertEq(up, down);
    }

    // ------------------------------------------------------------ helpers

    function _expectUnauthorized(bytes memory call, bytes32 role) internal {
        vm.prank(stranger);
        (bool ok, bytes memory ret) = address(vault).call(call);
        assertFalse(ok);
        assertEq(
            uint256(keccak256(ret)),
            uint256(
                keccak256(
                    abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role)
                )
            ),
            "AccessControlUnauthorizedAccount(stranger, role)"
        );
    }

    function _assertSignals(uint256[5] memory got, string memory name) internal view {
        uint256[5] memory want = _public(name);
        for (uint256 i; i < 5; ++i) {
            assertEq(got[i], want[i], string.concat(name, ": public signal differs from the engine's"));
        }
    }

    /// @dev Commit after a deposit already made.
    function _commitDesk2() internal {
        if (vault.accountState(desk).commitment != 0) return;
        vm.prank(desk);
        vault.commit(commitment, _proof("commit"));
    }

    /// @dev Set the account's lastProofSnapshotId (bits 208..255 of its packed AccountState slot).
    function _setLastProofSnapshot(address who, uint48 id) internal {
        bytes32 slot = keccak256(abi.encode(who, uint256(4)));
        uint256 word = uint256(vm.load(address(vault), slot));
        word = (word & ((uint256(1) << 208) - 1)) | (uint256(id) << 208);
        vm.store(address(vault), slot, bytes32(word));
        assertEq(vault.accountState(who).lastProofSnapshotId, id);
    }
}

/// @notice Fuzz tests from a committed desk: setUp (deposit + real commit proof) runs once and every
///         fuzz run starts from its state, so a run costs one verification, not two.
contract RiskVaultCommittedFuzzTest is VaultFixture {
    function setUp() public override {
        super.setUp();
        _commitDesk();
    }

    function testFuzz_withdraw_when_amount_differs_from_the_proven_one_then_reverts(uint256 amount) public {
        amount = bound(amount, 1, deposit);
        vm.assume(amount != withdrawal);
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.withdraw(amount, 1, _proof("withdraw"));
    }

    function testFuzz_withdraw_when_any_proof_word_is_changed_then_reverts(uint8 index, uint256 value) public {
        index = uint8(bound(index, 0, 7));
        uint256[8] memory proof = _proof("withdraw");
        vm.assume(value != proof[index]);
        proof[index] = value;
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.withdraw(withdrawal, 1, proof);
    }
}

/// @notice Fuzz tests from a committed desk after the CRASH snapshot.
contract RiskVaultCrashedFuzzTest is VaultFixture {
    function setUp() public override {
        super.setUp();
        _commitDesk();
        _crash();
    }

    function testFuzz_liquidate_when_any_proof_word_is_changed_then_reverts(uint8 index, uint256 value) public {
        index = uint8(bound(index, 0, 7));
        uint256[8] memory proof = _proof("liquidate");
        vm.assume(value != proof[index]);
        proof[index] = value;
        vm.prank(keeper);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.liquidate(desk, 2, proof);
    }
}
