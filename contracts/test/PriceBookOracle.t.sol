// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {PriceBookFixture} from "./PriceBookFixture.t.sol";
import {PriceBook} from "../src/PriceBook.sol";
import {AggregatorV3Interface} from "../src/interfaces/AggregatorV3Interface.sol";
import {MockRawAggregator} from "../src/mocks/MockRawAggregator.sol";

/// @notice Attack 8, oracle edges: decimals changing after listing, a reverting / garbage /
///         gas-burning primary, per-feed heartbeats, answer bounds, primary/secondary deviation.
///         Each scenario is one the old PriceBook got wrong (it mis-scaled, reverted, refused the
///         24 h feed or accepted the out-of-bounds answer).
contract PriceBookOracleTest is PriceBookFixture {
    using {_is} for PriceBook.FeedStatus;

    // ------------------------------------------------------------------ decimals

    function test_takeSnapshot_when_primary_decimals_change_after_listing_then_secondary_is_used_and_degraded() public {
        vm.warp(START + INTERVAL);
        wethFeed.setDecimals(8); // migrated behind the same address: 3000e8 would be read as 3e-7 USD
        wethFeed.setAnswer(3_000e8);
        _setPyth(3_010e8, -8);
        vm.expectEmit(true, true, false, true, address(book));
        emit PriceBook.PriceDegraded(2, 1, PriceBook.FeedStatus.WrongDecimals, PriceBook.FeedStatus.Valid);
        (uint64 id,) = book.takeSnapshot();
        _assertPrice(id, 1, 3_010e8);
        assertTrue(book.snapshot(id).degraded, "priced by the secondary");
    }

    function test_takeSnapshot_when_decimals_change_and_there_is_no_secondary_then_reverts_NoValidPrice() public {
        vm.warp(START + INTERVAL);
        usdcFeed.setDecimals(6);
        usdcFeed.setAnswer(1e6);
        _expectNoValidPrice(0);
        book.takeSnapshot();
    }

    function test_takeSnapshot_when_the_pyth_secondary_changes_exponent_then_it_is_refused() public {
        vm.warp(START + INTERVAL);
        _setPyth(300_000, -2); // 3000.00 USD at expo -2: decimals() now 2, not the listed 8
        (,,, PriceBook.FeedStatus p, PriceBook.FeedStatus s) = book.readPrice(1);
        assertTrue(p._is(PriceBook.FeedStatus.Valid) && s._is(PriceBook.FeedStatus.WrongDecimals));
        (uint64 id,) = book.takeSnapshot();
        assertTrue(!book.snapshot(id).degraded, "primary fine: a failing secondary alone does not degrade");
    }

    // ------------------------------------------------------------------ broken primaries

    function test_takeSnapshot_when_primary_reverts_then_secondary_is_used_and_degraded() public {
        vm.warp(START + INTERVAL);
        wbtcFeed.setReverts(true);
        wbtcBackup.setAnswer(59_000e8);
        vm.expectEmit(true, true, false, true, address(book));
        emit PriceBook.PriceDegraded(2, 2, PriceBook.FeedStatus.CallFailed, PriceBook.FeedStatus.Valid);
        (uint64 id,) = book.takeSnapshot();
        _assertPrice(id, 2, 59_000e8);
        assertTrue(book.snapshot(id).degraded);
    }

    function test_takeSnapshot_when_primary_returns_garbage_then_secondary_is_used_and_degraded() public {
        vm.warp(START + INTERVAL);
        wbtcFeed.setMalformed(true); // 32 bytes: an ABI-decoding revert in a try/catch would not be caught
        (uint64 id,) = book.takeSnapshot();
        _assertPrice(id, 2, 60_000e8);
        assertTrue(book.snapshot(id).degraded);
    }

    function test_takeSnapshot_when_primary_has_no_code_then_secondary_is_used_and_degraded() public {
        vm.warp(START + INTERVAL);
        vmx.etch(address(wbtcFeed), "");
        (uint64 id,) = book.takeSnapshot();
        _assertPrice(id, 2, 60_000e8);
        assertTrue(book.snapshot(id).degraded);
    }

    function test_takeSnapshot_when_primary_burns_all_its_gas_then_secondary_is_used_and_degraded() public {
        vm.warp(START + INTERVAL);
        vmx.etch(address(wbtcFeed), hex"5b600056"); // JUMPDEST PUSH1 0 JUMP: loops until out of gas
        (uint64 id,) = book.takeSnapshot{gas: 1_000_000}();
        _assertPrice(id, 2, 60_000e8);
        assertTrue(book.snapshot(id).degraded);
    }

    function test_takeSnapshot_when_primary_reports_a_round_id_wider_than_uint80_then_it_is_refused() public {
        vm.warp(START + INTERVAL);
        MockRawAggregator raw = new MockRawAggregator(8);
        PriceBook.AssetConfig memory c = _wbtcConfig();
        c.primary = AggregatorV3Interface(address(raw));
        book.setAssetConfig(2, c);
        raw.setWords([uint256(1) << 80, 60_000e8, block.timestamp, block.timestamp, uint256(1) << 80]);
        (,,, PriceBook.FeedStatus p,) = book.readPrice(2);
        assertTrue(p._is(PriceBook.FeedStatus.CallFailed), "not a uint80: malformed");
        raw.setWords([uint256(5), 60_000e8, block.timestamp, block.timestamp, uint256(5)]);
        (,,, p,) = book.readPrice(2);
        assertTrue(p._is(PriceBook.FeedStatus.Valid), "the same feed, well-formed");
    }

    function test_takeSnapshot_when_primary_returns_a_truncated_round_then_it_is_refused() public {
        vm.warp(START + INTERVAL);
        MockRawAggregator raw = new MockRawAggregator(8);
        PriceBook.AssetConfig memory c = _wbtcConfig();
        c.primary = AggregatorV3Interface(address(raw));
        book.setAssetConfig(2, c);
        raw.setWords([uint256(0), 60_000e8, block.timestamp, block.timestamp, 0]);
        raw.setLength(128); // no answeredInRound word: zero-filled it would pass as complete
        (,,, PriceBook.FeedStatus p,) = book.readPrice(2);
        assertTrue(p._is(PriceBook.FeedStatus.CallFailed), "128 bytes are not a round");
    }

    function test_takeSnapshot_when_tx_gas_cannot_give_a_feed_its_full_allowance_then_reverts() public {
        vm.warp(START + INTERVAL);
        // Enough to start, too little to forward FEED_CALL_GAS: the book must not mistake the
        // caller's gas limit for a broken feed and publish a degraded snapshot.
        vm.expectRevert(PriceBook.PriceBook__InsufficientGas.selector);
        book.takeSnapshot{gas: 140_000}();
    }

    function test_takeSnapshot_when_no_source_is_valid_then_reverts_NoValidPrice_of_the_slot() public {
        vm.warp(START + INTERVAL);
        wbtcFeed.setReverts(true);
        wbtcBackup.setAnswer(0);
        _expectNoValidPrice(2);
        book.takeSnapshot();
        (uint256 price,,, PriceBook.FeedStatus p, PriceBook.FeedStatus s) = book.readPrice(2);
        assertEq(price, 0);
        assertTrue(p._is(PriceBook.FeedStatus.CallFailed) && s._is(PriceBook.FeedStatus.NonPositive));
    }

    /// @dev Every refusal reason of a primary, as readPrice reports it; the secondary then prices.
    function test_readPrice_names_why_a_primary_is_refused() public {
        vm.warp(START + INTERVAL);
        wbtcFeed.setAnswer(0);
        _assertPrimary(PriceBook.FeedStatus.NonPositive);
        wbtcFeed.setAnswer(-1);
        _assertPrimary(PriceBook.FeedStatus.NonPositive);
        wbtcFeed.setRound(7, 60_000e8, block.timestamp, block.timestamp, 6);
        _assertPrimary(PriceBook.FeedStatus.IncompleteRound);
        wbtcFeed.setRound(8, 60_000e8, block.timestamp, 0, 8);
        _assertPrimary(PriceBook.FeedStatus.IncompleteRound);
        wbtcFeed.setRound(9, 60_000e8, block.timestamp, block.timestamp + 1, 9);
        _assertPrimary(PriceBook.FeedStatus.FutureUpdate);
        wbtcFeed.setRound(10, 60_000e8, START, block.timestamp - 1 hours - 1, 10);
        _assertPrimary(PriceBook.FeedStatus.Stale);
        wbtcFeed.setAnswer(int256(uint256(type(uint64).max)) + 1);
        _assertPrimary(PriceBook.FeedStatus.OutOfBounds);
    }

    // ------------------------------------------------------------------ heartbeats

    function test_takeSnapshot_accepts_a_24h_heartbeat_feed_beside_a_1h_one_each_by_its_own() public {
        vm.warp(START + 20 hours);
        _republish(wethFeed);
        _setPyth(3_000e8, -8);
        _republish(wbtcFeed);
        _republish(wbtcBackup); // USDC last updated 20 h ago: within its 24 h heartbeat
        (uint64 id,) = book.takeSnapshot();
        assertFalse(book.snapshot(id).degraded);
        assertEq(book.snapshot(id).oldestPriceAt, START, "USDC's answer of 20 h ago");
        _assertPrice(id, 0, 1e8);
    }

    function test_takeSnapshot_when_a_1h_feed_is_older_than_its_heartbeat_then_secondary_is_used() public {
        vm.warp(START + 1 hours + 1);
        _setPyth(3_005e8, -8);
        _republish(wbtcFeed);
        _republish(wbtcBackup); // WETH's primary: 1 h 1 s old
        vm.expectEmit(true, true, false, true, address(book));
        emit PriceBook.PriceDegraded(2, 1, PriceBook.FeedStatus.Stale, PriceBook.FeedStatus.Valid);
        (uint64 id,) = book.takeSnapshot();
        _assertPrice(id, 1, 3_005e8);
    }

    function test_takeSnapshot_at_exactly_the_heartbeat_then_accepts() public {
        vm.warp(START + 1 days);
        _republish(wethFeed);
        _setPyth(3_000e8, -8);
        _republish(wbtcFeed);
        _republish(wbtcBackup);
        (uint64 id,) = book.takeSnapshot();
        assertFalse(book.snapshot(id).degraded);
        vm.warp(START + 1 days + INTERVAL);
        _expectNoValidPrice(0); // USDC one heartbeat + 12 s old, no secondary
        book.takeSnapshot();
    }

    function testFuzz_takeSnapshot_refuses_usdc_older_than_its_heartbeat(uint256 age) public {
        age = bound(age, 1 days + 1, 10 * 365 days);
        vm.warp(START + age);
        _republish(wethFeed);
        _setPyth(3_000e8, -8);
        _republish(wbtcFeed);
        _republish(wbtcBackup);
        _expectNoValidPrice(0);
        book.takeSnapshot();
    }

    // ------------------------------------------------------------------ answer bounds

    function test_takeSnapshot_when_answer_is_below_minAnswer_then_refused() public {
        vm.warp(START + INTERVAL);
        usdcFeed.setAnswer(0.5e8 - 1); // a circuit-breaker floor, not a price
        _expectNoValidPrice(0);
        book.takeSnapshot();
    }

    function test_takeSnapshot_when_answer_is_above_maxAnswer_then_refused() public {
        vm.warp(START + INTERVAL);
        usdcFeed.setAnswer(2e8 + 1);
        _expectNoValidPrice(0);
        book.takeSnapshot();
    }

    function test_takeSnapshot_at_exactly_minAnswer_and_maxAnswer_then_accepts() public {
        vm.warp(START + INTERVAL);
        usdcFeed.setAnswer(0.5e8);
        (uint64 id,) = book.takeSnapshot();
        _assertPrice(id, 0, 0.5e8);
        vm.warp(START + 2 * INTERVAL);
        usdcFeed.setAnswer(2e8);
        (id,) = book.takeSnapshot();
        _assertPrice(id, 0, 2e8);
    }

    function test_takeSnapshot_when_primary_is_out_of_bounds_then_an_in_bounds_secondary_is_used() public {
        vm.warp(START + INTERVAL);
        wbtcFeed.setAnswer(10_000_000e8 + 1);
        wbtcBackup.setAnswer(60_100e8);
        vm.expectEmit(true, true, false, true, address(book));
        emit PriceBook.PriceDegraded(2, 2, PriceBook.FeedStatus.OutOfBounds, PriceBook.FeedStatus.Valid);
        (uint64 id,) = book.takeSnapshot();
        _assertPrice(id, 2, 60_100e8);
    }

    function test_takeSnapshot_when_an_18_decimal_answer_scales_below_minAnswer_then_refused() public {
        vm.warp(START + INTERVAL);
        wethFeed.setAnswer(1e9); // 1e-9 USD: 0 at 8 decimals
        _setPyth(3_000e8, -8);
        (,,, PriceBook.FeedStatus p,) = book.readPrice(1);
        assertTrue(p._is(PriceBook.FeedStatus.OutOfBounds));
    }

    // ------------------------------------------------------------------ deviation

    function test_takeSnapshot_when_sources_deviate_beyond_maxDeviation_then_degraded_with_the_primary_price() public {
        vm.warp(START + INTERVAL);
        _setPyth(3_061e8, -8); // 2.03 % above the primary; the listing allows 2 %
        vm.expectEmit(true, true, false, true, address(book));
        emit PriceBook.PriceDegraded(2, 1, PriceBook.FeedStatus.Valid, PriceBook.FeedStatus.Deviates);
        (uint64 id,) = book.takeSnapshot();
        assertTrue(book.snapshot(id).degraded);
        _assertPrice(id, 1, 3_000e8);
    }

    function test_takeSnapshot_when_sources_deviate_exactly_maxDeviation_then_not_degraded() public {
        vm.warp(START + INTERVAL);
        _setPyth(3_060e8, -8); // exactly 2 %
        (uint64 id,) = book.takeSnapshot();
        assertFalse(book.snapshot(id).degraded);
        vm.warp(START + 2 * INTERVAL);
        _setPyth(2_940e8, -8); // exactly 2 % below
        (id,) = book.takeSnapshot();
        assertFalse(book.snapshot(id).degraded);
    }

    function testFuzz_takeSnapshot_is_degraded_iff_the_secondary_deviates_beyond_2_percent(uint64 backup) public {
        backup = uint64(bound(backup, 1e8, 10_000_000e8));
        vm.warp(START + INTERVAL);
        wbtcBackup.setAnswer(int256(uint256(backup)));
        (uint64 id,) = book.takeSnapshot();
        uint256 gap = backup > 60_000e8 ? backup - 60_000e8 : 60_000e8 - backup;
        assertTrue(book.snapshot(id).degraded == (gap * 10_000 > 200 * 60_000e8), "degraded iff > 2 %");
        _assertPrice(id, 2, 60_000e8);
    }

    // ------------------------------------------------------------------ helpers

    function _assertPrimary(PriceBook.FeedStatus expected) internal view {
        (uint256 price,, bool degraded, PriceBook.FeedStatus p, PriceBook.FeedStatus s) = book.readPrice(2);
        assertTrue(p._is(expected), "primary status");
        assertTrue(s._is(PriceBook.FeedStatus.Valid) && degraded && price == 60_000e8, "backup used, degraded");
    }
}

function _is(PriceBook.FeedStatus a, PriceBook.FeedStatus b) pure returns (bool) {
    return a == b;
}
