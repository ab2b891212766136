// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {VaultFixture} from "./utils/VaultFixture.sol";
import {RiskVault} from "../src/RiskVault.sol";
import {PriceBook} from "../src/PriceBook.sol";
import {AggregatorV3Interface} from "../src/interfaces/AggregatorV3Interface.sol";
import {MockSequencerUptimeFeed} from "../src/mocks/MockSequencerUptimeFeed.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {
    IAccessControlDefaultAdminRules
} from "@openzeppelin/contracts/access/extensions/IAccessControlDefaultAdminRules.sol";

/// @notice The nine attacks of Vault v2 (issue 11), each on the real PriceBook, the real Health4
///         verifier and real proofs. Every one of them fails on the v1 RiskVault (see the report).
contract RiskVaultAttacksTest is VaultFixture {
    uint256 internal constant DESK_KEY = 0xDE5C; // a key the desk controls: not its attester

    // ------------------------------------------------ 1: the desk swaps in its own (empty) book

    function test_attack1_when_the_desk_signs_its_own_empty_book_then_updateBook_reverts() public {
        _commitDesk();
        RiskVault.BookAttestation memory att = _att(emptyCommitment, 2);
        bytes memory sig = _sign(DESK_KEY, att);
        vm.prank(desk);
        vm.expectRevert(
            abi.encodeWithSelector(RiskVault.RiskVault__InvalidAttestationSignature.selector, desk, attester)
        );
        vault.updateBook(att, sig, 1, _proof("emptyUpdate"));
        vm.expectRevert(
            abi.encodeWithSelector(RiskVault.RiskVault__InvalidAttestationSignature.selector, desk, attester)
        );
        vault.submitAttestedBook(att, sig);
        assertEq(vault.commitmentOf(desk), commitment, "the attested book stays");
    }

    function test_attack1_when_the_desk_proves_its_empty_book_then_withdraw_reverts() public {
        _commitDesk();
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector); // opens the attested book, not this one
        vault.withdraw(deposit, 1, _proof("emptyWithdraw"));
        assertEq(vault.escrowOf(desk), deposit);
    }

    /// The control: the empty-book proofs are valid, only the attester's signature stands between
    /// the desk and its whole escrow.
    function test_attack1_when_the_attester_signs_the_empty_book_then_the_desk_may_withdraw_everything() public {
        _commitDesk();
        (RiskVault.BookAttestation memory att, bytes memory sig) = _attested(emptyCommitment, 2);
        vm.prank(desk);
        vault.updateBook(att, sig, 1, _proof("emptyUpdate"));
        assertEq(vault.commitmentOf(desk), emptyCommitment);
    }

    // ------------------------------------------------ 2: snapshot spam makes a healthy desk stale

    function test_attack2_when_snapshots_are_spammed_then_the_desk_still_reproves_at_its_snapshot() public {
        _commitDesk();
        _calmSnapshot2(MIN_SNAPSHOT_INTERVAL); // spam
        vm.warp(block.timestamp + MIN_SNAPSHOT_INTERVAL);
        book.takeSnapshot(); // more spam: snapshot 3
        vm.prank(desk);
        vault.proveHealth(1, _proof("prove")); // snapshot 1 is still inside the window
        assertEq(vault.nonceOf(desk), 2);
    }

    function test_attack2_when_snapshots_are_spammed_then_the_desk_does_not_age() public {
        _commitDesk();
        for (uint256 i; i < 20; ++i) {
            vm.warp(block.timestamp + MIN_SNAPSHOT_INTERVAL);
            _refreshFeeds();
            book.takeSnapshot();
        }
        (bool stale,) = vault.proofStatus(desk);
        assertFalse(stale);
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(RiskVault.RiskVault__ProofNotStale.selector, desk, START + policy.maxProofAge)
        );
        vault.liquidateStale(desk);
    }

    function test_attack2_when_snapshots_come_faster_than_the_rate_limit_then_takeSnapshot_reverts() public {
        vm.warp(block.timestamp + MIN_SNAPSHOT_INTERVAL - 1);
        vm.expectRevert(
            abi.encodeWithSelector(PriceBook.PriceBook__SnapshotTooSoon.selector, uint64(START + MIN_SNAPSHOT_INTERVAL))
        );
        book.takeSnapshot();
    }

    // ------------------------------------------------ 3: liquidation at an old crash snapshot

    function test_attack3_when_the_crash_snapshot_left_the_window_then_liquidate_reverts() public {
        _commitDesk();
        _crash();
        uint256 crashAt = block.timestamp;
        vm.warp(crashAt + policy.snapshotWindow + 1);
        _setAnswers(calmAnswers);
        book.takeSnapshot(); // prices recovered: snapshot 3
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(
                RiskVault.RiskVault__SnapshotOutsideWindow.selector, 2, crashAt, block.timestamp - policy.snapshotWindow
            )
        );
        vault.liquidate(desk, 2, keeperMargin, 10_000, _proof("liquidate"));
    }

    function test_attack3_at_the_last_second_of_the_window_then_liquidate_succeeds() public {
        _commitDesk();
        _crash();
        vm.warp(block.timestamp + policy.snapshotWindow);
        _liquidate("liquidate", keeperMargin, 10_000);
        assertTrue(vault.escrowOf(desk) < deposit);
    }

    // ------------------------------------------------ 4: dust deposits stall liquidation

    function test_attack4_when_the_desk_deposits_dust_then_the_buffered_proof_still_liquidates() public {
        _commitDesk();
        _crash();
        _deposit(desk, 1); // front-runs the keeper
        (uint256 repay, uint256 bonus, uint256 left) = vault.previewLiquidation(desk, 10_000);
        _liquidate("liquidate", keeperMargin, 10_000);
        assertEq(vault.escrowOf(desk), left);
        assertEq(vault.owed(beneficiary), repay);
        assertEq(margin.balanceOf(keeper), bonus);
    }

    function test_attack4_when_the_desk_deposits_dust_then_an_exact_margin_proof_is_refused() public {
        _commitDesk();
        _crash();
        _deposit(desk, 1);
        uint256 exact = vault.marginQuantity(deposit, true);
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__MarginBelowEscrow.selector, exact, exact + 100));
        vault.liquidate(desk, 2, exact, 10_000, _proof("liquidateExact"));
    }

    function test_attack4_when_a_deposit_restores_health_then_no_buffered_proof_applies() public {
        _commitDesk();
        _crash();
        _deposit(desk, 7_400e6); // HF ≥ 1 at CRASH prices: escrow now above the keeper's margin
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(
                RiskVault.RiskVault__MarginBelowEscrow.selector,
                keeperMargin,
                vault.marginQuantity(deposit + 7_400e6, true)
            )
        );
        vault.liquidate(desk, 2, keeperMargin, 10_000, _proof("liquidate"));
    }

    // ------------------------------------------------ 5: keeper proof stolen from the mempool

    function test_attack5_when_another_sender_replays_the_keepers_proof_then_liquidate_reverts() public {
        _commitDesk();
        _crash();
        vm.prank(stranger);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.liquidate(desk, 2, keeperMargin, 10_000, _proof("liquidate"));
        _liquidate("liquidate", keeperMargin, 10_000); // the keeper it was made for
        assertTrue(margin.balanceOf(keeper) > 0, "the bonus goes to the prover");
    }

    // ------------------------------------------------ 6: no grace after an oracle / sequencer outage

    function test_attack6_after_an_oracle_outage_then_stale_liquidation_waits_for_the_grace_period() public {
        _commitDesk();
        _calmSnapshot2(policy.maxProofAge + 1); // the first snapshot after a > OUTAGE_GAP silence
        uint256 graceEnd = block.timestamp + ORACLE_GRACE;
        assertEq(vault.graceEndsAt(), graceEnd);
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__GracePeriod.selector, graceEnd));
        vault.liquidateStale(desk);
        (bool stale, uint256 deadline) = vault.proofStatus(desk);
        assertFalse(stale);
        assertEq(deadline, graceEnd); // the deadline fell in the outage: postponed to the grace's end
        vm.prank(desk);
        vault.proveHealth(2, _proof("prove2")); // proving works during the grace period
        uint256 provenAt = graceEnd - ORACLE_GRACE; // snapshot 2's takenAt
        vm.warp(graceEnd + 1);
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(RiskVault.RiskVault__ProofNotStale.selector, desk, provenAt + policy.maxProofAge)
        );
        vault.liquidateStale(desk);
    }

    function test_attack6_after_an_oracle_outage_then_proof_liquidation_waits_for_the_grace_period() public {
        _commitDesk();
        vm.warp(START + OUTAGE_GAP + 1);
        _setAnswers(crashAnswers);
        (, uint256 hash) = book.takeSnapshot();
        assertEq(hash, crashHash);
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(RiskVault.RiskVault__GracePeriod.selector, block.timestamp + ORACLE_GRACE)
        );
        vault.liquidate(desk, 2, keeperMargin, 10_000, _proof("liquidate"));
    }

    function test_attack6_while_the_sequencer_is_down_and_during_its_grace_then_liquidations_revert() public {
        _commitDesk();
        _crash();
        MockSequencerUptimeFeed sequencer = new MockSequencerUptimeFeed();
        book.setLiveness(
            PriceBook.LivenessConfig({
                minSnapshotInterval: MIN_SNAPSHOT_INTERVAL,
                outageGap: OUTAGE_GAP,
                oracleGrace: ORACLE_GRACE,
                sequencerFeed: AggregatorV3Interface(address(sequencer)),
                sequencerGrace: 1 hours
            })
        );
        sequencer.setStatus(true);
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__GracePeriod.selector, type(uint64).max));
        vault.liquidate(desk, 2, keeperMargin, 10_000, _proof("liquidate"));
        vm.warp(block.timestamp + 60);
        sequencer.setStatus(false);
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__GracePeriod.selector, block.timestamp + 1 hours));
        vault.liquidate(desk, 2, keeperMargin, 10_000, _proof("liquidate"));
    }

    // ------------------------------------------------ 7: one key owns everything, cooldown 0

    function test_attack7_when_the_cooldown_is_zero_then_setPolicy_reverts() public {
        RiskVault.Policy memory p = policy;
        p.liquidationCooldown = 0;
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__InvalidPolicy.selector, "liquidationCooldown"));
        vault.setPolicy(p);
    }

    function test_attack7_when_the_admin_grants_the_admin_role_at_once_then_it_reverts() public {
        bytes32 adminRole = vault.DEFAULT_ADMIN_ROLE();
        vm.expectRevert(IAccessControlDefaultAdminRules.AccessControlEnforcedDefaultAdminRules.selector);
        vault.grantRole(adminRole, stranger);
    }

    function test_attack7_an_admin_transfer_takes_the_delay_then_succeeds() public {
        vault.beginDefaultAdminTransfer(stranger);
        uint48 schedule = uint48(block.timestamp + ADMIN_DELAY);
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControlDefaultAdminRules.AccessControlEnforcedDefaultAdminDelay.selector, schedule
            )
        );
        vault.acceptDefaultAdminTransfer();
        vm.warp(schedule + 1);
        vm.prank(stranger);
        vault.acceptDefaultAdminTransfer();
        assertEq(vault.defaultAdmin(), stranger);
    }

    function test_attack7_the_guardian_may_pause_and_nothing_else() public {
        RiskVault.Policy memory p = policy;
        bytes32 riskAdmin = vault.RISK_ADMIN_ROLE();
        vm.startPrank(guardian);
        vault.pause();
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, guardian, vault.DEFAULT_ADMIN_ROLE()
            )
        );
        vault.unpause();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, guardian, riskAdmin)
        );
        vault.setPolicy(p);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, guardian, riskAdmin)
        );
        vault.setAttester(desk, guardian);
        vm.stopPrank();
    }

    // ------------------------------------------------ 8: oracle edges, as the vault sees them

    function test_attack8_when_one_primary_feed_reverts_then_the_snapshot_is_degraded_and_desks_prove_more() public {
        _commitDesk();
        feeds[2].setReverts(true); // WBTC's primary: the secondary prices it
        _calmSnapshot2(MIN_SNAPSHOT_INTERVAL);
        assertTrue(book.snapshot(2).degraded, "priced by a secondary: degraded");
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector); // minHealthBps is not enough here
        vault.proveHealth(2, _proof("prove2"));
        vm.prank(desk);
        vault.proveHealth(2, _proof("proveDegraded2")); // degradedMinHealthBps
        assertEq(vault.accountState(desk).lastProofSnapshotId, 2);
    }

    function test_attack8_at_a_healthy_snapshot_then_minHealth_suffices() public {
        _commitDesk();
        _calmSnapshot2(MIN_SNAPSHOT_INTERVAL);
        assertFalse(book.snapshot(2).degraded);
        vm.prank(desk);
        vault.proveHealth(2, _proof("prove2"));
    }

    // ------------------------------------------------ 9: liquidation size; a paused vault's exit

    function test_attack9_a_proof_of_hf_below_095_then_the_whole_escrow_is_liquidated() public {
        _commitDesk();
        _crash();
        _liquidate("liquidate95", keeperMargin, 9_500);
        assertEq(vault.escrowOf(desk), 0);
        assertEq(vault.owed(beneficiary) + margin.balanceOf(keeper), deposit);
        assertEq(margin.balanceOf(keeper), vault.owed(beneficiary) * policy.liquidationBonusBps / 10_000);
    }

    function test_attack9_a_proof_of_hf_below_1_then_close_factor_of_the_escrow_is_liquidated() public {
        _commitDesk();
        _crash();
        _liquidate("liquidate", keeperMargin, 10_000);
        uint256 slice = deposit * policy.closeFactorBps / 10_000;
        uint256 repay = slice * 10_000 / (10_000 + policy.liquidationBonusBps);
        uint256 bonus = repay * policy.liquidationBonusBps / 10_000;
        assertEq(vault.owed(beneficiary), repay);
        assertEq(margin.balanceOf(keeper), bonus);
        assertEq(vault.escrowOf(desk), deposit - repay - bonus);
        assertLe(repay + bonus, slice, "repay + bonus within the slice");
    }

    function test_attack9_when_the_leftover_would_be_dust_then_the_whole_escrow_goes() public {
        _commitDesk();
        RiskVault.Policy memory p = policy;
        p.minLeftover = uint128(deposit / 2 + 1);
        vault.setPolicy(p);
        _crash();
        _liquidate("liquidate", keeperMargin, 10_000);
        assertEq(vault.escrowOf(desk), 0);
    }

    function test_attack9_when_the_leftover_is_exactly_min_leftover_then_close_factor_applies() public {
        _commitDesk();
        RiskVault.Policy memory p = policy;
        p.minLeftover = uint128(deposit / 2);
        vault.setPolicy(p);
        _crash();
        _liquidate("liquidate", keeperMargin, 10_000);
        assertTrue(vault.escrowOf(desk) >= deposit / 2);
    }

    function test_attack9_the_stale_path_takes_a_stale_slice_per_cooldown() public {
        _commitDesk();
        vm.warp(START + policy.maxProofAge + 1);
        (uint256 repay, uint256 bonus,) = vault.previewStaleLiquidation(desk);
        assertEq(repay + bonus, deposit * policy.staleSliceBps / 10_000 - 1, "a slice, rounding against the keeper");
        vm.prank(keeper);
        vault.liquidateStale(desk);
        assertEq(vault.escrowOf(desk), deposit - repay - bonus);
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(
                RiskVault.RiskVault__LiquidationCooldown.selector, desk, block.timestamp + policy.liquidationCooldown
            )
        );
        vault.liquidateStale(desk);
    }

    function test_attack9_when_paused_longer_than_the_exit_delay_then_the_desk_withdraws() public {
        _commitDesk();
        vm.prank(guardian);
        vault.pause();
        uint256 opensAt = START + vault.MAX_PAUSE_BEFORE_EXIT() + 1;
        vm.warp(opensAt - 1);
        vm.prank(desk);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__ExitNotYetOpen.selector, opensAt));
        vault.withdraw(withdrawal, 1, _proof("withdraw"));
        _calmSnapshot2(1); // ends an oracle outage (no snapshot for 3 days): no withdrawal in its grace
        _passShortOracleGrace();
        _submitBook(commitment, 2); // the attester re-signs during the pause: a fresh book to exit on
        vm.prank(desk);
        vault.withdraw(withdrawal, 2, _proof("withdraw2"));
        assertEq(margin.balanceOf(desk), withdrawal);
    }

    // ------------------------------------------------ review: outages and pauses must not shelter a book

    /// An outage's grace lets a desk whose deadline fell inside it re-prove; it must not hand an
    /// account that had already stopped proving a fresh maxProofAge.
    function test_an_account_stale_before_an_oracle_outage_is_liquidatable_when_the_grace_ends() public {
        _commitDesk();
        _calmSnapshot2(policy.maxProofAge + OUTAGE_GAP + 1); // stale long before this snapshot ends the outage
        uint256 graceEnd = block.timestamp + ORACLE_GRACE;
        assertEq(vault.graceEndsAt(), graceEnd);
        (bool stale, uint256 deadline) = vault.proofStatus(desk);
        assertFalse(stale); // no stale path during the grace
        assertEq(deadline, graceEnd);
        vm.warp(graceEnd + 1);
        vm.prank(keeper);
        vault.liquidateStale(desk);
        assertTrue(margin.balanceOf(keeper) > 0, "the keeper is paid right after the grace");
    }

    /// A pause must not freeze the attester's word: a newer (worse) book submitted while paused is
    /// the one a withdrawal must open when the exit reopens, not the last one before the pause.
    function test_when_paused_a_newer_attested_book_is_recorded_and_the_old_book_cannot_exit() public {
        _commitDesk();
        vm.prank(guardian);
        vault.pause();
        _calmSnapshot2(vault.MAX_PAUSE_BEFORE_EXIT() + 1);
        _passShortOracleGrace();
        _submitBook(rebalanced, 2);
        assertEq(vault.commitmentOf(desk), rebalanced);
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.withdraw(withdrawal, 2, _proof("withdraw2")); // a proof about the pre-pause book
    }

    /// @dev The snapshot just taken ended an oracle outage: shorten its grace to the minimum and
    ///      wait it out, leaving that snapshot inside the window.
    function _passShortOracleGrace() internal {
        uint32 grace = book.MIN_GRACE();
        book.setLiveness(
            PriceBook.LivenessConfig({
                minSnapshotInterval: MIN_SNAPSHOT_INTERVAL,
                outageGap: OUTAGE_GAP,
                oracleGrace: grace,
                sequencerFeed: AggregatorV3Interface(address(0)),
                sequencerGrace: 0
            })
        );
        vm.warp(block.timestamp + grace);
        assertEq(vault.graceEndsAt(), block.timestamp);
    }
}
