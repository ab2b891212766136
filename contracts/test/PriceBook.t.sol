// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {VaultFixture} from "./utils/VaultFixture.sol";
import {PriceBook} from "../src/PriceBook.sol";
import {IPriceBook} from "../src/interfaces/IPriceBook.sol";
import {AggregatorV3Interface} from "../src/interfaces/AggregatorV3Interface.sol";
import {MockAggregator} from "../src/mocks/MockAggregator.sol";
import {MockERC20} from "../src/mocks/MockERC20.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

/// @notice PriceBook: Chainlink checks, scaling, and snapshot hashes equal to the engine's.
contract PriceBookTest is VaultFixture {
    // setUp (VaultFixture) already took snapshot 1 at CALM prices and checked its hash against
    // the engine's; these tests start from there.

    function test_takeSnapshot_when_feeds_are_fresh_then_hash_equals_the_engines() public {
        IPriceBook.Snapshot memory s = book.snapshot(1);
        assertEq(s.hash, calmHash);
        assertEq(s.takenAt, START);
        assertEq(s.oldestPriceAt, START);
        assertEq(book.latestSnapshotId(), 1);
        _crash(); // asserts snapshot 2's hash against the engine's too
    }

    function test_takeSnapshot_scales_an_18_decimal_feed_to_8_decimals() public view {
        assertEq(calmPrices[1], 3_000e8, "WETH's 18-decimal answer as an 8-decimal price");
        (uint256[] memory prices, uint256[] memory thresholds) = _calmPadded();
        assertEq(book.snapshotHashOf(1, prices, thresholds), book.snapshot(1).hash);
    }

    function test_takeSnapshot_emits_prices_and_thresholds() public {
        (uint256[] memory prices, uint256[] memory thresholds) = _calmPadded();
        vm.warp(block.timestamp + 5);
        uint256 hash = book.snapshotHashOf(2, prices, thresholds);
        vm.expectEmit(true, false, false, true, address(book));
        emit PriceBook.SnapshotTaken(2, hash, uint64(block.timestamp), uint64(START), prices, thresholds);
        book.takeSnapshot();
    }

    function test_takeSnapshot_when_a_price_is_stale_then_reverts() public {
        uint256 maxAge = book.maxPriceAge();
        vm.warp(START + maxAge + 1);
        vm.expectRevert(abi.encodeWithSelector(PriceBook.PriceBook__StalePrice.selector, 0, START, maxAge));
        book.takeSnapshot();
    }

    function test_takeSnapshot_at_exactly_max_age_then_succeeds() public {
        vm.warp(START + book.maxPriceAge());
        (uint64 id,) = book.takeSnapshot();
        assertEq(id, 2);
        assertEq(book.snapshot(2).oldestPriceAt, START);
    }

    function test_takeSnapshot_when_answer_is_zero_then_reverts() public {
        feeds[1].setAnswer(0);
        vm.expectRevert(abi.encodeWithSelector(PriceBook.PriceBook__NonPositivePrice.selector, 1, int256(0)));
        book.takeSnapshot();
    }

    function test_takeSnapshot_when_answer_is_negative_then_reverts() public {
        feeds[2].setAnswer(-1);
        vm.expectRevert(abi.encodeWithSelector(PriceBook.PriceBook__NonPositivePrice.selector, 2, int256(-1)));
        book.takeSnapshot();
    }

    function test_takeSnapshot_when_answer_scales_to_zero_then_reverts() public {
        feeds[1].setAnswer(1e9); // 18-decimal feed: 1e-9 USD is 0 at 8 decimals
        vm.expectRevert(abi.encodeWithSelector(PriceBook.PriceBook__NonPositivePrice.selector, 1, int256(1e9)));
        book.takeSnapshot();
    }

    function test_takeSnapshot_when_round_is_answered_in_an_earlier_round_then_reverts() public {
        feeds[0].setRound(7, 1e8, block.timestamp, block.timestamp, 6);
        vm.expectRevert(abi.encodeWithSelector(PriceBook.PriceBook__IncompleteRound.selector, 0, 7, 6, block.timestamp));
        book.takeSnapshot();
    }

    function test_takeSnapshot_when_round_has_no_update_time_then_reverts() public {
        feeds[0].setRound(7, 1e8, block.timestamp, 0, 7);
        vm.expectRevert(abi.encodeWithSelector(PriceBook.PriceBook__IncompleteRound.selector, 0, 7, 7, 0));
        book.takeSnapshot();
    }

    function test_takeSnapshot_when_update_time_is_in_the_future_then_reverts() public {
        feeds[0].setRound(7, 1e8, block.timestamp, block.timestamp + 1, 7);
        vm.expectRevert(abi.encodeWithSelector(PriceBook.PriceBook__FuturePrice.selector, 0, block.timestamp + 1));
        book.takeSnapshot();
    }

    function test_takeSnapshot_when_price_exceeds_price_bits_then_reverts() public {
        feeds[2].setAnswer(int256(uint256(1) << 64)); // 8-decimal feed: taken as is, ≥ 2^64
        vm.expectRevert(
            abi.encodeWithSelector(PriceBook.PriceBook__PriceOutOfRange.selector, 2, int256(uint256(1) << 64))
        );
        book.takeSnapshot();
    }

    function test_takeSnapshot_when_nothing_is_listed_then_reverts() public {
        PriceBook empty = new PriceBook(4, poseidon, admin, 60);
        vm.expectRevert(PriceBook.PriceBook__NoAssets.selector);
        empty.takeSnapshot();
    }

    function test_takeSnapshot_records_the_oldest_price_time() public {
        vm.warp(START + 100);
        feeds[0].setAnswer(1e8);
        feeds[2].setAnswer(50_000e8);
        book.takeSnapshot();
        assertEq(book.snapshot(2).oldestPriceAt, START, "WETH still from START");
        assertEq(book.snapshot(2).takenAt, START + 100);
    }

    function test_setLiquidationThreshold_changes_the_next_snapshot_hash() public {
        uint256 before = book.snapshot(1).hash;
        book.setLiquidationThreshold(1, 8_000);
        vm.warp(block.timestamp + 1);
        book.takeSnapshot();
        (uint256[] memory prices, uint256[] memory thresholds) = _calmPadded();
        thresholds[1] = 8_000;
        assertEq(book.snapshot(2).hash, book.snapshotHashOf(2, prices, thresholds));
        assertTrue(book.snapshot(2).hash != before);
    }

    function test_setFeed_replaces_the_feed_and_its_decimals() public {
        MockAggregator feed = new MockAggregator(6, "ETH / USD (6)");
        feed.setAnswer(3_000e6);
        book.setFeed(1, feed);
        (, address current,, uint8 decimals) = book.listing(1);
        assertEq(current, address(feed));
        assertEq(decimals, 6);
        vm.warp(block.timestamp + 1);
        book.takeSnapshot();
        assertEq(book.snapshot(2).hash, book.snapshotHashOf(2, calmPrices, lts), "same USD prices, new feed");
    }

    function test_listAsset_when_slots_are_full_then_reverts() public {
        book.listAsset(address(new MockERC20("D", "D", 18)), feeds[0], 5_000);
        MockERC20 fifth = new MockERC20("E", "E", 18);
        vm.expectRevert(abi.encodeWithSelector(PriceBook.PriceBook__SlotsFull.selector, 4));
        book.listAsset(address(fifth), feeds[0], 5_000);
    }

    function test_listAsset_when_token_is_listed_then_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(PriceBook.PriceBook__AlreadyListed.selector, address(margin), 0));
        book.listAsset(address(margin), feeds[0], 5_000);
    }

    function test_listAsset_when_threshold_exceeds_10000_then_reverts() public {
        MockERC20 token = new MockERC20("D", "D", 18);
        vm.expectRevert(abi.encodeWithSelector(PriceBook.PriceBook__InvalidLiquidationThreshold.selector, 10_001));
        book.listAsset(address(token), feeds[0], 10_001);
    }

    function test_listAsset_when_feed_has_more_than_36_decimals_then_reverts() public {
        MockAggregator feed = new MockAggregator(37, "too precise");
        MockERC20 token = new MockERC20("D", "D", 18);
        vm.expectRevert(abi.encodeWithSelector(PriceBook.PriceBook__UnsupportedDecimals.selector, 37));
        book.listAsset(address(token), feed, 5_000);
    }

    function test_admin_functions_when_caller_lacks_the_role_then_revert() public {
        bytes32 role = book.ORACLE_ADMIN_ROLE();
        bytes memory denied =
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role);
        vm.startPrank(stranger);
        vm.expectRevert(denied);
        book.listAsset(address(1), feeds[0], 1);
        vm.expectRevert(denied);
        book.setFeed(0, feeds[1]);
        vm.expectRevert(denied);
        book.setLiquidationThreshold(0, 1);
        vm.expectRevert(denied);
        book.setMaxPriceAge(1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, book.DEFAULT_ADMIN_ROLE()
            )
        );
        book.grantRole(role, stranger);
        vm.stopPrank();
    }

    function testFuzz_takeSnapshot_scales_any_feed_decimals_to_8(uint8 decimals, uint256 answer) public {
        decimals = uint8(bound(decimals, 0, 36));
        answer = bound(answer, 1, uint256(type(int256).max));
        MockAggregator feed = new MockAggregator(decimals, "fuzz");
        feed.setAnswer(int256(answer));
        book.setFeed(2, feed);
        bool fits;
        uint256 expected;
        if (decimals >= 8) {
            expected = answer / 10 ** (decimals - 8);
            fits = expected > 0 && expected < (uint256(1) << 64);
        } else {
            fits = answer <= ((uint256(1) << 64) - 1) / 10 ** (8 - decimals);
            if (fits) expected = answer * 10 ** (8 - decimals);
        }
        if (!fits) {
            vm.expectRevert();
            book.takeSnapshot();
            return;
        }
        book.takeSnapshot();
        uint256[] memory prices = calmPrices;
        prices[2] = expected;
        assertEq(book.snapshot(2).hash, book.snapshotHashOf(2, prices, lts));
    }

    function testFuzz_takeSnapshot_when_any_price_is_older_than_max_age_then_reverts(uint8 slot, uint256 age)
        public
    {
        slot = uint8(bound(slot, 0, 2));
        uint256 maxAge = book.maxPriceAge();
        age = bound(age, maxAge + 1, 10 * 365 days);
        vm.warp(START + age);
        for (uint256 i; i < 3; ++i) {
            (, int256 answer,,,) = feeds[i].latestRoundData();
            if (i != slot) feeds[i].setAnswer(answer);
        }
        vm.expectRevert(abi.encodeWithSelector(PriceBook.PriceBook__StalePrice.selector, slot, START, maxAge));
        book.takeSnapshot();
    }

    function testFuzz_snapshotHashOf_changes_when_any_price_or_threshold_changes(
        uint8 slot,
        uint64 price,
        uint16 lt,
        bool changeThreshold
    ) public {
        slot = uint8(bound(slot, 0, 3));
        (uint256[] memory prices, uint256[] memory thresholds) = _calmPadded();
        if (changeThreshold) {
            vm.assume(lt != thresholds[slot]);
            thresholds[slot] = lt;
        } else {
            vm.assume(price != prices[slot]);
            prices[slot] = price;
        }
        assertTrue(book.snapshotHashOf(1, prices, thresholds) != calmHash, "an injective packing + Poseidon");
    }

    /// @dev CALM prices and thresholds padded to the 4 slots (slot 3 unlisted: 0, 0).
    function _calmPadded() internal view returns (uint256[] memory prices, uint256[] memory thresholds) {
        prices = new uint256[](4);
        thresholds = new uint256[](4);
        for (uint256 i; i < 3; ++i) {
            (prices[i], thresholds[i]) = (calmPrices[i], lts[i]);
        }
    }
}
