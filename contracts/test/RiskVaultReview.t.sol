// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {VaultFixture} from "./utils/VaultFixture.sol";
import {RiskVault} from "../src/RiskVault.sol";
import {PriceBook} from "../src/PriceBook.sol";
import {AggregatorV3Interface} from "../src/interfaces/AggregatorV3Interface.sol";
import {MockSequencerUptimeFeed} from "../src/mocks/MockSequencerUptimeFeed.sol";
import {MockERC20} from "../src/mocks/MockERC20.sol";
import {BlocklistERC20} from "../src/mocks/BlocklistERC20.sol";

/// @notice The open findings of the Vault v2 review, each as the attack a desk, a keeper, a
///         griefer or an admin would send, on the real PriceBook, the real Health4 verifier and
///         real proofs. Every attack test here succeeded on RiskVault v2 as shipped.
contract RiskVaultReviewTest is VaultFixture {
    // ------------------------------------------------ (a) a withdrawal on an old book

    /// The attester has signed a newer (worse) book; the desk withholds it and withdraws on the
    /// old one, attested longer than maxAttestationAge ago.
    function test_findingA_when_the_desk_withdraws_on_a_book_older_than_maxAttestationAge_then_it_reverts() public {
        _setMaxAttestationAge(60);
        _commitDesk(); // book issued at START
        vm.warp(START + 61);
        _attested(rebalanced, 2); // the newer book, which the desk does not submit
        vm.prank(desk);
        vm.expectRevert(
            abi.encodeWithSelector(RiskVault.RiskVault__WithdrawOnOldBook.selector, uint64(START), uint256(60))
        );
        vault.withdraw(withdrawal, 1, _proof("withdraw"));
        assertEq(vault.escrowOf(desk), deposit);
    }

    function test_findingA_at_exactly_maxAttestationAge_then_the_withdrawal_succeeds() public {
        _setMaxAttestationAge(60);
        _commitDesk();
        vm.warp(START + 60);
        vm.prank(desk);
        vault.withdraw(withdrawal, 1, _proof("withdraw"));
        assertEq(margin.balanceOf(desk), withdrawal);
    }

    function test_findingA_when_the_attester_signs_the_book_again_then_the_desk_withdraws() public {
        _setMaxAttestationAge(60);
        _commitDesk();
        vm.warp(START + 61);
        _submitBook(commitment, 2); // the same book, attested now
        assertEq(vault.accountState(desk).bookIssuedAt, START + 61);
        vm.prank(desk);
        vault.withdraw(withdrawal, 1, _proof("withdraw"));
        assertEq(margin.balanceOf(desk), withdrawal);
    }

    /// bookIssuedAt is 32 bits: a book issued after 2106 is refused, never truncated.
    function test_findingA_a_book_issued_after_2106_is_refused_not_truncated() public {
        _deposit(desk, deposit);
        vm.warp(uint256(type(uint32).max) + 1);
        (RiskVault.BookAttestation memory att, bytes memory sig) = _attested(commitment, 1);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__IssuedAtTooLarge.selector, att.issuedAt));
        vault.submitAttestedBook(att, sig);
    }

    // ------------------------------------------------ (b) a second liquidation on the same book

    /// The book still carries the debt the first liquidation repaid: a proof of HF < 1 on it says
    /// nothing about the desk after the repayment.
    function test_findingB_after_a_liquidation_a_proof_liquidation_on_the_same_book_reverts() public {
        _setCooldown(300);
        _commitDesk();
        _crash();
        _liquidate("liquidate", keeperMargin, 10_000);
        uint256 liquidatedAt = block.timestamp;
        vm.warp(liquidatedAt + 300); // the cooldown has passed; snapshot 2 is still in the window
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(
                RiskVault.RiskVault__BookPredatesLiquidation.selector, desk, uint64(START), liquidatedAt
            )
        );
        vault.liquidate(desk, 2, keeperMarginAfterWithdraw, 10_000, _proof("liquidateAfterWithdraw"));
    }

    /// A newer sequence is not enough: a book the attester signed before the liquidation (held
    /// back, submitted after it) carries the repaid debt too.
    function test_findingB_a_newer_book_signed_before_the_liquidation_does_not_reopen_proof_liquidation() public {
        _setCooldown(300);
        _commitDesk();
        _crash();
        (RiskVault.BookAttestation memory held, bytes memory sig) = _attested(commitment, 2);
        _liquidate("liquidate", keeperMargin, 10_000); // same second as the signature
        uint256 liquidatedAt = block.timestamp;
        vm.warp(liquidatedAt + 300);
        vault.submitAttestedBook(held, sig);
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(
                RiskVault.RiskVault__BookPredatesLiquidation.selector, desk, held.issuedAt, liquidatedAt
            )
        );
        vault.liquidate(desk, 2, keeperMarginAfterWithdraw, 10_000, _proof("liquidateAfterWithdraw"));
    }

    function test_findingB_a_book_signed_after_the_liquidation_reopens_proof_liquidation() public {
        _setCooldown(300);
        _commitDesk();
        _crash();
        _liquidate("liquidate", keeperMargin, 10_000);
        uint256 left = vault.escrowOf(desk);
        vm.warp(block.timestamp + 1);
        _submitBook(commitment, 2); // the attester's book after the repayment (here: unchanged)
        vm.warp(block.timestamp + 299);
        vm.prank(keeper);
        vault.liquidate(desk, 2, keeperMarginAfterWithdraw, 10_000, _proof("liquidateAfterWithdraw"));
        assertTrue(vault.escrowOf(desk) < left, "the second slice was taken");
    }

    /// The stale path repays debt the book carries as well; it still needs no book.
    function test_findingB_after_a_stale_liquidation_the_stale_path_goes_on_and_the_proof_path_waits() public {
        _commitDesk();
        vm.warp(START + policy.maxProofAge + 1);
        vm.prank(keeper);
        vault.liquidateStale(desk);
        vm.warp(block.timestamp + policy.liquidationCooldown);
        vm.prank(keeper);
        vault.liquidateStale(desk);
        assertEq(vault.nonceOf(desk), 3);
    }

    // ------------------------------------------------ (c) a griefer lands the newer book first

    /// The desk's re-proof (bound to the old commitment) is in flight near its deadline; a
    /// griefer submits the attester's newer book first, so the re-proof fails, then liquidates
    /// the desk as stale one second after the deadline.
    function test_findingC_when_a_griefer_lands_the_newer_book_before_the_reproof_then_the_desk_gets_a_grace() public {
        _commitDesk();
        uint256 due = START + policy.maxProofAge;
        _calmSnapshot2(policy.maxProofAge - 20);
        vm.warp(due - 10);
        _submitBook(rebalanced, 2); // the griefer, with the attester's book issued just now
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.proveHealth(2, _proof("prove2")); // the in-flight re-proof of the old book
        uint256 deadline = due - 10 + policy.snapshotWindow;
        vm.warp(due + 1);
        (bool stale, uint256 reported) = vault.proofStatus(desk);
        assertFalse(stale);
        assertEq(reported, deadline);
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__ProofNotStale.selector, desk, deadline));
        vault.liquidateStale(desk);
        vm.warp(deadline + 1); // the grace is bounded: a desk that does not re-prove is stale
        vm.prank(keeper);
        vault.liquidateStale(desk);
    }

    /// A book attested after the deadline gives no grace: the account was stale already.
    function test_findingC_a_book_issued_after_the_deadline_does_not_revive_a_stale_account() public {
        _commitDesk();
        uint256 due = START + policy.maxProofAge;
        vm.warp(due + 1);
        _submitBook(rebalanced, 2);
        (bool stale, uint256 deadline) = vault.proofStatus(desk);
        assertTrue(stale);
        assertEq(deadline, due);
        vm.prank(keeper);
        vault.liquidateStale(desk);
    }

    /// The grace runs from the attester's signature: a book the desk has had for longer than a
    /// proof may take does not excuse a re-proof of the old one.
    function test_findingC_a_book_signed_long_before_the_deadline_gives_no_grace() public {
        _commitDesk();
        uint256 due = START + policy.maxProofAge;
        vm.warp(due - policy.snapshotWindow - 1);
        (RiskVault.BookAttestation memory att, bytes memory sig) = _attested(rebalanced, 2);
        vm.warp(due - 10);
        vault.submitAttestedBook(att, sig);
        (, uint256 deadline) = vault.proofStatus(desk);
        assertEq(deadline, due);
    }

    // ------------------------------------------------ (d) withdrawals during the oracle grace

    function test_findingD_during_the_grace_after_an_oracle_outage_then_withdraw_reverts() public {
        _commitDesk();
        _calmSnapshot2(OUTAGE_GAP + 1); // the first snapshot after the outage: the grace starts
        uint256 graceEnd = block.timestamp + ORACLE_GRACE;
        assertEq(vault.graceEndsAt(), graceEnd);
        _submitBook(commitment, 2); // a fresh attestation of the same book
        vm.prank(desk);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__GracePeriod.selector, graceEnd));
        vault.withdraw(withdrawal, 2, _proof("withdraw2"));
        assertEq(vault.escrowOf(desk), deposit);
    }

    function test_findingD_while_the_sequencer_is_down_then_withdraw_reverts() public {
        _commitDesk();
        MockSequencerUptimeFeed sequencer = _sequencer();
        sequencer.setStatus(true); // down
        vm.prank(desk);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__GracePeriod.selector, type(uint64).max));
        vault.withdraw(withdrawal, 1, _proof("withdraw"));
    }

    function test_findingD_when_the_sequencer_grace_has_passed_then_withdraw_succeeds() public {
        _commitDesk();
        _sequencer(); // up since 2 h ago
        vm.prank(desk);
        vault.withdraw(withdrawal, 1, _proof("withdraw"));
        assertEq(margin.balanceOf(desk), withdrawal);
    }

    // ------------------------------------------------ (e) minLeftover is bounded

    /// A typo'd minLeftover would turn every liquidation, the stale path's included, into a
    /// seizure of the whole escrow.
    function test_findingE_when_minLeftover_is_above_its_bound_then_setPolicy_reverts() public {
        uint256 max = 100_000 * 10 ** margin.decimals();
        assertEq(vault.maxMinLeftover(), max);
        vault.setPolicy(_withMinLeftover(0));
        vault.setPolicy(_withMinLeftover(max));
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__InvalidPolicy.selector, "minLeftover"));
        vault.setPolicy(_withMinLeftover(max + 1));
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__InvalidPolicy.selector, "minLeftover"));
        vault.setPolicy(_withMinLeftover(type(uint128).max));
    }

    // ------------------------------------------------ (f) a pause revives already-stale accounts

    /// The desk stopped proving; its deadline passed before the guardian's pause. Unpausing must
    /// not hand it a fresh maxProofAge: the keeper's liquidateStale goes through right after.
    function test_findingF_an_account_stale_before_the_pause_is_liquidatable_right_after_unpause() public {
        _commitDesk();
        uint256 due = START + policy.maxProofAge;
        vm.warp(due + 1);
        _pauseFor(1 hours);
        (bool stale, uint256 deadline) = vault.proofStatus(desk);
        assertTrue(stale, "stale right after unpause");
        assertEq(deadline, due);
        (, uint256 bonus, uint256 left) = vault.previewStaleLiquidation(desk);
        vm.prank(keeper);
        vault.liquidateStale(desk);
        assertEq(vault.escrowOf(desk), left, "the preview's escrowLeft");
        assertEq(margin.balanceOf(keeper), bonus, "the preview's bonus");
    }

    /// A second pause right after the first must not revive it either (the admin, or a guardian
    /// and admin pair, cycling the pause to keep a desk that stopped proving alive).
    function test_findingF_cycling_the_pause_again_does_not_revive_a_stale_account() public {
        _commitDesk();
        uint256 due = START + policy.maxProofAge;
        vm.warp(due + 1);
        _pauseFor(1 hours);
        vm.warp(block.timestamp + 1);
        _pauseFor(1 hours);
        (bool stale, uint256 deadline) = vault.proofStatus(desk);
        assertTrue(stale);
        assertEq(deadline, due);
        vm.prank(keeper);
        vault.liquidateStale(desk);
    }

    /// A desk due during the pause could not be asked to prove then: a fresh maxProofAge.
    function test_findingF_an_account_due_during_the_pause_gets_a_fresh_maxProofAge() public {
        _commitDesk();
        vm.warp(START + policy.maxProofAge - 1);
        _pauseFor(1 hours);
        uint256 deadline = block.timestamp + policy.maxProofAge;
        (bool stale, uint256 reported) = vault.proofStatus(desk);
        assertFalse(stale);
        assertEq(reported, deadline);
        vm.warp(deadline);
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__ProofNotStale.selector, desk, deadline));
        vault.liquidateStale(desk);
        vm.warp(deadline + 1);
        vm.prank(keeper);
        vault.liquidateStale(desk);
    }

    /// Multiple cycles: an account extended by one unpause and still within its new deadline when
    /// the next pause begins is extended again.
    function test_findingF_an_account_extended_by_an_unpause_is_extended_again_by_the_next_pause() public {
        _commitDesk();
        vm.warp(START + 10);
        _pauseFor(policy.maxProofAge); // due during the pause: extended to resumed + maxProofAge
        uint256 resumed = block.timestamp;
        vm.warp(resumed + policy.maxProofAge - 10);
        _pauseFor(1 hours);
        (bool stale, uint256 deadline) = vault.proofStatus(desk);
        assertFalse(stale);
        assertEq(deadline, block.timestamp + policy.maxProofAge);
    }

    /// ... and an account extended by one unpause that let that deadline pass before the next
    /// pause is stale after it, with the deadline it had.
    function test_findingF_an_account_stale_between_two_pauses_is_not_revived_by_the_second() public {
        _commitDesk();
        vm.warp(START + 10);
        _pauseFor(policy.maxProofAge);
        uint256 extended = block.timestamp + policy.maxProofAge;
        vm.warp(extended + 1);
        _pauseFor(1 hours);
        (bool stale, uint256 deadline) = vault.proofStatus(desk);
        assertTrue(stale);
        assertEq(deadline, extended);
        vm.prank(keeper);
        vault.liquidateStale(desk);
    }

    /// Three cycles, each pause while the desk's extended deadline still runs: extended by each.
    function test_findingF_an_account_alive_at_every_pause_of_three_cycles_is_extended_by_each() public {
        _commitDesk();
        vm.warp(START + 10);
        _pauseFor(policy.maxProofAge);
        vm.warp(block.timestamp + 10);
        _pauseFor(1 hours);
        vm.warp(block.timestamp + 10);
        _pauseFor(1 hours);
        (bool stale, uint256 deadline) = vault.proofStatus(desk);
        assertFalse(stale);
        assertEq(deadline, block.timestamp + policy.maxProofAge);
    }

    /// The admin and the attester together: a book signed after the desk's due, then a pause
    /// timed inside that book's re-proof grace, must not revive a desk stale since an earlier pause.
    function test_findingF_a_book_signed_after_the_due_and_a_later_pause_do_not_revive_a_stale_account() public {
        _commitDesk();
        uint256 due = START + policy.maxProofAge;
        vm.warp(due + 1);
        _pauseFor(1 hours); // stale when this pause began
        uint256 resumed = block.timestamp;
        vm.warp(resumed + policy.maxProofAge - 1);
        _submitBook(rebalanced, 2); // issued after the due: revives nothing
        vm.warp(resumed + policy.maxProofAge + 1);
        _pauseFor(1 hours);
        (bool stale, uint256 deadline) = vault.proofStatus(desk);
        assertTrue(stale);
        assertEq(deadline, due);
        vm.prank(keeper);
        vault.liquidateStale(desk);
    }

    /// The re-proof grace is part of the deadline: a desk inside it when the pause begins (the
    /// griefer's newer book landed just before the due) was not stale, so it gets the extension.
    function test_findingF_an_account_in_its_reproof_grace_when_the_pause_begins_gets_the_extension() public {
        _commitDesk();
        uint256 due = START + policy.maxProofAge;
        vm.warp(due - 10);
        _submitBook(rebalanced, 2); // re-proof grace until due - 10 + snapshotWindow
        vm.warp(due + 1);
        assertFalse(_isStale());
        _pauseFor(1 hours);
        (bool stale, uint256 deadline) = vault.proofStatus(desk);
        assertFalse(stale);
        assertEq(deadline, block.timestamp + policy.maxProofAge);
    }

    /// A stale desk that proves during the pause (proofs are allowed while paused) is alive.
    function test_findingF_a_stale_account_that_proves_during_the_pause_gets_the_extension() public {
        _commitDesk();
        vm.warp(START + policy.maxProofAge + 1);
        vm.prank(guardian);
        vault.pause();
        _calmSnapshot2(10);
        vm.prank(desk);
        vault.proveHealth(2, _proof("prove2"));
        vm.warp(block.timestamp + 1 hours);
        vault.unpause();
        (bool stale, uint256 deadline) = vault.proofStatus(desk);
        assertFalse(stale);
        assertEq(deadline, block.timestamp + policy.maxProofAge);
    }

    /// The oracle grace still postpones the deadline of an account stale before the pause, but
    /// only to the grace's end.
    function test_findingF_an_account_stale_before_the_pause_waits_only_for_a_running_oracle_grace() public {
        _commitDesk();
        vm.warp(START + policy.maxProofAge + 1);
        vm.prank(guardian);
        vault.pause();
        _calmSnapshot2(OUTAGE_GAP + 1); // the first snapshot after an outage: the grace starts
        uint256 graceEnd = block.timestamp + ORACLE_GRACE;
        vault.unpause();
        (bool stale, uint256 deadline) = vault.proofStatus(desk);
        assertFalse(stale);
        assertEq(deadline, graceEnd);
        vm.warp(graceEnd + 1);
        vm.prank(keeper);
        vault.liquidateStale(desk);
    }

    // ------------------------------------------------ helpers

    /// @dev The guardian pauses now; the admin unpauses `duration` seconds later.
    function _pauseFor(uint256 duration) internal {
        vm.prank(guardian);
        vault.pause();
        vm.warp(block.timestamp + duration);
        vault.unpause();
    }

    function _isStale() internal view returns (bool stale) {
        (stale,) = vault.proofStatus(desk);
    }

    function _setMaxAttestationAge(uint32 age) internal {
        RiskVault.Policy memory p = policy;
        p.maxAttestationAge = age;
        vault.setPolicy(p);
    }

    function _setCooldown(uint32 cooldown) internal {
        RiskVault.Policy memory p = policy;
        p.liquidationCooldown = cooldown;
        vault.setPolicy(p);
    }

    function _withMinLeftover(uint256 value) internal view returns (RiskVault.Policy memory p) {
        p = policy;
        p.minLeftover = uint128(value);
    }

    /// @dev An L2 sequencer feed, up for longer than its 1 h grace.
    function _sequencer() internal returns (MockSequencerUptimeFeed sequencer) {
        sequencer = new MockSequencerUptimeFeed();
        sequencer.setRound(0, block.timestamp - 2 hours);
        book.setLiveness(
            PriceBook.LivenessConfig({
                minSnapshotInterval: MIN_SNAPSHOT_INTERVAL,
                outageGap: OUTAGE_GAP,
                oracleGrace: ORACLE_GRACE,
                sequencerFeed: AggregatorV3Interface(address(sequencer)),
                sequencerGrace: 1 hours
            })
        );
    }
}

