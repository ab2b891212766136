// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {VaultFixture} from "./utils/VaultFixture.sol";
import {RiskVault} from "../src/RiskVault.sol";
import {PriceBook} from "../src/PriceBook.sol";
import {AggregatorV3Interface} from "../src/interfaces/AggregatorV3Interface.sol";
import {MockSequencerUptimeFeed} from "../src/mocks/MockSequencerUptimeFeed.sol";

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

    // ------------------------------------------------ helpers

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
