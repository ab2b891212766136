// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ZkTest} from "./utils/ZkTest.sol";
import {VaultFixture} from "./utils/VaultFixture.sol";
import {RiskVault} from "../src/RiskVault.sol";
import {PriceBook} from "../src/PriceBook.sol";
import {IPriceBook} from "../src/interfaces/IPriceBook.sol";
import {MockAggregator} from "../src/mocks/MockAggregator.sol";
import {MockERC20} from "../src/mocks/MockERC20.sol";
import {BlocklistERC20} from "../src/mocks/BlocklistERC20.sol";

/// @notice Aave v3-style handler: random sequences of deposits, attested and forged books, real
///         and forged proofs (withdrawals, liquidations, empty-book swaps), stale liquidations,
///         crashes, recoveries, time jumps, the beneficiary's claims and the token issuer
///         blocklisting it. Ghost variables record what must never happen.
contract VaultHandler is ZkTest {
    RiskVault internal immutable vault;
    PriceBook internal immutable book;
    MockERC20 internal immutable margin;
    MockAggregator[] internal feeds;
    MockAggregator[] internal secondaries;
    uint256[] internal calmAnswers;
    uint256[] internal crashAnswers;
    address internal immutable desk;
    address internal immutable keeper;
    address internal immutable beneficiary;
    address internal constant TREASURY = address(0x7EA5); // the beneficiary's other address
    uint256 internal immutable attesterKey;
    address[] public actors;
    uint256[3] internal commitments; // book, rebalanced, empty
    uint256 internal immutable bookCommitment;
    uint256 internal immutable withdrawal;
    uint256 internal immutable deposit;
    uint256[2] internal keeperMargins;
    mapping(string name => uint256[8]) internal proofs;

    // Ghosts.
    uint256 public attestedCommitment; // what the real attester last signed for the desk
    uint256 public withdrawalsWithoutAttestedBook;
    uint256 public liquidationsOfHealthyBooks;
    uint256 public unjustifiedStaleLiquidations;
    uint256 public forgedSuccesses;
    uint256 public crashTakenAt; // 0 = no crash snapshot yet (snapshot 2 is the crash)
    uint256 public credited; // Σ repay credited to the beneficiary (owed before → after)
    uint256 public claimed; // Σ paid out by its claims
    uint256 public liquidationsStoppedByThePayee; // a liquidation reverted by the payee's blocklist
    uint256 public calls;

    constructor(
        VaultFixture fx,
        RiskVault vault_,
        PriceBook book_,
        MockERC20 margin_,
        address[] memory actors_,
        uint256[] memory answers,
        uint256[3] memory commitments_,
        uint256[5] memory amounts
    ) {
        (vault, book, margin) = (vault_, book_, margin_);
        actors = actors_;
        (desk, keeper) = (actors_[0], actors_[1]);
        beneficiary = vault_.beneficiary();
        attesterKey = amounts[0];
        (withdrawal, deposit) = (amounts[1], amounts[2]);
        keeperMargins = [amounts[3], amounts[4]];
        commitments = commitments_;
        bookCommitment = commitments_[0];
        attestedCommitment = commitments_[0];
        uint256 n = answers.length / 2;
        for (uint256 i; i < n; ++i) {
            calmAnswers.push(answers[i]);
            crashAnswers.push(answers[n + i]);
        }
        fx; // feeds are set by the test through setFeeds
    }

    function setFeeds(MockAggregator[] memory f, MockAggregator[] memory g) external {
        feeds = f;
        secondaries = g;
    }

    function setProof(string memory name, uint256[8] memory proof) external {
        proofs[name] = proof;
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    // ------------------------------------------------ actions

    function deposit_(uint256 actorSeed, uint256 amount) external {
        calls++;
        address who = actors[actorSeed % actors.length];
        amount = bound(amount, 1, 1e12);
        margin.mint(who, amount);
        vm.startPrank(who);
        margin.approve(address(vault), amount);
        try vault.deposit(amount) {} catch {}
        vm.stopPrank();
    }

    /// The attester (or, with `forge`, the desk's own key) signs one of the three books.
    function submitBook(uint256 which, bool forge) external {
        calls++;
        which = which % 3;
        RiskVault.BookAttestation memory att = RiskVault.BookAttestation({
            account: desk,
            commitment: commitments[which],
            sequence: vault.bookSequence(desk) + 1,
            issuedAt: uint64(block.timestamp)
        });
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(forge ? 0xDE5C : attesterKey, vault.attestationDigest(att));
        vm.prank(keeper);
        try vault.submitAttestedBook(att, abi.encodePacked(r, s, v)) {
            if (!forge) attestedCommitment = commitments[which];
        } catch {}
    }

    /// The desk's real withdrawal proofs: of its real book, and of the empty book (attack 1).
    function withdrawReal(bool empty) external {
        calls++;
        uint256 amount = empty ? deposit : withdrawal;
        vm.prank(desk);
        try vault.withdraw(amount, 1, proofs[empty ? "emptyWithdraw" : "withdraw"]) {
            if (vault.commitmentOf(desk) != attestedCommitment) withdrawalsWithoutAttestedBook++;
        } catch {}
    }

    function withdrawForged(uint256 actorSeed, uint256 amount, uint256 seed) external {
        calls++;
        address who = actors[actorSeed % actors.length];
        vm.prank(who);
        try vault.withdraw(bound(amount, 1, 1e12), bound(seed, 0, 3), _forge(proofs["withdraw"], seed)) {
            forgedSuccesses++;
        } catch {}
    }

    /// The keeper's real proofs (HF < 1, HF < 0.95, and after a withdrawal), sent by anyone.
    function liquidateReal(uint256 which, bool byKeeper) external {
        calls++;
        which = which % 3;
        string memory name = which == 0 ? "liquidate" : which == 1 ? "liquidate95" : "liquidateAfterWithdraw";
        uint16 hf = which == 1 ? 9_500 : 10_000;
        uint256 m = which == 2 ? keeperMargins[1] : keeperMargins[0];
        uint256 owedBefore = vault.owed(beneficiary);
        vm.prank(byKeeper ? keeper : actors[2]);
        try vault.liquidate(desk, 2, m, hf, proofs[name]) {
            credited += vault.owed(beneficiary) - owedBefore;
            if (!byKeeper) forgedSuccesses++;
            // The book is unhealthy only at the crash snapshot; rebalanced and empty books never.
            bool crashInWindow = crashTakenAt != 0 && crashTakenAt + vault.policy().snapshotWindow >= block.timestamp;
            if (vault.commitmentOf(desk) != bookCommitment || !crashInWindow) liquidationsOfHealthyBooks++;
        } catch (bytes memory reason) {
            _noteBlocked(reason);
        }
    }

    function liquidateStale(uint256 actorSeed) external {
        calls++;
        address who = actors[actorSeed % actors.length];
        RiskVault.AccountState memory a = vault.accountState(who);
        uint256 clock = a.lastProofAt;
        if (vault.provingResumedAt() > clock) clock = vault.provingResumedAt();
        // Stale: past its proof deadline and past any grace period (which only postpones a
        // deadline falling inside it, never restarts the clock).
        uint256 grace = book.graceEndsAt();
        bool stale = block.timestamp > clock + vault.policy().maxProofAge && block.timestamp > grace;
        uint256 owedBefore = vault.owed(beneficiary);
        vm.prank(keeper);
        try vault.liquidateStale(who) {
            credited += vault.owed(beneficiary) - owedBefore;
            if (!stale || a.commitment == 0) unjustifiedStaleLiquidations++;
        } catch (bytes memory reason) {
            _noteBlocked(reason);
        }
    }

    /// The beneficiary claims what it is owed, to itself or to its other address.
    function claimOwed(bool toTreasury) external {
        calls++;
        uint256 amount = vault.owed(beneficiary);
        vm.prank(beneficiary);
        try vault.withdrawOwed(toTreasury ? TREASURY : beneficiary) {
            claimed += amount;
        } catch {}
    }

    /// The token's issuer blocks or unblocks the beneficiary.
    function blockBeneficiary(bool isBlocked) external {
        calls++;
        BlocklistERC20(address(margin)).setBlocked(beneficiary, isBlocked);
    }

    /// Snapshot 2 is the crash the keeper's proofs were made for.
    function crash() external {
        calls++;
        if (book.latestSnapshotId() != 1) return;
        _setAnswers(crashAnswers);
        try book.takeSnapshot() {
            crashTakenAt = block.timestamp;
        } catch {}
    }

    function recover() external {
        calls++;
        if (book.latestSnapshotId() < 2) return;
        _setAnswers(calmAnswers);
        try book.takeSnapshot() {} catch {}
    }

    function warp(uint256 seconds_) external {
        calls++;
        vm.warp(block.timestamp + bound(seconds_, 0, 900));
    }

    function warpFar(uint256 seconds_) external {
        calls++;
        vm.warp(block.timestamp + bound(seconds_, 0, 2 days));
    }

    function _noteBlocked(bytes memory reason) internal {
        if (bytes4(reason) == BlocklistERC20.BlocklistERC20__Blocked.selector) liquidationsStoppedByThePayee++;
    }

    function _setAnswers(uint256[] storage answers) internal {
        for (uint256 i; i < answers.length; ++i) {
            feeds[i].setAnswer(int256(answers[i]));
            secondaries[i].setAnswer(int256(answers[i]));
        }
    }

    function _forge(uint256[8] memory proof, uint256 seed) internal pure returns (uint256[8] memory) {
        uint256 index = seed % 8;
        uint256 value = uint256(keccak256(abi.encode(seed)));
        if (value == proof[index]) value ^= 1;
        proof[index] = value;
        return proof;
    }
}

/// @notice Invariants of the vault under the handler (runs and depth in foundry.toml [invariant]).
contract RiskVaultInvariantTest is VaultFixture {
    VaultHandler internal handler;

    /// @dev forge's FuzzSelector (StdInvariant's targetSelectors).
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    /// @dev A margin token with a blocklist (USDC, USDT); the handler blocks the beneficiary.
    function _marginToken(uint8 decimals) internal override returns (MockERC20) {
        return new BlocklistERC20(decimals);
    }

    function setUp() public override {
        super.setUp();
        _commitDesk();
        address[] memory actors = new address[](4);
        (actors[0], actors[1], actors[2], actors[3]) = (desk, keeper, stranger, address(0xB2));
        uint256[] memory answers = new uint256[](calmAnswers.length * 2);
        for (uint256 i; i < calmAnswers.length; ++i) {
            (answers[i], answers[calmAnswers.length + i]) = (calmAnswers[i], crashAnswers[i]);
        }
        handler = new VaultHandler(
            this,
            vault,
            book,
            margin,
            actors,
            answers,
            [commitment, rebalanced, emptyCommitment],
            [attesterKey, withdrawal, deposit, keeperMargin, keeperMarginAfterWithdraw]
        );
        handler.setFeeds(feeds, secondaries);
        string[5] memory names = ["withdraw", "emptyWithdraw", "liquidate", "liquidate95", "liquidateAfterWithdraw"];
        for (uint256 i; i < names.length; ++i) {
            handler.setProof(names[i], _proof(names[i]));
        }
    }

    /// @dev forge-std's StdInvariant selector: fuzz only the handler.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @dev The handler's actions only: not its setup functions (setFeeds, setProof), which a
    ///      fuzzer calling them with random arguments would use to break the feeds for the run.
    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        bytes4[] memory actions = new bytes4[](12);
        actions[0] = VaultHandler.deposit_.selector;
        actions[1] = VaultHandler.submitBook.selector;
        actions[2] = VaultHandler.withdrawReal.selector;
        actions[3] = VaultHandler.withdrawForged.selector;
        actions[4] = VaultHandler.liquidateReal.selector;
        actions[5] = VaultHandler.liquidateStale.selector;
        actions[6] = VaultHandler.crash.selector;
        actions[7] = VaultHandler.recover.selector;
        actions[8] = VaultHandler.warp.selector;
        actions[9] = VaultHandler.warpFar.selector;
        actions[10] = VaultHandler.claimOwed.selector;
        actions[11] = VaultHandler.blockBeneficiary.selector;
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector(address(handler), actions);
    }

    function invariant_no_withdrawal_without_an_attested_book() public view {
        assertEq(handler.withdrawalsWithoutAttestedBook(), 0, "a withdrawal opened a book the attester never signed");
    }

    function invariant_no_liquidation_of_a_book_healthy_at_every_snapshot_in_the_window() public view {
        assertEq(
            handler.liquidationsOfHealthyBooks(), 0, "a book healthy at every snapshot in the window was liquidated"
        );
        assertEq(handler.unjustifiedStaleLiquidations(), 0, "a live account was liquidated without a proof");
    }

    /// Σ escrow + Σ owed ≤ the vault's balance in general (a token sent to it directly); equal
    /// here, where nobody does.
    function invariant_the_vault_holds_every_escrow_and_every_unclaimed_repayment() public view {
        uint256 sum = vault.owed(beneficiary);
        for (uint256 i; i < handler.actorCount(); ++i) {
            sum += vault.escrowOf(handler.actors(i));
        }
        assertEq(sum, margin.balanceOf(address(vault)), "sum of escrows + owed == vault token balance");
    }

    function invariant_owed_is_what_liquidations_credited_less_what_was_claimed() public view {
        assertEq(vault.owed(beneficiary), handler.credited() - handler.claimed(), "owed == credited - claimed");
        assertEq(
            margin.balanceOf(beneficiary) + margin.balanceOf(address(0x7EA5)),
            handler.claimed(),
            "claims paid what was owed"
        );
    }

    function invariant_a_blocklisted_beneficiary_never_stops_a_liquidation() public view {
        assertEq(handler.liquidationsStoppedByThePayee(), 0, "a liquidation reverted on the payee's blocklist");
    }

    function invariant_no_forged_or_stolen_proof_moves_money() public view {
        assertEq(handler.forgedSuccesses(), 0, "a forged or stolen proof moved money");
    }
}