/// @notice Finding (g): the margin token has an issuer's blocklist (USDC, USDT), and the issuer
///         blocks the beneficiary (or a contract beneficiary's hook reverts). Liquidations must
///         go on: no bad debt because one payee cannot be paid.
contract RiskVaultReviewBlocklistTest is VaultFixture {
    BlocklistERC20 internal usdc;

    function _marginToken(uint8 decimals) internal override returns (MockERC20) {
        usdc = new BlocklistERC20(decimals);
        return usdc;
    }

    // ------------------------------------------------ (g) a blocked payee stops every liquidation

    function test_findingG_when_the_beneficiary_is_blocklisted_then_liquidate_still_succeeds() public {
        _commitDesk();
        _crash();
        usdc.setBlocked(beneficiary, true);
        (, uint256 bonus, uint256 left) = vault.previewLiquidation(desk, 10_000);
        _liquidate("liquidate", keeperMargin, 10_000);
        assertEq(vault.escrowOf(desk), left);
        assertEq(margin.balanceOf(keeper), bonus, "the keeper's bonus is paid at once");
    }

    function test_findingG_when_the_beneficiary_is_blocklisted_then_liquidateStale_still_succeeds() public {
        _commitDesk();
        vm.warp(START + policy.maxProofAge + 1);
        usdc.setBlocked(beneficiary, true);
        (, uint256 bonus, uint256 left) = vault.previewStaleLiquidation(desk);
        vm.prank(keeper);
        vault.liquidateStale(desk);
        assertEq(vault.escrowOf(desk), left);
        assertEq(margin.balanceOf(keeper), bonus);
    }

    /// Pull payment: the repay is owed to the beneficiary, the tokens stay in the vault.
    function test_findingG_a_liquidation_credits_the_repay_to_the_beneficiary_with_an_event() public {
        _commitDesk();
        _crash();
        (uint256 repay, uint256 bonus, uint256 left) = vault.previewLiquidation(desk, 10_000);
        vm.expectEmit(true, true, false, true, address(vault));
        emit OwedCredited(beneficiary, desk, repay, repay);
        _liquidate("liquidate", keeperMargin, 10_000);
        assertEq(vault.owed(beneficiary), repay);
        assertEq(margin.balanceOf(beneficiary), 0, "nothing pushed to the beneficiary");
        assertEq(margin.balanceOf(address(vault)), left + repay, "escrow + owed stay in the vault");
        assertEq(margin.balanceOf(keeper), bonus);
    }

    function test_findingG_the_beneficiary_claims_what_it_is_owed_once() public {
        uint256 repay = _liquidated();
        vm.expectEmit(true, true, false, true, address(vault));
        emit OwedClaimed(beneficiary, beneficiary, repay);
        vm.prank(beneficiary);
        vault.claim();
        assertEq(margin.balanceOf(beneficiary), repay);
        assertEq(vault.owed(beneficiary), 0);
        assertEq(margin.balanceOf(address(vault)), vault.escrowOf(desk));
        vm.prank(beneficiary);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__NothingOwed.selector, beneficiary));
        vault.claim();
    }

    /// The issuer blocked the beneficiary: its claim to itself fails and keeps its credit; it
    /// withdraws to another address of its own.
    function test_findingG_a_blocklisted_beneficiary_withdraws_what_it_is_owed_to_another_address() public {
        uint256 repay = _liquidated();
        usdc.setBlocked(beneficiary, true);
        vm.prank(beneficiary);
        vm.expectRevert(abi.encodeWithSelector(BlocklistERC20.BlocklistERC20__Blocked.selector, beneficiary));
        vault.claim();
        assertEq(vault.owed(beneficiary), repay, "a failed claim keeps the credit");
        address treasury = address(0x7EA5);
        vm.expectEmit(true, true, false, true, address(vault));
        emit OwedClaimed(beneficiary, treasury, repay);
        vm.prank(beneficiary);
        vault.withdrawOwed(treasury);
        assertEq(margin.balanceOf(treasury), repay);
        assertEq(vault.owed(beneficiary), 0);
    }

    function test_findingG_only_the_payee_claims_its_credit() public {
        uint256 repay = _liquidated();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__NothingOwed.selector, stranger));
        vault.withdrawOwed(stranger);
        vm.prank(beneficiary);
        vm.expectRevert(RiskVault.RiskVault__ZeroAddress.selector);
        vault.withdrawOwed(address(0));
        assertEq(vault.owed(beneficiary), repay);
    }

    /// Credits add up, and a new beneficiary is owed the later liquidations only.
    function test_findingG_credits_accumulate_and_survive_a_change_of_beneficiary() public {
        uint256 first = _liquidated();
        address next = address(0xBE2);
        vault.setBeneficiary(next);
        vm.warp(START + policy.maxProofAge + 1);
        (uint256 second,,) = vault.previewStaleLiquidation(desk);
        vm.prank(keeper);
        vault.liquidateStale(desk);
        assertEq(vault.owed(beneficiary), first);
        assertEq(vault.owed(next), second);
        assertEq(margin.balanceOf(address(vault)), vault.escrowOf(desk) + first + second);
        vm.prank(beneficiary);
        vault.claim();
        vm.prank(next);
        vault.claim();
        assertEq(margin.balanceOf(beneficiary), first);
        assertEq(margin.balanceOf(next), second);
    }

    /// The bonus is pushed: a keeper the token blocks fails only its own call; another keeper
    /// liquidates.
    function test_findingG_a_keeper_that_cannot_receive_its_bonus_only_fails_its_own_liquidation() public {
        _commitDesk();
        vm.warp(START + policy.maxProofAge + 1);
        usdc.setBlocked(keeper, true);
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(BlocklistERC20.BlocklistERC20__Blocked.selector, keeper));
        vault.liquidateStale(desk);
        (, uint256 bonus,) = vault.previewStaleLiquidation(desk);
        vm.prank(stranger);
        vault.liquidateStale(desk);
        assertEq(margin.balanceOf(stranger), bonus);
    }

    /// Claims move no escrow: allowed while the vault is paused.
    function test_findingG_the_beneficiary_claims_while_the_vault_is_paused() public {
        uint256 repay = _liquidated();
        vm.prank(guardian);
        vault.pause();
        vm.prank(beneficiary);
        vault.claim();
        assertEq(margin.balanceOf(beneficiary), repay);
    }

    /// @dev A proof-path liquidation of the desk at the crash; returns the repay owed.
    function _liquidated() internal returns (uint256 repay) {
        _commitDesk();
        _crash();
        (repay,,) = vault.previewLiquidation(desk, 10_000);
        _liquidate("liquidate", keeperMargin, 10_000);
    }

    event OwedCredited(address indexed payee, address indexed account, uint256 amount, uint256 owed);
    event OwedClaimed(address indexed payee, address indexed to, uint256 amount);
}
