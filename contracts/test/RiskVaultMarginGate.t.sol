// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {VaultFixture} from "./utils/VaultFixture.sol";
import {RiskVault} from "../src/RiskVault.sol";
import {IPortfolioMarginVerifier} from "../src/interfaces/IPortfolioMarginVerifier.sol";
import {Margin4x8Verifier} from "../src/generated/Margin4x8Verifier.sol";
import {Margin4x8ArraysVerifier} from "../src/generated/Margin4x8ArraysVerifier.sol";

/// @notice Withdrawals gated on a real PortfolioMargin(4, 8) proof (fixtures:
///         contracts/test/fixtures/margin.json, engine/chain/margin_forge_fixtures.py): the
///         attacks a desk can try — another account's proof, old arrays, a wrong marginHeld, a
///         replay, the health path on a gated vault — and who may set the arrays and the gate.
///         The gate's verifier is the folded one (risk arrays folded once per publication); it
///         must accept exactly what snarkjs' stock verifier accepts over all 39 public inputs.
contract RiskVaultMarginGateTest is VaultFixture {
    string internal constant MARGIN_FIXTURES = "test/fixtures/margin.json";
    uint32 internal constant ARRAYS_AGE = 1 days;
    uint256 internal constant WITHDRAW_TARGET = 320_000;

    IPortfolioMarginVerifier internal marginVerifier;
    Margin4x8ArraysVerifier internal folded;
    Margin4x8Verifier internal stock;
    uint256[] internal looseEntries;
    uint256[] internal strictEntries;
    uint256[] internal bases;
    mapping(string name => uint256[39]) internal _stockPublics;
    address internal publisher = address(0xA11A7);
    uint256 internal looseHash;
    uint256 internal strictHash;
    uint64 internal collateralValue;
    mapping(string name => uint256[8]) internal _marginProofs;
    mapping(string name => uint256[4]) internal _marginPublics;

    string[5] internal MARGIN_PROOFS =
        ["marginWithdraw", "marginAtEscrow", "marginOldArrays", "marginStrict", "marginForStranger"];

    function setUp() public override {
        super.setUp();
        if (!vm.exists(MARGIN_FIXTURES)) {
            revert ZkTest__AssertionFailed("test/fixtures/margin.json missing: run `make contracts-test`");
        }
        string memory fx = vm.readFile(MARGIN_FIXTURES);
        assertEq(vm.parseJsonUint(fx, ".commitment"), commitment, "margin fixtures open another book");
        looseHash = vm.parseJsonUint(fx, ".looseHash");
        strictHash = vm.parseJsonUint(fx, ".strictHash");
        collateralValue = uint64(vm.parseJsonUint(fx, ".collateralValue"));
        for (uint256 n; n < MARGIN_PROOFS.length; ++n) {
            string memory key = string.concat(".proofs.", MARGIN_PROOFS[n]);
            uint256[] memory words = vm.parseJsonUintArray(fx, string.concat(key, ".proof"));
            uint256[] memory pub = vm.parseJsonUintArray(fx, string.concat(key, ".vaultPublic"));
            uint256[] memory all = vm.parseJsonUintArray(fx, string.concat(key, ".public"));
            for (uint256 i; i < 8; ++i) {
                _marginProofs[MARGIN_PROOFS[n]][i] = words[i];
            }
            for (uint256 i; i < 4; ++i) {
                _marginPublics[MARGIN_PROOFS[n]][i] = pub[i];
            }
            for (uint256 i; i < 39; ++i) {
                _stockPublics[MARGIN_PROOFS[n]][i] = all[i];
            }
        }
        looseEntries = vm.parseJsonUintArray(fx, ".looseEntries");
        strictEntries = vm.parseJsonUintArray(fx, ".strictEntries");
        bases = vm.parseJsonUintArray(fx, ".bases");
        stock = new Margin4x8Verifier();
        folded = new Margin4x8ArraysVerifier();
        assertEq(folded.fold(looseEntries, bases), looseHash, "loose key");
        assertEq(folded.fold(strictEntries, bases), strictHash, "strict key");
        marginVerifier = IPortfolioMarginVerifier(address(folded));
        vault.grantRole(vault.RISK_ARRAYS_ROLE(), publisher);
        _commitDesk(); // nonce 0 → 1, the nonce every margin proof binds
    }

    // ------------------------------------------------------------ helpers

    function _gateOn() internal {
        vault.setMarginGate(marginVerifier, ARRAYS_AGE);
    }

    function _publish(uint256 hash) internal {
        vm.prank(publisher);
        vault.publishRiskArrays(hash, collateralValue);
    }

    function _gatedWithLooseArrays() internal {
        _gateOn();
        _publish(looseHash); // epoch 1
    }

    function _withdrawOnMargin(address who, uint256 amount, string memory name) internal {
        vm.prank(who);
        vault.withdrawWithMarginProof(amount, _marginProofs[name]);
    }

    /// @dev The attester signs `c` as `account`'s book number `sequence`; a stranger submits it.
    function _attestFor(address account, uint256 c, uint64 sequence) internal {
        vault.setAttester(account, attester);
        RiskVault.BookAttestation memory att = RiskVault.BookAttestation({
            account: account, commitment: c, sequence: sequence, issuedAt: uint64(block.timestamp)
        });
        bytes memory sig = _sign(attesterKey, att);
        vault.submitAttestedBook(att, sig);
    }

    // ------------------------------------------------------------ the margin path

    function test_margin_withdraw_with_a_real_proof_pays_out_and_emits_event() public {
        _gatedWithLooseArrays();
        vm.expectEmit(true, true, false, true, address(vault));
        emit RiskVault.WithdrawnOnMargin(desk, withdrawal, deposit - withdrawal, 1, 1);
        _withdrawOnMargin(desk, withdrawal, "marginWithdraw");
        assertEq(margin.balanceOf(desk), withdrawal);
        assertEq(vault.escrowOf(desk), deposit - withdrawal);
        assertEq(vault.nonceOf(desk), 2);
    }

    function test_margin_public_signals_are_the_ones_the_proof_was_made_for() public {
        _gatedWithLooseArrays();
        uint256[4] memory pub = vault.marginPublicSignals(desk, withdrawal, desk);
        for (uint256 i; i < 4; ++i) {
            assertEq(pub[i], _marginPublics["marginWithdraw"][i], "public signal");
        }
        // marginHeld = QTY(10,000 USDC left) · 0.95 USD at VALUE scale (10^16 per USD)
        assertEq(pub[2], 9_500 * 1e16, "marginHeld");
    }

    function test_margin_withdraw_when_another_account_submits_the_desks_proof_then_reverts() public {
        _gatedWithLooseArrays();
        // Even with the desk's very book attested to it, the binding names the desk.
        _attestFor(stranger, commitment, 1);
        _deposit(stranger, deposit);
        vm.prank(stranger);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.withdrawWithMarginProof(withdrawal, _marginProofs["marginWithdraw"]);
    }

    function test_margin_withdraw_when_the_proof_opens_a_book_not_attested_to_the_submitter_then_reverts() public {
        _gatedWithLooseArrays();
        _attestFor(stranger, emptyCommitment, 1);
        _deposit(stranger, deposit);
        vm.prank(stranger);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.withdrawWithMarginProof(withdrawal, _marginProofs["marginForStranger"]);
    }

    function test_margin_withdraw_verifies_for_the_book_attested_to_the_submitter_only() public {
        // The control of the test above: the same proof, once the attester signs that book.
        _gatedWithLooseArrays();
        _attestFor(stranger, commitment, 1);
        _deposit(stranger, deposit);
        _withdrawOnMargin(stranger, withdrawal, "marginForStranger");
        assertEq(vault.escrowOf(stranger), deposit - withdrawal);
    }

    function test_margin_withdraw_against_the_replaced_arrays_then_reverts() public {
        _gatedWithLooseArrays();
        _publish(strictHash); // epoch 2: the stricter arrays refuse a 10,000 withdrawal
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.withdrawWithMarginProof(withdrawal, _marginProofs["marginOldArrays"]); // old hash, new epoch
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.withdrawWithMarginProof(withdrawal, _marginProofs["marginWithdraw"]); // made before
        _withdrawOnMargin(desk, withdrawal / 2, "marginStrict"); // what the new arrays allow
        assertEq(vault.escrowOf(desk), deposit - withdrawal / 2);
    }

    function test_margin_withdraw_when_its_arrays_are_republished_after_a_replacement_then_reverts() public {
        _gatedWithLooseArrays(); // epoch 1: the proof is made
        _publish(strictHash); // epoch 2
        _publish(looseHash); // epoch 3: the same hash in force again, but a later publication
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.withdrawWithMarginProof(withdrawal, _marginProofs["marginWithdraw"]);
    }

    function test_margin_withdraw_when_the_arrays_are_stale_then_reverts() public {
        vault.setMarginGate(marginVerifier, 1 hours);
        _publish(looseHash);
        vm.warp(block.timestamp + 1 hours + 1);
        vm.prank(desk);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__StaleRiskArrays.selector, START, 1 hours));
        vault.withdrawWithMarginProof(withdrawal, _marginProofs["marginWithdraw"]);
    }

    function test_margin_withdraw_at_the_arrays_maximum_age_passes() public {
        vault.setMarginGate(marginVerifier, 1 hours);
        _publish(looseHash);
        vm.warp(block.timestamp + 1 hours);
        _withdrawOnMargin(desk, withdrawal, "marginWithdraw");
    }

    function test_margin_withdraw_before_any_arrays_are_published_then_reverts() public {
        _gateOn();
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__NoRiskArrays.selector);
        vault.withdrawWithMarginProof(withdrawal, _marginProofs["marginWithdraw"]);
    }

    function test_margin_withdraw_when_margin_held_is_not_the_escrow_left_then_reverts() public {
        // The proof values the whole escrow held while withdrawing all of it.
        _gatedWithLooseArrays();
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.withdrawWithMarginProof(deposit, _marginProofs["marginAtEscrow"]);
    }

    function test_margin_withdraw_when_the_amount_differs_from_the_proven_one_then_reverts() public {
        _gatedWithLooseArrays();
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.withdrawWithMarginProof(withdrawal - 1, _marginProofs["marginWithdraw"]);
    }

    function test_margin_withdraw_when_the_proof_is_replayed_then_reverts() public {
        _gatedWithLooseArrays();
        _withdrawOnMargin(desk, withdrawal, "marginWithdraw");
        _deposit(desk, withdrawal); // the same escrow again: only the nonce differs
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector);
        vault.withdrawWithMarginProof(withdrawal, _marginProofs["marginWithdraw"]);
    }

    function test_margin_withdraw_while_paused_then_reverts() public {
        _gatedWithLooseArrays();
        vm.prank(guardian);
        vault.pause();
        vm.prank(desk);
        vm.expectRevert(
            abi.encodeWithSelector(
                RiskVault.RiskVault__ExitNotYetOpen.selector, START + vault.MAX_PAUSE_BEFORE_EXIT() + 1
            )
        );
        vault.withdrawWithMarginProof(withdrawal, _marginProofs["marginWithdraw"]);
    }

    // ------------------------------------------------------------ the gate

    function test_health_withdraw_when_the_margin_gate_is_on_then_reverts() public {
        _gatedWithLooseArrays();
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__MarginGateOn.selector);
        vault.withdraw(withdrawal, 1, _proof("withdraw"));
    }

    function test_margin_withdraw_when_the_gate_is_off_then_reverts() public {
        vm.prank(publisher);
        vault.publishRiskArrays(looseHash, collateralValue);
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__MarginGateOff.selector);
        vault.withdrawWithMarginProof(withdrawal, _marginProofs["marginWithdraw"]);
    }

    function test_turning_the_gate_off_restores_the_health_withdrawal() public {
        _gatedWithLooseArrays();
        vm.expectEmit(false, false, false, true, address(vault));
        emit RiskVault.MarginGateSet(address(0), 0);
        vault.setMarginGate(IPortfolioMarginVerifier(address(0)), 0);
        assertFalse(vault.marginGated());
        vm.prank(desk);
        vault.withdraw(withdrawal, 1, _proof("withdraw"));
        assertEq(vault.escrowOf(desk), deposit - withdrawal);
    }

    function test_only_the_risk_arrays_role_publishes_arrays() public {
        bytes32 role = vault.RISK_ARRAYS_ROLE();
        address[2] memory callers = [desk, address(this)]; // a desk, and governance itself
        for (uint256 i; i < callers.length; ++i) {
            vm.prank(callers[i]);
            vm.expectRevert(
                abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, callers[i], role)
            );
            vault.publishRiskArrays(looseHash, collateralValue);
        }
    }

    function test_only_the_risk_admin_sets_the_margin_gate() public {
        bytes32 role = vault.RISK_ADMIN_ROLE();
        address[2] memory callers = [desk, publisher];
        for (uint256 i; i < callers.length; ++i) {
            vm.prank(callers[i]);
            vm.expectRevert(
                abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, callers[i], role)
            );
            vault.setMarginGate(IPortfolioMarginVerifier(address(0)), 0);
        }
    }

    function test_set_margin_gate_with_the_arrays_age_out_of_bounds_then_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__InvalidPolicy.selector, "maxRiskArraysAge"));
        vault.setMarginGate(marginVerifier, 1 hours - 1);
        vm.expectRevert(abi.encodeWithSelector(RiskVault.RiskVault__InvalidPolicy.selector, "maxRiskArraysAge"));
        vault.setMarginGate(marginVerifier, 7 days + 1);
        vault.setMarginGate(marginVerifier, 7 days);
        assertTrue(vault.marginGated());
        assertEq(vault.maxRiskArraysAge(), 7 days, "maxRiskArraysAge");
    }

    function test_publish_risk_arrays_refuses_a_zero_or_unreduced_hash_and_a_zero_value() public {
        uint256[3] memory hashes = [uint256(0), R, looseHash];
        uint64[3] memory values = [collateralValue, collateralValue, 0];
        for (uint256 i; i < 3; ++i) {
            vm.prank(publisher);
            vm.expectRevert(
                abi.encodeWithSelector(RiskVault.RiskVault__InvalidRiskArrays.selector, hashes[i], values[i])
            );
            vault.publishRiskArrays(hashes[i], values[i]);
        }
    }

    function test_each_publication_starts_a_new_epoch_and_emits_it() public {
        vm.expectEmit(true, false, false, true, address(vault));
        emit RiskVault.RiskArraysPublished(1, looseHash, collateralValue, publisher);
        _publish(looseHash);
        vm.warp(block.timestamp + 5);
        _publish(strictHash);
        RiskVault.RiskArrays memory r = vault.riskArrays();
        assertEq(r.epoch, 2, "epoch");
        assertEq(r.hash, strictHash, "hash");
        assertEq(r.publishedAt, START + 5, "publishedAt");
    }

    // ------------------------------------------------------------ the folded verifier

    // A failed pairing precompile burns the gas it is given (both verifiers): cap each call.
    function _stockAccepts(uint256[8] memory w, uint256[39] memory pub) internal view returns (bool) {
        return stock.verifyProof{gas: 3_000_000}([w[0], w[1]], [[w[2], w[3]], [w[4], w[5]]], [w[6], w[7]], pub);
    }

    function _foldedAccepts(uint256[8] memory w, uint256[4] memory pub) internal view returns (bool) {
        return folded.verifyProof{gas: 3_000_000}([w[0], w[1]], [[w[2], w[3]], [w[4], w[5]]], [w[6], w[7]], pub);
    }

    /// @dev The vault's form of a 39-signal public vector: [commitment, key, marginHeld, binding].
    function _vaultForm(uint256[39] memory all) internal view returns (uint256[4] memory pub) {
        uint256[] memory entries = new uint256[](36);
        for (uint256 i; i < 36; ++i) {
            entries[i] = all[3 + i];
        }
        pub = [all[0], folded.keyOf(entries), all[1], all[2]];
    }

    function test_folded_verifier_accepts_exactly_what_the_stock_verifier_accepts() public view {
        for (uint256 n; n < MARGIN_PROOFS.length; ++n) {
            string memory name = MARGIN_PROOFS[n];
            uint256[8] memory w = _marginProofs[name];
            uint256[39] memory all = _stockPublics[name];
            assertTrue(_stockAccepts(w, all), "stock rejects a real proof");
            assertTrue(_foldedAccepts(w, _vaultForm(all)), "folded rejects a real proof");
            assertEq(keccak256(abi.encode(_vaultForm(all))), keccak256(abi.encode(_marginPublics[name])), "vault form");
            // every per-proof input and every proof word, one at a time, off by one
            for (uint256 i; i < 3; ++i) {
                uint256[39] memory bad = all;
                bad[i] += 1;
                assertTrue(!_stockAccepts(w, bad), "stock accepts a tampered input");
                assertTrue(!_foldedAccepts(w, _vaultForm(bad)), "folded accepts a tampered input");
            }
            for (uint256 i; i < 8; ++i) {
                uint256[8] memory forged = w;
                forged[i] += 1;
                assertTrue(_foldedAccepts(forged, _vaultForm(all)) == _stockAccepts(forged, all), "verdicts differ");
                assertTrue(!_stockAccepts(forged, all), "a tampered proof verifies");
            }
        }
    }

    function test_folded_verifier_rejects_per_proof_inputs_aliased_past_the_field() public view {
        uint256[8] memory w = _marginProofs["marginWithdraw"];
        uint256[4] memory pub = _vaultForm(_stockPublics["marginWithdraw"]);
        uint256[3] memory slots = [uint256(0), 2, 3]; // commitment, marginHeld, binding
        for (uint256 i; i < 3; ++i) {
            uint256[4] memory aliased = pub;
            aliased[slots[i]] += R; // the same field element: the pairing alone would accept it
            assertTrue(!_foldedAccepts(w, aliased), "an input >= r verifies");
        }
    }

    function test_folded_verifier_rejects_a_proof_against_different_arrays() public view {
        uint256[8] memory w = _marginProofs["marginWithdraw"];
        uint256[39] memory all = _stockPublics["marginWithdraw"];
        uint256[4] memory pub = _vaultForm(all);
        pub[1] = strictHash; // the same proof, the strict arrays' key
        assertTrue(!_foldedAccepts(w, pub), "folded accepts the loose proof on strict arrays");
        for (uint256 i; i < 36; ++i) {
            all[3 + i] = strictEntries[i];
        }
        assertTrue(!_stockAccepts(w, all), "stock accepts the loose proof on strict arrays");
        pub[1] = looseHash + 1; // a key nothing was folded under
        assertTrue(!_foldedAccepts(w, pub), "folded accepts an unknown key");
    }

    function test_fold_refuses_an_entry_outside_its_column_range_with_its_index() public {
        uint256[] memory e = looseEntries;
        e[0] = 1 << 63; // a minimum: < 2^63
        vm.expectRevert(
            abi.encodeWithSelector(Margin4x8ArraysVerifier.FoldedVerifier__EntryOutOfRange.selector, 0, 1 << 63, 63)
        );
        folded.fold(e, bases);
        e[0] = (1 << 63) - 1;
        e[10] = 1 << 64; // row 1, column 1 (rows of 9): a P&L entry, < 2^64
        vm.expectRevert(
            abi.encodeWithSelector(Margin4x8ArraysVerifier.FoldedVerifier__EntryOutOfRange.selector, 10, 1 << 64, 64)
        );
        folded.fold(e, bases);
        e[10] = type(uint256).max - 1; // p − 2 style aliases are out of range too
        vm.expectRevert(
            abi.encodeWithSelector(
                Margin4x8ArraysVerifier.FoldedVerifier__EntryOutOfRange.selector, 10, type(uint256).max - 1, 64
            )
        );
        folded.fold(e, bases);
        e[10] = (1 << 64) - 1; // both at their widest: accepted
        uint256 key = folded.fold(e, bases);
        assertTrue(folded.folded(key), "widest entries folded");
    }

    function test_fold_refuses_bases_that_are_not_the_circuits_and_wrong_lengths() public {
        uint256[] memory b = bases;
        b[0] += 1;
        vm.expectRevert(Margin4x8ArraysVerifier.FoldedVerifier__WrongBases.selector);
        folded.fold(looseEntries, b);
        uint256[] memory short_ = new uint256[](35);
        vm.expectRevert(abi.encodeWithSelector(Margin4x8ArraysVerifier.FoldedVerifier__WrongLength.selector, 35, 36));
        folded.fold(short_, bases);
    }

    function test_margin_withdraw_against_arrays_the_verifier_never_folded_then_reverts() public {
        Margin4x8ArraysVerifier fresh = new Margin4x8ArraysVerifier(); // nothing folded
        vault.setMarginGate(IPortfolioMarginVerifier(address(fresh)), ARRAYS_AGE);
        _publish(looseHash);
        vm.prank(desk);
        vm.expectRevert(RiskVault.RiskVault__InvalidProof.selector); // fail closed
        vault.withdrawWithMarginProof(withdrawal, _marginProofs["marginWithdraw"]);
        fresh.fold(looseEntries, bases); // anyone may fold the published entries
        _withdrawOnMargin(desk, withdrawal, "marginWithdraw");
        assertEq(vault.escrowOf(desk), deposit - withdrawal);
    }

    function test_gas_of_folding_the_risk_arrays_is_recorded() public {
        uint256[] memory e = looseEntries;
        e[1] += 1; // a fresh key (fresh storage, as a new publication)
        uint256 before = gasleft();
        folded.fold(e, bases);
        emit log_named_uint("fold 36 entries (execution gas)", before - gasleft());
    }

    // ------------------------------------------------------------ gas

    function test_gas_of_a_margin_withdraw_is_within_the_withdraw_target() public {
        _gatedWithLooseArrays();
        bytes memory data =
            abi.encodeCall(RiskVault.withdrawWithMarginProof, (withdrawal, _marginProofs["marginWithdraw"]));
        vm.prank(desk);
        uint256 before = gasleft();
        (bool ok,) = address(vault).call(data);
        uint256 total = 21_000 + before - gasleft();
        assertTrue(ok, "margin withdraw reverted");
        for (uint256 i; i < data.length; ++i) {
            total += data[i] == 0 ? 4 : 16;
        }
        emit log_named_uint("withdrawWithMarginProof (tx gas)", total);
        assertLe(total, WITHDRAW_TARGET, "withdrawWithMarginProof gas");
    }

    event log_named_uint(string key, uint256 val);
}
