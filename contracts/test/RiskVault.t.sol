// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {VaultFixture} from "./utils/VaultFixture.sol";
import {RiskVault} from "../src/RiskVault.sol";
import {Groth16Calldata} from "../src/Groth16Calldata.sol";
import {Action} from "../src/ZkRiskConstants.sol";
import {MockERC20} from "../src/mocks/MockERC20.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

/// @notice RiskVault v2 with REAL Groth16 proofs (fixtures proved by the engine for this vault's
///         address), one behaviour per test. The nine attacks are in RiskVaultAttacks.t.sol.
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
    }

    function test_deposit_when_amount_is_zero_then_reverts() public {
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__ZeroAmount.selector);
        vault.deposit(0);
    }

    function test_deposit_when_paused_then_succeeds() public {
        vm.prank(guardian);
        vault.pause();
        _deposit(desk, 1);
        assertEq(vault.escrowOf(desk), 1);
    }

    function test_deposit_when_escrow_would_not_fit_the_circuit_then_reverts() public {
        uint256 cap = vault.maxEscrow();
        _deposit(desk, cap);
        margin.mint(desk, 1);
        vm.startPrank(desk);
        margin.approve(address(vault), 1);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__EscrowCapExceeded.selector, cap + 1, cap));
        vault.deposit(1);
        vm.stopPrank();
    }

    // ------------------------------------------------------------ attestations

    function test_attestationDigest_equals_the_python_eip712_digest() public view {
        assertEq(vault.attestationDigest(_att(commitment, 1)), _pyDigests["book"], "book digest");
        assertEq(vault.attestationDigest(_att(rebalanced, 2)), _pyDigests["rebalanced"], "rebalanced digest");
        assertEq(vault.attestationDigest(_att(emptyCommitment, 2)), _pyDigests["empty"], "empty digest");
    }

    function test_submitAttestedBook_by_anyone_records_the_book_and_emits() public {
        (RiskVault.BookAttestation memory att, bytes memory sig) = _attested(commitment, 1);
        vm.expectEmit(true, true, false, true, address(vault));
        emit RiskVault.BookAttested(desk, commitment, 1, uint64(START), stranger);
        vm.prank(stranger);
        vault.submitAttestedBook(att, sig);
        assertEq(vault.commitmentOf(desk), commitment);
        assertEq(vault.bookSequence(desk), 1);
        assertEq(vault.accountState(desk).lastProofAt, START, "a never-proved desk's clock starts now");
    }

    function test_submitAttestedBook_when_the_sequence_is_not_newer_then_reverts() public {
        _submitBook(commitment, 1);
        (RiskVault.BookAttestation memory att, bytes memory sig) = _attested(rebalanced, 1);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__StaleAttestationSequence.selector, desk, 1, 1));
        vault.submitAttestedBook(att, sig);
    }

    function test_submitAttestedBook_when_issued_in_the_future_then_reverts() public {
        RiskVault.BookAttestation memory att = _att(commitment, 1);
        att.issuedAt = uint64(block.timestamp + 1);
        bytes memory sig = _sign(attesterKey, att);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__AttestationFromFuture.selector, att.issuedAt));
        vault.submitAttestedBook(att, sig);
    }

    function test_submitAttestedBook_at_max_age_succeeds_and_one_second_later_reverts() public {
        (RiskVault.BookAttestation memory att, bytes memory sig) = _attested(commitment, 1);
        uint256 snap = _snapshotState();
        vm.warp(START + policy.maxAttestationAge);
        vault.submitAttestedBook(att, sig);
        _restore(snap);
        vm.warp(START + policy.maxAttestationAge + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                RiskVault.RiskVault__AttestationTooOld.selector, uint64(START), policy.maxAttestationAge
            )
        );
        vault.submitAttestedBook(att, sig);
    }

    function test_submitAttestedBook_when_the_account_has_no_attester_then_reverts() public {
        vault.setAttester(desk, address(0));
        (RiskVault.BookAttestation memory att, bytes memory sig) = _attested(commitment, 1);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__NoAttester.selector, desk));
        vault.submitAttestedBook(att, sig);
    }

    function test_submitAttestedBook_when_the_signature_is_for_another_book_then_reverts() public {
        (RiskVault.BookAttestation memory att, bytes memory sig) = _attested(commitment, 1);
        att.commitment = rebalanced;
        vm.expectRevert(
            abi.encodeWithSelector(RiskVault.RiskVault__InvalidAttestationSignature.selector, desk, attester)
        );
        vault.submitAttestedBook(att, sig);
    }

    function test_submitAttestedBook_when_the_commitment_is_zero_or_not_a_field_element_then_reverts() public {
        (RiskVault.BookAttestation memory att, bytes memory sig) = _attested(0, 1);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__InvalidCommitment.selector, 0));
        vault.submitAttestedBook(att, sig);
        (att, sig) = _attested(commitment + R, 1);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__InvalidCommitment.selector, commitment + R));
        vault.submitAttestedBook(att, sig);
    }

    function test_submitAttestedBook_when_paused_then_records_the_book() public {
        vm.prank(guardian);
        vault.pause();
        (RiskVault.BookAttestation memory att, bytes memory sig) = _attested(commitment, 1);
        vault.submitAttestedBook(att, sig); // the attester's word moves no money
        assertEq(vault.commitmentOf(desk), commitment);
        assertEq(vault.bookSequence(desk), 1);
    }

    function test_after_a_newer_attested_book_then_proofs_of_the_old_book_revert() public {
        _commitDesk();
        _submitBook(rebalanced, 2);
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.withdraw(withdrawal, 1, _proof("withdraw"));
    }

    // ------------------------------------------------------------ updateBook / proveHealth

    function test_updateBook_commits_the_first_book_with_a_real_proof() public {
        _deposit(desk, deposit);
        (RiskVault.BookAttestation memory att, bytes memory sig) = _attested(commitment, 1);
        vm.expectEmit(true, true, false, true, address(vault));
        emit RiskVault.HealthProven(desk, Action.UPDATE_COMMITMENT, 1, 0, policy.minHealthBps);
        vm.prank(desk);
        vault.updateBook(att, sig, 1, _proof("update0"));
        RiskVault.AccountState memory s = vault.accountState(desk);
        assertEq(s.commitment, commitment);
        assertEq(s.nonce, 1);
        assertEq(s.lastProofSnapshotId, 1);
        assertEq(s.lastProofAt, START);
        assertEq(s.bookSequence, 1);
    }

    function test_updateBook_replaces_the_book_with_a_newer_attestation() public {
        _commitDesk();
        (RiskVault.BookAttestation memory att, bytes memory sig) = _attested(rebalanced, 2);
        vm.prank(desk);
        vault.updateBook(att, sig, 1, _proof("update"));
        assertEq(vault.commitmentOf(desk), rebalanced);
        assertEq(vault.nonceOf(desk), 2);
    }

    function test_updateBook_when_someone_submitted_the_attestation_first_then_the_proof_still_counts() public {
        _deposit(desk, deposit);
        (RiskVault.BookAttestation memory att, bytes memory sig) = _attested(commitment, 1);
        vault.submitAttestedBook(att, sig); // front-run from the mempool
        vm.prank(desk);
        vault.updateBook(att, sig, 1, _proof("update0"));
        assertEq(vault.nonceOf(desk), 1);
    }

    function test_updateBook_when_sent_by_another_account_then_reverts() public {
        _deposit(desk, deposit);
        (RiskVault.BookAttestation memory att, bytes memory sig) = _attested(commitment, 1);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__NotAccount.selector, desk, stranger));
        vault.updateBook(att, sig, 1, _proof("update0"));
    }

    function test_updateBook_when_the_margin_differs_from_the_proven_one_then_reverts() public {
        _deposit(desk, deposit + 1);
        (RiskVault.BookAttestation memory att, bytes memory sig) = _attested(commitment, 1);
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.updateBook(att, sig, 1, _proof("update0"));
    }

    function test_updateBook_when_paused_then_records_and_proves_the_book() public {
        _deposit(desk, deposit);
        vm.prank(guardian);
        vault.pause();
        (RiskVault.BookAttestation memory att, bytes memory sig) = _attested(commitment, 1);
        vm.prank(desk);
        vault.updateBook(att, sig, 1, _proof("update0")); // moves no money: allowed while paused
        assertEq(vault.commitmentOf(desk), commitment);
        assertEq(vault.nonceOf(desk), 1);
    }

    function test_proveHealth_resets_the_proof_clock_and_consumes_the_nonce() public {
        _commitDesk();
        vm.prank(desk);
        vault.proveHealth(1, _proof("prove"));
        assertEq(vault.nonceOf(desk), 2);
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector); // replay: nonce 1 is spent
        vault.proveHealth(1, _proof("prove"));
    }

    function test_proveHealth_when_paused_then_succeeds() public {
        _commitDesk();
        vm.prank(guardian);
        vault.pause();
        vm.prank(desk);
        vault.proveHealth(1, _proof("prove"));
    }

    function test_proveHealth_when_no_book_then_reverts() public {
        vm.prank(desk);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__NoCommitment.selector, desk));
        vault.proveHealth(1, _proof("prove"));
    }

    function test_proveHealth_at_a_snapshot_before_the_last_proof_then_reverts() public {
        _commitDesk();
        _calmSnapshot2(MIN_SNAPSHOT_INTERVAL);
        vm.prank(desk);
        vault.proveHealth(2, _proof("prove2"));
        vm.prank(desk);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__SnapshotBeforeLastProof.selector, 1, 2));
        vault.proveHealth(1, _proof("prove"));
    }

    function test_proveHealth_at_an_unknown_snapshot_then_reverts() public {
        _commitDesk();
        vm.prank(desk);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__UnknownSnapshot.selector, 9));
        vault.proveHealth(9, _proof("prove"));
    }

    function test_proveHealth_at_the_window_edge_succeeds_and_one_second_later_reverts() public {
        _commitDesk();
        uint256 snap = _snapshotState();
        vm.warp(START + policy.snapshotWindow);
        vm.prank(desk);
        vault.proveHealth(1, _proof("prove"));
        _restore(snap);
        vm.warp(START + policy.snapshotWindow + 1);
        vm.prank(desk);
        vm.expectRevert(
            abi.encodeWithSelector(RiskVault.RiskVault__SnapshotOutsideWindow.selector, 1, START, START + 1)
        );
        vault.proveHealth(1, _proof("prove"));
    }

    function test_proveHealth_when_the_snapshot_prices_are_stale_then_reverts() public {
        _commitDesk();
        RiskVault.Policy memory p = policy;
        p.maxPriceAge = 60;
        vault.setPolicy(p);
        vm.warp(START + 61);
        vm.prank(desk);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__StalePrice.selector, 1, START, 60));
        vault.proveHealth(1, _proof("prove"));
    }

    // ------------------------------------------------------------ withdraw

    function test_withdraw_with_a_real_proof_pays_out_and_emits_event() public {
        _commitDesk();
        vm.expectEmit(true, true, false, true, address(vault));
        emit RiskVault.Withdrawn(desk, withdrawal, deposit - withdrawal, 1, 1);
        vm.prank(desk);
        vault.withdraw(withdrawal, 1, _proof("withdraw"));
        assertEq(margin.balanceOf(desk), withdrawal);
        assertEq(vault.nonceOf(desk), 2);
    }

    function test_withdraw_when_the_proof_is_replayed_then_reverts() public {
        _commitDesk();
        vm.prank(desk);
        vault.withdraw(withdrawal, 1, _proof("withdraw"));
        _deposit(desk, withdrawal);
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.withdraw(withdrawal, 1, _proof("withdraw"));
    }

    function test_withdraw_when_the_amount_differs_from_the_proven_one_then_reverts() public {
        _commitDesk();
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.withdraw(withdrawal - 1, 1, _proof("withdraw"));
    }

    function test_withdraw_when_no_book_then_reverts() public {
        _deposit(desk, deposit);
        vm.prank(desk);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__NoCommitment.selector, desk));
        vault.withdraw(withdrawal, 1, _proof("withdraw"));
    }

    function test_withdraw_when_amount_is_zero_or_above_escrow_then_reverts() public {
        _commitDesk();
        vm.startPrank(desk);
        vm.expectRevert(RiskVault.RiskVault__ZeroAmount.selector);
        vault.withdraw(0, 1, _proof("withdraw"));
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__InsufficientEscrow.selector, deposit, deposit + 1));
        vault.withdraw(deposit + 1, 1, _proof("withdraw"));
        vm.stopPrank();
    }

    // ------------------------------------------------------------ liquidate

    function test_liquidate_emits_the_full_event() public {
        _commitDesk();
        _crash();
        (uint256 repay, uint256 bonus, uint256 left) = vault.previewLiquidation(desk, 10_000);
        vm.expectEmit(true, true, true, true, address(vault));
        emit RiskVault.Liquidated(desk, RiskVault.LiquidationPath.PROOF, keeper, 2, 10_000, repay, bonus, left, 1);
        _liquidate("liquidate", keeperMargin, 10_000);
    }

    function test_liquidate_with_an_unsupported_threshold_then_reverts() public {
        _commitDesk();
        _crash();
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__UnsupportedHfThreshold.selector, 9_000));
        vault.liquidate(desk, 2, keeperMargin, 9_000, _proof("liquidate"));
    }

    function test_liquidate_when_the_threshold_differs_from_the_proven_one_then_reverts() public {
        _commitDesk();
        _crash();
        vm.prank(keeper);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.liquidate(desk, 2, keeperMargin, 9_500, _proof("liquidate")); // a proof of HF < 1 only
    }

    function test_liquidate_when_called_again_within_the_cooldown_then_reverts() public {
        _commitDesk();
        _crash();
        _liquidate("liquidate", keeperMargin, 10_000);
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(
                RiskVault.RiskVault__LiquidationCooldown.selector, desk, block.timestamp + policy.liquidationCooldown
            )
        );
        vault.liquidate(desk, 2, keeperMargin, 10_000, _proof("liquidate"));
    }

    function test_liquidate_when_the_proof_is_a_health_proof_then_reverts() public {
        _commitDesk();
        _crash();
        vm.prank(keeper);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.liquidate(desk, 2, keeperMargin, 10_000, _proof("prove"));
    }

    function test_liquidate_when_paused_then_reverts() public {
        _commitDesk();
        _crash();
        vm.prank(guardian);
        vault.pause();
        vm.prank(keeper);
        vm.expectRevert(RiskVault.EnforcedPause.selector);
        vault.liquidate(desk, 2, keeperMargin, 10_000, _proof("liquidate"));
    }

    function test_liquidate_when_the_account_has_no_book_then_reverts() public {
        _deposit(desk, deposit);
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__NoCommitment.selector, desk));
        vault.liquidate(desk, 1, keeperMargin, 10_000, _proof("liquidate"));
    }

    function test_liquidate_after_a_withdrawal_with_its_own_real_proof_then_succeeds() public {
        _commitDesk();
        vm.prank(desk);
        vault.withdraw(withdrawal, 1, _proof("withdraw"));
        _crash();
        _liquidate("liquidateAfterWithdraw", keeperMarginAfterWithdraw, 10_000);
        assertTrue(vault.escrowOf(desk) < deposit - withdrawal);
    }

    function test_liquidateStale_when_fresh_then_reverts_and_after_unpause_the_clock_restarts() public {
        _commitDesk();
        vm.prank(guardian);
        vault.pause();
        vm.warp(START + policy.maxProofAge + 1);
        vault.unpause();
        (bool stale, uint256 deadline) = vault.proofStatus(desk);
        assertFalse(stale);
        assertEq(deadline, block.timestamp + policy.maxProofAge);
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__ProofNotStale.selector, desk, deadline));
        vault.liquidateStale(desk);
    }

    // ------------------------------------------------------------ governance

    function test_admin_functions_when_caller_lacks_the_role_then_revert() public {
        RiskVault.Policy memory p = policy;
        bytes32 risk = vault.RISK_ADMIN_ROLE();
        vm.startPrank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, vault.GUARDIAN_ROLE()
            )
        );
        vault.pause();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, bytes32(0))
        );
        vault.unpause();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, risk)
        );
        vault.setPolicy(p);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, risk)
        );
        vault.setAttester(desk, stranger);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, risk)
        );
        vault.setBeneficiary(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, bytes32(0))
        );
        vault.beginDefaultAdminTransfer(stranger);
        vm.stopPrank();
    }

    function test_setAttester_emits_and_is_readable() public {
        vm.expectEmit(true, false, false, true, address(vault));
        emit RiskVault.AttesterSet(desk, attester, stranger);
        vault.setAttester(desk, stranger);
        assertEq(vault.attesterOf(desk), stranger);
    }

    function test_setBeneficiary_to_zero_then_reverts() public {
        vm.expectRevert(RiskVault.RiskVault__ZeroAddress.selector);
        vault.setBeneficiary(address(0));
    }

    /// Every bounded policy field at both edges of its range: min and max accepted, min − 1 and
    /// max + 1 refused with the field's name.
    function test_setPolicy_accepts_each_bound_and_refuses_one_past_it() public {
        string[11] memory names = [
            "minHealthBps",
            "degradedMinHealthBps",
            "closeFactorBps",
            "liquidationBonusBps",
            "staleSliceBps",
            "liquidationCooldown",
            "maxProofAge",
            "maxPriceAge",
            "snapshotWindow",
            "maxAttestationAge",
            "minLeftover"
        ];
        uint256[2][11] memory bounds = [
            [uint256(10_000), 30_000],
            [uint256(policy.minHealthBps), 40_000],
            [uint256(2_000), 5_000],
            [uint256(0), 1_500],
            [uint256(100), 2_500],
            [uint256(300), 7 days],
            [uint256(1 hours), 30 days],
            [uint256(60), 2 days],
            [uint256(60), 3600],
            [uint256(60), 30 days],
            [uint256(0), vault.maxMinLeftover()]
        ];
        for (uint256 i; i < names.length; ++i) {
            vault.setPolicy(_with(i, bounds[i][0]));
            vault.setPolicy(_with(i, bounds[i][1]));
            if (bounds[i][0] > 0) {
                vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__InvalidPolicy.selector, names[i]));
                vault.setPolicy(_with(i, bounds[i][0] - 1));
            }
            vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__InvalidPolicy.selector, names[i]));
            vault.setPolicy(_with(i, bounds[i][1] + 1));
        }
    }

    function test_constructor_when_margin_token_is_not_slot_0_then_reverts() public {
        MockERC20 other = new MockERC20("Other", "OTH", 6);
        vm.expectRevert(
            abi.encodeWithSelector(RiskVault.RiskVault__MarginAssetMismatch.selector, address(other), address(margin))
        );
        new RiskVault(verifier, book, other, admin, ADMIN_DELAY, guardian, beneficiary, policy);
    }

    function test_constructor_when_the_guardian_is_zero_then_reverts() public {
        vm.expectRevert(RiskVault.RiskVault__ZeroAddress.selector);
        new RiskVault(verifier, book, margin, admin, ADMIN_DELAY, address(0), beneficiary, policy);
    }

    // ------------------------------------------------------------ views

    function test_publicSignals_and_bindingFor_equal_the_engine_statements_of_the_fixtures() public {
        _deposit(desk, deposit);
        _checkSignals("update0", Action.UPDATE_COMMITMENT, 0, 1, commitment, desk, 0, 0);
    }

    function test_publicSignals_equal_the_fixtures_after_the_first_book() public {
        _commitDesk();
        _checkSignals("withdraw", Action.WITHDRAW, withdrawal, 1, 0, desk, 0, 0);
        _checkSignals("update", Action.UPDATE_COMMITMENT, 0, 1, rebalanced, desk, 0, 0);
        _checkSignals("prove", Action.ATTEST, 0, 1, 0, desk, 0, 0);
        _crash();
        _checkSignals("liquidate", Action.LIQUIDATE, 0, 2, 0, keeper, keeperMargin, 10_000);
        _checkSignals("liquidate95", Action.LIQUIDATE, 0, 2, 0, keeper, keeperMargin, 9_500);
    }

    function testFuzz_marginQuantity_rounds_against_the_prover(uint256 amount) public view {
        amount = bound(amount, 0, vault.maxEscrow());
        assertEq(vault.marginQuantity(amount, false), amount * 100);
        assertEq(vault.marginQuantity(amount, true), amount * 100);
    }

    /// forge-config: default.fuzz.runs = 256
    function testFuzz_liquidate_when_any_proof_word_is_changed_then_reverts(uint8 index, uint256 value) public {
        _commitDesk();
        _crash();
        uint256[8] memory proof = _proof("liquidate");
        index = uint8(bound(index, 0, 7));
        vm.assume(proof[index] != value);
        proof[index] = value;
        vm.prank(keeper);
        vm.expectRevert();
        vault.liquidate(desk, 2, keeperMargin, 10_000, proof);
    }

    // ------------------------------------------------------------ helpers

    function _checkSignals(
        string memory name,
        Action action,
        uint256 amount,
        uint256 snapshotId,
        uint256 c,
        address submitter,
        uint256 provenMargin,
        uint16 hf
    ) internal view {
        uint256[5] memory got = vault.publicSignals(desk, action, amount, snapshotId, c, submitter, provenMargin, hf);
        uint256[5] memory want = _public(name);
        for (uint256 i; i < 5; ++i) {
            assertEq(got[i], want[i], string.concat(name, ": public signal differs"));
        }
        assertEq(
            vault.bindingFor(desk, action, amount, vault.nonceOf(desk), snapshotId, submitter), want[4], "bindingFor"
        );
    }

    function _with(uint256 field, uint256 value) internal view returns (RiskVault.Policy memory p) {
        p = policy;
        if (field == 0) {
            p.minHealthBps = uint16(value);
            p.degradedMinHealthBps = uint16(value > p.degradedMinHealthBps ? value : p.degradedMinHealthBps);
        } else if (field == 1) {
            p.degradedMinHealthBps = uint16(value);
        } else if (field == 2) {
            p.closeFactorBps = uint16(value);
        } else if (field == 3) {
            p.liquidationBonusBps = uint16(value);
        } else if (field == 4) {
            p.staleSliceBps = uint16(value);
        } else if (field == 5) {
            p.liquidationCooldown = uint32(value);
        } else if (field == 6) {
            p.maxProofAge = uint32(value);
        } else if (field == 7) {
            p.maxPriceAge = uint32(value);
        } else if (field == 8) {
            p.snapshotWindow = uint32(value);
        } else if (field == 9) {
            p.maxAttestationAge = uint32(value);
        } else {
            p.minLeftover = uint128(value);
        }
    }

    function _snapshotState() internal returns (uint256) {
        return vm.snapshotState();
    }

    function _restore(uint256 id) internal {
        vm.revertToState(id);
    }
}
