// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {PriceBookFixture} from "./PriceBookFixture.t.sol";
import {PriceBook} from "../src/PriceBook.sol";
import {MockSequencerUptimeFeed} from "../src/mocks/MockSequencerUptimeFeed.sol";

/// @notice Attacks 2 and 6: the snapshot rate limit, oracle outage detection and the grace
///         period after it, and the L2 sequencer-uptime feed.
contract PriceBookLivenessTest is PriceBookFixture {
    uint32 internal constant SEQUENCER_GRACE = 1 hours;
    MockSequencerUptimeFeed internal sequencer;

    // ------------------------------------------------------------------ rate limit

    function test_takeSnapshot_within_minSnapshotInterval_then_reverts_SnapshotTooSoon() public {
        vm.warp(START + INTERVAL - 1);
        vm.expectRevert(abi.encodeWithSelector(PriceBook.PriceBook__SnapshotTooSoon.selector, uint64(START + INTERVAL)));
        book.takeSnapshot();
        vm.warp(START);
        vm.expectRevert(abi.encodeWithSelector(PriceBook.PriceBook__SnapshotTooSoon.selector, uint64(START + INTERVAL)));
        book.takeSnapshot(); // the same block: the spam the limit exists for
    }

    function test_takeSnapshot_at_exactly_minSnapshotInterval_then_succeeds() public {
        assertEq(book.nextSnapshotAt(), START + INTERVAL);
        vm.warp(START + INTERVAL);
        (uint64 id,) = book.takeSnapshot();
        assertEq(id, 2);
        assertEq(book.lastSnapshotAt(), START + INTERVAL);
        assertEq(book.nextSnapshotAt(), START + 2 * INTERVAL);
    }

    function testFuzz_snapshots_are_at_least_minSnapshotInterval_apart(uint256 gap) public {
        gap = bound(gap, 0, 3 * INTERVAL);
        vm.warp(START + gap);
        if (gap < INTERVAL) {
            vm.expectRevert(
                abi.encodeWithSelector(PriceBook.PriceBook__SnapshotTooSoon.selector, uint64(START + INTERVAL))
            );
        }
        book.takeSnapshot();
    }

    // ------------------------------------------------------------------ oracle outages

    function test_graceEndsAt_is_zero_before_any_outage_on_L1() public view {
        assertEq(book.graceEndsAt(), 0);
        assertEq(book.lastOutageEndedAt(), 0);
    }

    function test_takeSnapshot_after_a_gap_longer_than_outageGap_then_ends_an_outage_and_opens_grace() public {
        uint256 back = START + OUTAGE_GAP + 1;
        vm.warp(back);
        _refreshAll();
        vm.expectEmit(false, false, false, true, address(book));
        emit PriceBook.OracleOutageEnded(uint64(START), uint64(back));
        book.takeSnapshot();
        assertEq(book.lastOutageEndedAt(), back);
        assertEq(book.graceEndsAt(), back + ORACLE_GRACE);
        _snapshotAfter(INTERVAL); // a regular snapshot inside the grace does not move it
        assertEq(book.graceEndsAt(), back + ORACLE_GRACE);
    }

    function test_takeSnapshot_at_exactly_outageGap_then_no_outage() public {
        _snapshotAfter(OUTAGE_GAP);
        assertEq(book.lastOutageEndedAt(), 0);
        assertEq(book.graceEndsAt(), 0);
    }

    function test_snapshots_refused_during_a_feed_outage_then_the_first_good_one_ends_it() public {
        vm.warp(START + 1 days + 1); // USDC's 24 h feed went silent: nothing can be snapshotted
        _republish(wethFeed);
        _republish(wbtcFeed);
        _expectNoValidPrice(0);
        book.takeSnapshot();
        vm.warp(START + 1 days + 2 hours);
        _refreshAll();
        book.takeSnapshot();
        assertEq(book.lastOutageEndedAt(), START + 1 days + 2 hours);
        assertEq(book.graceEndsAt(), START + 1 days + 2 hours + ORACLE_GRACE);
    }

    // ------------------------------------------------------------------ L2 sequencer

    function test_when_sequencer_is_down_then_graceEndsAt_is_max_and_takeSnapshot_reverts_SequencerDown() public {
        _useSequencer();
        vm.warp(START + INTERVAL);
        sequencer.setStatus(true);
        assertEq(book.graceEndsAt(), type(uint64).max);
        vm.expectRevert(PriceBook.PriceBook__SequencerDown.selector);
        book.takeSnapshot();
    }

    function test_when_sequencer_comes_back_up_then_grace_runs_from_its_startedAt() public {
        _useSequencer();
        vm.warp(START + 10 minutes);
        sequencer.setStatus(true);
        vm.warp(START + 40 minutes);
        sequencer.setStatus(false); // startedAt = now: up since START + 40 min
        vm.warp(START + 50 minutes);
        assertEq(book.graceEndsAt(), START + 40 minutes + SEQUENCER_GRACE);
        _refreshAll();
        (uint64 id,) = book.takeSnapshot(); // snapshots resume at once; liquidations wait for the grace
        assertEq(id, 2);
    }

    function test_graceEndsAt_is_the_later_of_the_sequencer_and_the_oracle_grace() public {
        _useSequencer(); // up since START: sequencer grace ends START + 1 h
        uint256 back = START + OUTAGE_GAP + 1;
        vm.warp(back);
        _refreshAll();
        book.takeSnapshot(); // oracle grace ends back + 30 min, later
        assertEq(book.graceEndsAt(), back + ORACLE_GRACE);
        vm.warp(back + 5 minutes);
        sequencer.setStatus(true);
        vm.warp(back + 10 minutes);
        sequencer.setStatus(false);
        assertEq(book.graceEndsAt(), back + 10 minutes + SEQUENCER_GRACE, "now the sequencer's is later");
    }

    function test_sequencer_feed_that_reverts_counts_as_down() public {
        _useSequencer();
        vm.warp(START + INTERVAL);
        vmx.etch(address(sequencer), hex"60006000fd");
        assertEq(book.graceEndsAt(), type(uint64).max);
        vm.expectRevert(PriceBook.PriceBook__SequencerDown.selector);
        book.takeSnapshot();
    }

    function test_sequencer_feed_with_startedAt_zero_counts_as_down() public {
        _useSequencer();
        vm.warp(START + INTERVAL);
        sequencer.setRound(0, 0); // "up" but not initialised (Arbitrum before the first round)
        assertEq(book.graceEndsAt(), type(uint64).max);
        vm.expectRevert(PriceBook.PriceBook__SequencerDown.selector);
        book.takeSnapshot();
    }

    function test_sequencer_answer_other_than_zero_counts_as_down() public {
        _useSequencer();
        sequencer.setRound(2, START);
        assertEq(book.graceEndsAt(), type(uint64).max);
    }

    function _useSequencer() internal {
        sequencer = new MockSequencerUptimeFeed(); // up since START
        PriceBook.LivenessConfig memory c = _l1Liveness();
        (c.sequencerFeed, c.sequencerGrace) = (sequencer, SEQUENCER_GRACE);
        book.setLiveness(c);
        assertEq(book.graceEndsAt(), START + SEQUENCER_GRACE);
    }
}
