// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {PriceBookFixture} from "./PriceBookFixture.t.sol";
import {PriceBook} from "../src/PriceBook.sol";
import {IPriceBook} from "../src/interfaces/IPriceBook.sol";
import {AggregatorV3Interface} from "../src/interfaces/AggregatorV3Interface.sol";
import {MockAggregator} from "../src/mocks/MockAggregator.sol";
import {MockERC20} from "../src/mocks/MockERC20.sol";

/// @notice PriceBook: snapshot hashes equal to the engine's, the event layout, scaling, listings.
contract PriceBookTest is PriceBookFixture {
    function test_takeSnapshot_when_feeds_are_fresh_then_hash_equals_the_engines() public view {
        IPriceBook.Snapshot memory s = book.snapshot(1);
        assertEq(s.hash, ENGINE_CALM_HASH_1);
        assertEq(s.takenAt, START);
        assertEq(s.oldestPriceAt, START);
        assertFalse(s.degraded);
        assertEq(book.latestSnapshotId(), 1);
        (uint64 id, IPriceBook.Snapshot memory latest) = book.latestSnapshot();
        assertEq(id, 1);
        assertEq(latest.hash, s.hash);
    }

    function test_snapshotHashOf_equals_the_engines_hash_of_other_prices() public view {
        uint256[] memory prices = new uint256[](3);
        uint256[] memory lts = new uint256[](3);
        (prices[0], prices[1], prices[2]) = (99_950_000, 298_712_345_678, 6_123_400_000_000);
        (lts[0], lts[1], lts[2]) = (9_000, 8_250, 7_800);
        assertEq(book.snapshotHashOf(7, prices, lts), ENGINE_HASH_7);
    }

    function test_takeSnapshot_scales_an_18_decimal_feed_to_8_decimals() public view {
        (uint256 price, uint64 updatedAt, bool degraded, PriceBook.FeedStatus p, PriceBook.FeedStatus s) =
            book.readPrice(1);
        assertEq(price, 3_000e8, "WETH's 18-decimal answer as an 8-decimal price");
        assertEq(updatedAt, START);
        assertFalse(degraded);
        assertTrue(p == PriceBook.FeedStatus.Valid && s == PriceBook.FeedStatus.Valid);
    }

    function test_takeSnapshot_emits_prices_thresholds_and_degraded_last() public {
        (uint256[] memory prices, uint256[] memory lts) = _calm();
        vm.warp(block.timestamp + INTERVAL);
        uint256 hash = book.snapshotHashOf(2, prices, lts);
        vm.expectEmit(true, false, false, true, address(book));
        emit PriceBook.SnapshotTaken(2, hash, uint64(block.timestamp), uint64(START), prices, lts, false);
        book.takeSnapshot();
    }

    function test_takeSnapshot_records_the_oldest_price_time() public {
        vm.warp(START + 100);
        wethFeed.setAnswer(3_000e18);
        _setPyth(3_000e8, -8);
        wbtcFeed.setAnswer(60_000e8);
        (uint64 id,) = book.takeSnapshot();
        assertEq(book.snapshot(id).oldestPriceAt, START, "USDC and the WBTC backup still from START");
        assertEq(book.snapshot(id).takenAt, START + 100);
    }

    function test_takeSnapshot_when_nothing_is_listed_then_reverts() public {
        address[] memory none = new address[](0);
        PriceBook empty = new PriceBook(4, poseidon, admin, 0, _l1Liveness(), none, new PriceBook.AssetConfig[](0));
        vm.expectRevert(PriceBook.PriceBook__NoAssets.selector);
        empty.takeSnapshot();
    }

    function test_setAssetConfig_changes_the_next_snapshot_hash() public {
        PriceBook.AssetConfig memory c = _wethConfig();
        c.liquidationThresholdBps = 8_000;
        book.setAssetConfig(1, c);
        uint64 id = _snapshotAfter(INTERVAL);
        (uint256[] memory prices, uint256[] memory lts) = _calm();
        lts[1] = 8_000;
        assertEq(book.snapshot(id).hash, book.snapshotHashOf(id, prices, lts));
    }

    function test_setAssetConfig_replaces_the_feed_and_reads_its_decimals() public {
        MockAggregator feed = new MockAggregator(6, "ETH / USD (6)");
        feed.setAnswer(3_000e6);
        PriceBook.AssetConfig memory c = _wethConfig();
        c.primary = feed;
        vm.expectEmit(true, false, false, true, address(book));
        emit PriceBook.AssetConfigChanged(1, c);
        book.setAssetConfig(1, c);
        (address token, PriceBook.AssetConfig memory stored, uint8 primaryDecimals, uint8 secondaryDecimals) =
            book.listing(1);
        assertEq(token, address(weth));
        assertEq(address(stored.primary), address(feed));
        assertEq(primaryDecimals, 6);
        assertEq(secondaryDecimals, 8, "Pyth expo -8");
        uint64 id = _snapshotAfter(INTERVAL);
        _assertPrice(id, 1, 3_000e8);
        assertFalse(book.snapshot(id).degraded);
    }

    function test_setAssetConfig_when_slot_is_not_listed_then_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(PriceBook.PriceBook__UnknownSlot.selector, 3));
        book.setAssetConfig(3, _wethConfig());
    }

    function test_listAsset_fills_the_next_slot_and_emits() public {
        MockERC20 token = new MockERC20("D", "D", 18);
        PriceBook.AssetConfig memory c = _wbtcConfig();
        vm.expectEmit(true, true, false, true, address(book));
        emit PriceBook.AssetListed(3, address(token), c);
        assertEq(book.listAsset(address(token), c), 3);
        assertEq(book.assetCount(), 4);
        assertEq(book.tokenAt(3), address(token));
    }

    function test_listAsset_when_slots_are_full_then_reverts() public {
        book.listAsset(address(new MockERC20("D", "D", 18)), _wbtcConfig());
        MockERC20 fifth = new MockERC20("E", "E", 18);
        vm.expectRevert(abi.encodeWithSelector(PriceBook.PriceBook__SlotsFull.selector, 4));
        book.listAsset(address(fifth), _wbtcConfig());
    }

    function test_listAsset_when_token_is_listed_then_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(PriceBook.PriceBook__AlreadyListed.selector, address(usdc), 0));
        book.listAsset(address(usdc), _usdcConfig());
    }

    function test_listAsset_when_token_is_zero_then_reverts() public {
        vm.expectRevert(PriceBook.PriceBook__ZeroAddress.selector);
        book.listAsset(address(0), _usdcConfig());
    }

    function test_tokenAt_when_slot_is_not_listed_then_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(PriceBook.PriceBook__UnknownSlot.selector, 3));
        book.tokenAt(3);
    }

    /// @dev Any feed decimals 0..36, any positive answer: the 8-decimal price is the answer
    ///      rescaled (rounded down), or the asset is refused when that leaves [minAnswer, maxAnswer].
    function testFuzz_takeSnapshot_scales_any_feed_decimals_to_8(uint8 decimals, uint256 answer) public {
        decimals = uint8(bound(decimals, 0, 36));
        answer = bound(answer, 1, uint256(type(int256).max));
        MockAggregator feed = new MockAggregator(decimals, "fuzz");
        feed.setAnswer(int256(answer));
        PriceBook.AssetConfig memory c = _usdcConfig(); // no secondary: the fuzz feed alone
        (c.primary, c.minAnswer, c.maxAnswer) = (feed, 1, type(uint64).max);
        book.setAssetConfig(0, c);
        uint256 expected;
        bool fits;
        if (decimals >= 8) {
            expected = answer / 10 ** (decimals - 8);
            fits = expected > 0 && expected <= type(uint64).max;
        } else {
            fits = answer <= type(uint64).max / 10 ** (8 - decimals);
            if (fits) expected = answer * 10 ** (8 - decimals);
        }
        vm.warp(block.timestamp + INTERVAL);
        _refreshAll();
        feed.setAnswer(int256(answer));
        if (!fits) {
            _expectNoValidPrice(0);
            book.takeSnapshot();
            return;
        }
        (uint64 id,) = book.takeSnapshot();
        _assertPrice(id, 0, expected);
    }

    function testFuzz_snapshotHashOf_changes_when_any_price_or_threshold_changes(
        uint8 slot,
        uint64 price,
        uint16 lt,
        bool changeThreshold
    ) public {
        slot = uint8(bound(slot, 0, 3));
        (uint256[] memory prices, uint256[] memory lts) = _calm();
        if (changeThreshold) {
            vm.assume(lt != lts[slot]);
            lts[slot] = lt;
        } else {
            vm.assume(price != prices[slot]);
            prices[slot] = price;
        }
        assertTrue(book.snapshotHashOf(1, prices, lts) != ENGINE_CALM_HASH_1, "an injective packing + Poseidon");
    }

    function test_snapshotHashOf_when_inputs_are_out_of_range_then_reverts() public {
        (uint256[] memory prices, uint256[] memory lts) = _calm();
        _expectInvalid("id: < 2^64");
        book.snapshotHashOf(1 << 64, prices, lts);
        prices[0] = 1 << 64;
        _expectInvalid("price < 2^64 and lt < 2^16");
        book.snapshotHashOf(1, prices, lts);
        _expectInvalid("prices and lts: same length, at most slots");
        book.snapshotHashOf(1, prices, new uint256[](3));
    }
}
