// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {VaultFixture} from "./utils/VaultFixture.sol";
import {RiskVault} from "../src/RiskVault.sol";

/// @notice RiskVault.liquidateMany with REAL proofs: the fixtures' desk (vault.json) and a second
///         desk with the same book (liquidate_many.json, engine/chain/batch_forge_fixtures.py),
///         both unhealthy at the CRASH snapshot 2. Each item gets exactly liquidate's checks; an
///         item whose account moved on since the proof (nonce, commitment, escrow) is skipped;
///         anything else reverts the batch.
contract RiskVaultLiquidateManyTest is VaultFixture {
    string internal constant BATCH_FIXTURES = "test/fixtures/liquidate_many.json";

    address internal desk2;
    uint256 internal commitment2;
    bytes internal attestation2Sig;
    mapping(string name => uint256[8]) internal _proofs2;

    function setUp() public override {
        super.setUp();
        if (!vm.exists(BATCH_FIXTURES)) {
            revert ZkTest__AssertionFailed("test/fixtures/liquidate_many.json missing: run `make contracts-test`");
        }
        string memory fx = vm.readFile(BATCH_FIXTURES);
        assertEq(uint256(uint160(vm.parseJsonAddress(fx, ".vault"))), uint256(uint160(address(vault))));
        desk2 = vm.parseJsonAddress(fx, ".desk2");
        commitment2 = vm.parseJsonUint(fx, ".commitment2");
        attestation2Sig = vm.parseJsonBytes(fx, ".attestation2.signature");
        string[3] memory names = ["desk2Update0", "desk2Liquidate", "desk2Liquidate95"];
        for (uint256 n; n < names.length; ++n) {
            uint256[] memory words = vm.parseJsonUintArray(fx, string.concat(".proofs.", names[n], ".proof"));
            for (uint256 i; i < 8; ++i) {
                _proofs2[names[n]][i] = words[i];
            }
        }
        vault.setAttester(desk2, attester);
    }

    // ------------------------------------------------------------ helpers

    /// @dev Both desks deposit and commit their attested books at snapshot 1; then the crash.
    function _commitBothAndCrash() internal {
        _commitDesk();
        _deposit(desk2, deposit);
        RiskVault.BookAttestation memory att = RiskVault.BookAttestation({
            account: desk2, commitment: commitment2, sequence: 1, issuedAt: uint64(START)
        });
        vm.prank(desk2);
        vault.updateBook(att, attestation2Sig, 1, _proofs2["desk2Update0"]);
        _crash();
    }

    function _item(address account, uint256 c, uint256[8] memory proof, uint16 hfBelowBps)
        internal
        pure
        returns (RiskVault.LiquidationItem memory)
    {
        return RiskVault.LiquidationItem({
            account: account, nonce: 1, commitment: c, snapshotId: 2, provenMargin: 0, hfBelowBps: hfBelowBps, proof: proof
        });
    }

    function _deskItem() internal view returns (RiskVault.LiquidationItem memory it) {
        it = _item(desk, commitment, _proof("liquidate"), 10_000);
        it.provenMargin = keeperMargin;
    }

    function _desk2Item() internal view returns (RiskVault.LiquidationItem memory it) {
        it = _item(desk2, commitment2, _proofs2["desk2Liquidate"], 10_000);
        it.provenMargin = keeperMargin;
    }

    function _batch(RiskVault.LiquidationItem memory a, RiskVault.LiquidationItem memory b)
        internal
        pure
        returns (RiskVault.LiquidationItem[] memory items)
    {
        items = new RiskVault.LiquidationItem[](2);
        items[0] = a;
        items[1] = b;
    }

    function _closeFactorSplit() internal view returns (uint256 repay, uint256 bonus) {
        uint256 slice = deposit * policy.closeFactorBps / 10_000;
        repay = slice * 10_000 / (10_000 + policy.liquidationBonusBps);
        bonus = repay * policy.liquidationBonusBps / 10_000;
    }

    // ------------------------------------------------------------ the batch

    function test_liquidateMany_liquidates_every_item_and_pays_the_bonuses_in_one_transfer() public {
        _commitBothAndCrash();
        (uint256 repay, uint256 bonus) = _closeFactorSplit();
        vm.expectEmit(true, true, true, true, address(vault));
        emit RiskVault.Liquidated(
            desk, RiskVault.LiquidationPath.PROOF, keeper, 2, 10_000, repay, bonus, deposit - repay - bonus, 1
        );
        vm.expectEmit(true, true, true, true, address(vault));
        emit RiskVault.Liquidated(
            desk2, RiskVault.LiquidationPath.PROOF, keeper, 2, 10_000, repay, bonus, deposit - repay - bonus, 1
        );
        vm.prank(keeper);
        vault.liquidateMany(_batch(_deskItem(), _desk2Item()));
        assertEq(vault.nonceOf(desk), 2, "desk nonce");
        assertEq(vault.nonceOf(desk2), 2, "desk2 nonce");
        assertEq(vault.escrowOf(desk), deposit - repay - bonus, "desk escrow");
        assertEq(vault.escrowOf(desk2), deposit - repay - bonus, "desk2 escrow");
        assertEq(margin.balanceOf(keeper), 2 * bonus, "both bonuses to the keeper");
        assertEq(vault.owed(beneficiary), 2 * repay, "both repays owed to the beneficiary");
    }

    function test_liquidateMany_with_proofs_of_hf_below_095_takes_both_whole_escrows() public {
        _commitBothAndCrash();
        RiskVault.LiquidationItem memory a = _item(desk, commitment, _proof("liquidate95"), 9_500);
        RiskVault.LiquidationItem memory b = _item(desk2, commitment2, _proofs2["desk2Liquidate95"], 9_500);
        a.provenMargin = keeperMargin;
        b.provenMargin = keeperMargin;
        vm.prank(keeper);
        vault.liquidateMany(_batch(a, b));
        assertEq(vault.escrowOf(desk), 0);
        assertEq(vault.escrowOf(desk2), 0);
        assertEq(margin.balanceOf(keeper) + vault.owed(beneficiary), 2 * deposit, "nothing lost");
    }

    // ------------------------------------------------------------ attacks

    function test_liquidateMany_when_another_sender_copies_the_batch_then_reverts() public {
        _commitBothAndCrash();
        RiskVault.LiquidationItem[] memory items = _batch(_deskItem(), _desk2Item());
        vm.prank(stranger);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.liquidateMany(items);
        vm.prank(keeper); // the keeper the proofs are bound to
        vault.liquidateMany(items);
        assertEq(margin.balanceOf(stranger), 0);
    }

    function test_liquidateMany_when_an_item_carries_another_accounts_proof_then_reverts() public {
        _commitBothAndCrash();
        RiskVault.LiquidationItem memory forged = _desk2Item();
        forged.proof = _proof("liquidate"); // the keeper has no proof for desk2: it borrows desk's
        vm.prank(keeper);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.liquidateMany(_batch(_deskItem(), forged));
        assertEq(vault.nonceOf(desk), 1, "the whole batch reverted");
    }

    function test_liquidateMany_when_an_account_appears_twice_then_it_is_liquidated_once() public {
        _commitBothAndCrash();
        RiskVault.LiquidationItem[] memory items = new RiskVault.LiquidationItem[](3);
        items[0] = _deskItem();
        items[1] = _deskItem();
        items[2] = _desk2Item();
        (uint256 repay, uint256 bonus) = _closeFactorSplit();
        vm.expectEmit(true, false, false, true, address(vault));
        emit RiskVault.LiquidationSkipped(desk);
        vm.prank(keeper);
        vault.liquidateMany(items);
        assertEq(vault.nonceOf(desk), 2, "one liquidation of desk");
        assertEq(vault.escrowOf(desk), deposit - repay - bonus, "one close-factor slice");
        assertEq(margin.balanceOf(keeper), 2 * bonus);
    }

    function test_liquidateMany_when_one_item_was_front_run_then_it_is_skipped_and_the_rest_liquidate() public {
        _commitBothAndCrash();
        _liquidate("liquidate", keeperMargin, 10_000); // desk liquidated first, on its own
        uint256 escrowAfter = vault.escrowOf(desk);
        vm.expectEmit(true, false, false, true, address(vault));
        emit RiskVault.LiquidationSkipped(desk);
        vm.prank(keeper);
        vault.liquidateMany(_batch(_deskItem(), _desk2Item()));
        assertEq(vault.escrowOf(desk), escrowAfter, "desk not liquidated twice");
        assertEq(vault.nonceOf(desk2), 2, "desk2 liquidated");
    }

    function test_liquidateMany_when_a_newer_book_landed_for_one_account_then_that_item_is_skipped() public {
        _commitBothAndCrash();
        _submitBook(rebalanced, 2); // anyone lands the attester's newer book for desk
        vm.expectEmit(true, false, false, true, address(vault));
        emit RiskVault.LiquidationSkipped(desk);
        vm.prank(keeper);
        vault.liquidateMany(_batch(_deskItem(), _desk2Item()));
        assertEq(vault.escrowOf(desk), deposit, "desk untouched");
        assertEq(vault.nonceOf(desk2), 2, "desk2 liquidated");
    }

    function test_liquidateMany_when_a_desk_deposits_above_the_proven_margin_then_its_item_is_skipped() public {
        _commitBothAndCrash();
        _deposit(desk, deposit); // escrow doubles: above the keeper's escrow + 1 %
        vm.expectEmit(true, false, false, true, address(vault));
        emit RiskVault.LiquidationSkipped(desk);
        vm.prank(keeper);
        vault.liquidateMany(_batch(_deskItem(), _desk2Item()));
        assertEq(vault.escrowOf(desk), 2 * deposit, "desk untouched");
        assertEq(vault.nonceOf(desk2), 2, "desk2 liquidated");
    }

    function test_liquidateMany_when_every_item_is_skipped_then_reverts() public {
        _commitBothAndCrash();
        vm.prank(keeper);
        vault.liquidateMany(_batch(_deskItem(), _desk2Item()));
        RiskVault.LiquidationItem[] memory again = _batch(_deskItem(), _desk2Item());
        vm.prank(keeper);
        vm.expectRevert(RiskVault.RiskVault__NothingLiquidated.selector);
        vault.liquidateMany(again);
        vm.prank(keeper);
        vm.expectRevert(RiskVault.RiskVault__NothingLiquidated.selector);
        vault.liquidateMany(new RiskVault.LiquidationItem[](0));
    }

    function test_liquidateMany_when_the_account_is_in_cooldown_at_its_current_nonce_then_reverts() public {
        _commitBothAndCrash();
        _liquidate("liquidate", keeperMargin, 10_000);
        RiskVault.LiquidationItem memory it = _deskItem();
        it.nonce = 2; // the account's current nonce and book: not front-run, just too soon
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(
                RiskVault.RiskVault__LiquidationCooldown.selector, desk, block.timestamp + policy.liquidationCooldown
            )
        );
        vault.liquidateMany(_batch(_desk2Item(), it));
    }

    function test_liquidateMany_when_the_snapshot_left_the_window_then_reverts() public {
        _commitBothAndCrash();
        vm.warp(block.timestamp + policy.snapshotWindow + 1);
        _refreshFeeds();
        RiskVault.LiquidationItem[] memory items = _batch(_deskItem(), _desk2Item());
        vm.prank(keeper);
        vm.expectRevert();
        vault.liquidateMany(items);
        assertEq(vault.nonceOf(desk2), 1);
    }

    function test_liquidateMany_when_the_threshold_is_unsupported_then_reverts() public {
        _commitBothAndCrash();
        RiskVault.LiquidationItem memory it = _desk2Item();
        it.hfBelowBps = 9_000;
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__UnsupportedHfThreshold.selector, uint16(9_000)));
        vault.liquidateMany(_batch(_deskItem(), it));
    }

    function test_liquidateMany_when_paused_then_reverts() public {
        _commitBothAndCrash();
        vm.prank(guardian);
        vault.pause();
        RiskVault.LiquidationItem[] memory items = _batch(_deskItem(), _desk2Item());
        vm.prank(keeper);
        vm.expectRevert(RiskVault.EnforcedPause.selector);
        vault.liquidateMany(items);
    }

    function test_liquidateMany_during_the_grace_period_after_an_oracle_outage_then_reverts() public {
        _commitBothAndCrash();
        vm.warp(block.timestamp + OUTAGE_GAP + 1);
        _refreshFeeds();
        book.takeSnapshot(); // the first snapshot after the outage opens the grace period
        RiskVault.LiquidationItem memory a = _deskItem();
        RiskVault.LiquidationItem memory b = _desk2Item();
        a.snapshotId = 3;
        b.snapshotId = 3;
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__GracePeriod.selector, book.graceEndsAt()));
        vault.liquidateMany(_batch(a, b));
    }
}
