// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ZkTest} from "./utils/ZkTest.sol";
import {VaultFixture} from "./utils/VaultFixture.sol";
import {RiskVault} from "../src/RiskVault.sol";
import {PriceBook} from "../src/PriceBook.sol";
import {IPriceBook} from "../src/interfaces/IPriceBook.sol";
import {MockAggregator} from "../src/mocks/MockAggregator.sol";
import {MockERC20} from "../src/mocks/MockERC20.sol";

/// @notice Drives the vault with random sequences of deposits, forged and real proofs, stale
///         liquidations, price crashes, snapshots and time jumps, and records in ghost variables
///         anything that must never happen.
contract VaultHandler is ZkTest {
    RiskVault internal immutable vault;
    PriceBook internal immutable book;
    MockERC20 internal immutable margin;
    MockAggregator[] internal feeds;
    uint256[] internal crashAnswers;
    address internal immutable desk;
    address internal immutable keeper;
    address[] public actors;
    uint256 internal immutable withdrawal;
    uint256[8] internal withdrawProof;
    uint256[8] internal liquidateProof;
    uint256[8] internal liquidateAfterWithdrawProof;

    // Ghosts: what must stay 0 / bounded.
    uint256 public forgedSuccesses;
    uint256 public staleUses;
    uint256 public supersededDeskUses;
    uint256 public unjustifiedStaleLiquidations;
    uint256 public realWithdrawals;
    uint256 public realLiquidations;
    mapping(address account => uint256 accepted) public nonceConsumingActions;

    constructor(
        RiskVault vault_,
        PriceBook book_,
        MockERC20 margin_,
        MockAggregator[] memory feeds_,
        uint256[] memory crashAnswers_,
        address[] memory actors_,
        uint256 withdrawal_,
        uint256[8][3] memory proofs
    ) {
        (vault, book, margin) = (vault_, book_, margin_);
        feeds = feeds_;
        crashAnswers = crashAnswers_;
        actors = actors_;
        (desk, keeper) = (actors_[0], address(0xBEE9));
        withdrawal = withdrawal_;
        (withdrawProof, liquidateProof, liquidateAfterWithdrawProof) = (proofs[0], proofs[1], proofs[2]);
        nonceConsumingActions[desk] = 1; // the commit in setUp
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function deposit(uint256 actorSeed, uint256 amount) external {
        address who = actors[actorSeed % actors.length];
        amount = bound(amount, 1, 1e12);
        margin.mint(who, amount);
        vm.startPrank(who);
        margin.approve(address(vault), amount);
        try vault.deposit(amount) {} catch {}
        vm.stopPrank();
    }

    /// A real proof with one word replaced, for any actor, amount and snapshot.
    function withdrawForged(uint256 actorSeed, uint256 amount, uint256 snapshotId, uint256 seed) external {
        address who = actors[actorSeed % actors.length];
        uint256[8] memory proof = _forge(withdrawProof, seed);
        vm.prank(who);
        try vault.withdraw(bound(amount, 1, 1e12), bound(snapshotId, 0, 3), proof) {
            forgedSuccesses++;
        } catch {}
    }

    /// The real withdraw proof, but for another account or another amount.
    function withdrawMisused(uint256 actorSeed, uint256 amount) external {
        address who = actors[actorSeed % actors.length];
        amount = bound(amount, 1, 1e12);
        if (who == desk && amount == withdrawal) return;
        vm.prank(who);
        try vault.withdraw(amount, 1, withdrawProof) {
            forgedSuccesses++;
        } catch {}
    }

    function liquidateForged(uint256 actorSeed, uint256 snapshotId, uint256 seed) external {
        address who = actors[actorSeed % actors.length];
        uint256[8] memory proof = _forge(liquidateProof, seed);
        vm.prank(keeper);
        try vault.liquidate(who, bound(snapshotId, 0, 3), proof) {
            forgedSuccesses++;
        } catch {}
    }

    function withdrawReal() external {
        (bool fresh,) = _fresh(1);
        bool latest = book.latestSnapshotId() == 1;
        vm.prank(desk);
        try vault.withdraw(withdrawal, 1, withdrawProof) {
            realWithdrawals++;
            nonceConsumingActions[desk]++;
            if (!fresh) staleUses++;
            if (!latest) supersededDeskUses++;
        } catch {}
    }

    function liquidateReal(bool afterWithdraw) external {
        (bool fresh,) = _fresh(2);
        vm.prank(keeper);
        try vault.liquidate(desk, 2, afterWithdraw ? liquidateAfterWithdrawProof : liquidateProof) {
            realLiquidations++;
            nonceConsumingActions[desk]++;
            if (!fresh) staleUses++;
        } catch {}
    }

    function liquidateStale(uint256 actorSeed) external {
        address who = actors[actorSeed % actors.length];
        RiskVault.AccountState memory s = vault.accountState(who);
        (, IPriceBook.Snapshot memory latest) = book.latestSnapshot();
        uint256 clock = s.lastProofAt > vault.provingResumedAt() ? s.lastProofAt : vault.provingResumedAt();
        bool stale = latest.takenAt > clock + vault.policy().maxProofAge;
        vm.prank(keeper);
        try vault.liquidateStale(who) {
            nonceConsumingActions[who]++;
            if (!stale || s.commitment == 0) unjustifiedStaleLiquidations++;
        } catch {}
    }

    /// Snapshot 2 is the crash the liquidation proofs were made for.
    function crash() external {
        if (book.latestSnapshotId() != 1) return;
        for (uint256 i; i < crashAnswers.length; ++i) {
            feeds[i].setAnswer(int256(crashAnswers[i]));
        }
        try book.takeSnapshot() {} catch {}
    }

    function refreshFeedsAndSnapshot() external {
        if (book.latestSnapshotId() < 2) return; // keep ids 1 and 2 for the real proofs
        for (uint256 i; i < feeds.length; ++i) {
            (, int256 answer,,,) = feeds[i].latestRoundData();
            feeds[i].setAnswer(answer);
        }
        try book.takeSnapshot() {} catch {}
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 0, 2 days));
    }

    function _fresh(uint256 snapshotId) internal view returns (bool fresh, IPriceBook.Snapshot memory s) {
        s = book.snapshot(snapshotId);
        fresh = s.takenAt != 0 && block.timestamp <= s.oldestPriceAt + vault.policy().maxPriceAge;
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

    function setUp() public override {
        super.setUp();
        _commitDesk();
        address[] memory actors = new address[](3);
        (actors[0], actors[1], actors[2]) = (desk, address(0xA1), address(0xB2));
        uint256[8][3] memory proofs = [_proof("withdraw"), _proof("liquidate"), _proof("liquidateAfterWithdraw")];
        handler = new VaultHandler(
            vault, book, margin, feeds, crashAnswers, actors, withdrawal, proofs
        );
    }

    /// @dev forge-std's StdInvariant selector: fuzz only the handler.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function invariant_escrow_is_conserved() public view {
        uint256 sum;
        for (uint256 i; i < handler.actorCount(); ++i) {
            sum += vault.escrowOf(handler.actors(i));
        }
        assertEq(sum, margin.balanceOf(address(vault)), "sum of escrows == vault token balance");
    }

    function invariant_no_withdrawal_or_liquidation_without_a_valid_proof() public view {
        assertEq(handler.forgedSuccesses(), 0, "a forged or misused proof moved money");
        assertEq(handler.unjustifiedStaleLiquidations(), 0, "a fresh account was liquidated without proof");
    }

    function invariant_no_stale_price_is_used() public view {
        assertEq(handler.staleUses(), 0, "a proof was accepted at a snapshot with a stale price");
        assertEq(handler.supersededDeskUses(), 0, "a desk proved health at superseded prices");
    }

    function invariant_no_nonce_is_reused() public view {
        assertLe(handler.realWithdrawals(), 1, "the withdraw proof was accepted twice");
        assertLe(handler.realLiquidations(), 2, "more liquidations than liquidation proofs");
        for (uint256 i; i < handler.actorCount(); ++i) {
            address a = handler.actors(i);
            assertEq(vault.nonceOf(a), handler.nonceConsumingActions(a), "nonce == accepted actions");
        }
    }
}
