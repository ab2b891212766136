// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {
    IAccessControlDefaultAdminRules
} from "@openzeppelin/contracts/access/extensions/IAccessControlDefaultAdminRules.sol";

import {PriceBookFixture} from "./PriceBookFixture.t.sol";
import {PriceBook} from "../src/PriceBook.sol";
import {AggregatorV3Interface} from "../src/interfaces/AggregatorV3Interface.sol";
import {IPoseidon5} from "../src/interfaces/IPoseidon5.sol";
import {MockAggregator} from "../src/mocks/MockAggregator.sol";
import {MockSequencerUptimeFeed} from "../src/mocks/MockSequencerUptimeFeed.sol";

/// @notice Attack 7 for the price book: only ORACLE_ADMIN_ROLE changes listings and liveness
///         rules, the default admin moves in two delayed steps, and every parameter is bounded.
contract PriceBookAdminTest is PriceBookFixture {
    // ------------------------------------------------------------------ roles

    function test_admin_functions_when_caller_lacks_the_role_then_revert() public {
        bytes32 role = book.ORACLE_ADMIN_ROLE();
        bytes memory denied =
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role);
        PriceBook.AssetConfig memory c = _wbtcConfig();
        PriceBook.LivenessConfig memory l = _l1Liveness();
        vm.startPrank(stranger);
        vm.expectRevert(denied);
        book.listAsset(address(1), c);
        vm.expectRevert(denied);
        book.setAssetConfig(2, c);
        vm.expectRevert(denied);
        book.setLiveness(l);
        bytes memory notAdmin = abi.encodeWithSelector(
            IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, book.DEFAULT_ADMIN_ROLE()
        );
        vm.expectRevert(notAdmin);
        book.grantRole(role, stranger);
        vm.expectRevert(notAdmin);
        book.beginDefaultAdminTransfer(stranger);
        vm.expectRevert(notAdmin);
        book.changeDefaultAdminDelay(0);
        vm.stopPrank();
    }

    function test_constructor_gives_the_admin_both_roles_with_the_delay() public view {
        assertTrue(book.hasRole(book.ORACLE_ADMIN_ROLE(), admin));
        assertEq(book.defaultAdmin(), admin);
        assertEq(book.defaultAdminDelay(), 1 days);
    }

    function test_default_admin_transfer_waits_for_the_delay_then_needs_acceptance() public {
        address timelock = address(0x71CE);
        book.beginDefaultAdminTransfer(timelock);
        (, uint48 schedule) = book.pendingDefaultAdmin();
        assertEq(schedule, START + 1 days);
        vm.prank(timelock);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControlDefaultAdminRules.AccessControlEnforcedDefaultAdminDelay.selector, schedule
            )
        );
        book.acceptDefaultAdminTransfer();
        vm.warp(START + 1 days + 1);
        vm.prank(timelock);
        book.acceptDefaultAdminTransfer();
        assertEq(book.defaultAdmin(), timelock);
    }

    function test_grantRole_of_the_default_admin_then_reverts() public {
        bytes32 adminRole = book.DEFAULT_ADMIN_ROLE();
        vm.expectRevert(IAccessControlDefaultAdminRules.AccessControlEnforcedDefaultAdminRules.selector);
        book.grantRole(adminRole, stranger);
    }

    function test_constructor_when_admin_is_zero_then_reverts() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControlDefaultAdminRules.AccessControlInvalidDefaultAdmin.selector, address(0)
            )
        );
        new PriceBook(4, poseidon, address(0), 0, _l1Liveness(), new address[](0), new PriceBook.AssetConfig[](0));
    }

    // ------------------------------------------------------------------ constructor bounds

    function test_constructor_when_poseidon_is_zero_then_reverts() public {
        vm.expectRevert(PriceBook.PriceBook__ZeroAddress.selector);
        new PriceBook(
            4, IPoseidon5(address(0)), admin, 0, _l1Liveness(), new address[](0), new PriceBook.AssetConfig[](0)
        );
    }

    function test_constructor_when_slots_are_out_of_bounds_then_reverts() public {
        _expectInvalid("slots: [1, 65535]");
        new PriceBook(0, poseidon, admin, 0, _l1Liveness(), new address[](0), new PriceBook.AssetConfig[](0));
        _expectInvalid("slots: [1, 65535]");
        new PriceBook(1 << 16, poseidon, admin, 0, _l1Liveness(), new address[](0), new PriceBook.AssetConfig[](0));
    }

    function test_constructor_when_tokens_and_assets_differ_in_length_then_reverts() public {
        _expectInvalid("tokens and assets: same length");
        new PriceBook(4, poseidon, admin, 0, _l1Liveness(), new address[](1), new PriceBook.AssetConfig[](0));
    }

    function test_constructor_checks_the_liveness_and_listing_bounds() public {
        PriceBook.LivenessConfig memory l = _l1Liveness();
        l.outageGap = 0;
        _expectInvalid("outageGap: [5 min, 1 day]");
        new PriceBook(4, poseidon, admin, 0, l, new address[](0), new PriceBook.AssetConfig[](0));
        address[] memory tokens = new address[](1);
        tokens[0] = address(usdc);
        PriceBook.AssetConfig[] memory assets = new PriceBook.AssetConfig[](1);
        assets[0] = _usdcConfig();
        assets[0].primaryHeartbeat = 0;
        _expectInvalid("primaryHeartbeat: [60 s, 2 days]");
        new PriceBook(4, poseidon, admin, 0, _l1Liveness(), tokens, assets);
    }

    // ------------------------------------------------------------------ asset bounds

    function test_setAssetConfig_bounds_the_primary_heartbeat() public {
        _assertHeartbeatBounds(true);
    }

    function test_setAssetConfig_bounds_the_secondary_heartbeat() public {
        _assertHeartbeatBounds(false);
    }

    function test_setAssetConfig_bounds_maxDeviationBps() public {
        PriceBook.AssetConfig memory c = _wbtcConfig();
        c.maxDeviationBps = 9;
        _expectInvalid("maxDeviationBps: [10, 2000]");
        book.setAssetConfig(2, c);
        c.maxDeviationBps = 2_001;
        _expectInvalid("maxDeviationBps: [10, 2000]");
        book.setAssetConfig(2, c);
        c.maxDeviationBps = 10;
        book.setAssetConfig(2, c);
        c.maxDeviationBps = 2_000;
        book.setAssetConfig(2, c);
    }

    function test_setAssetConfig_without_secondary_requires_zero_secondary_parameters() public {
        PriceBook.AssetConfig memory c = _usdcConfig();
        c.maxDeviationBps = 100;
        _expectInvalid("no secondary: secondaryHeartbeat and maxDeviationBps 0");
        book.setAssetConfig(0, c);
        c = _usdcConfig();
        c.secondaryHeartbeat = 3_600;
        _expectInvalid("no secondary: secondaryHeartbeat and maxDeviationBps 0");
        book.setAssetConfig(0, c);
    }

    function test_setAssetConfig_bounds_the_answers() public {
        PriceBook.AssetConfig memory c = _usdcConfig();
        c.minAnswer = 0;
        _expectInvalid("answers: 1 <= minAnswer < maxAnswer");
        book.setAssetConfig(0, c);
        (c.minAnswer, c.maxAnswer) = (2e8, 2e8);
        _expectInvalid("answers: 1 <= minAnswer < maxAnswer");
        book.setAssetConfig(0, c);
        (c.minAnswer, c.maxAnswer) = (1, 2);
        book.setAssetConfig(0, c);
    }

    function test_setAssetConfig_bounds_the_liquidation_threshold() public {
        PriceBook.AssetConfig memory c = _usdcConfig();
        c.liquidationThresholdBps = 10_001;
        _expectInvalid("liquidationThresholdBps: <= 10000");
        book.setAssetConfig(0, c);
        c.liquidationThresholdBps = 10_000;
        book.setAssetConfig(0, c);
    }

    function test_setAssetConfig_refuses_a_zero_primary_and_a_secondary_equal_to_it() public {
        PriceBook.AssetConfig memory c = _wbtcConfig();
        c.primary = AggregatorV3Interface(address(0));
        vm.expectRevert(PriceBook.PriceBook__ZeroAddress.selector);
        book.setAssetConfig(2, c);
        c = _wbtcConfig();
        c.secondary = c.primary;
        _expectInvalid("secondary: differs from primary");
        book.setAssetConfig(2, c);
    }

    function test_setAssetConfig_refuses_feeds_with_more_than_36_decimals_or_no_decimals() public {
        PriceBook.AssetConfig memory c = _wbtcConfig();
        c.primary = new MockAggregator(37, "too precise");
        _expectInvalid("primary: decimals() failed or > 36");
        book.setAssetConfig(2, c);
        c = _wbtcConfig();
        MockAggregator broken = new MockAggregator(8, "broken");
        broken.setReverts(true);
        c.secondary = broken;
        _expectInvalid("secondary: decimals() failed or > 36");
        book.setAssetConfig(2, c);
        c.secondary = new MockAggregator(36, "precise");
        book.setAssetConfig(2, c);
    }

    // ------------------------------------------------------------------ liveness bounds

    function test_setLiveness_bounds_minSnapshotInterval() public {
        PriceBook.LivenessConfig memory l = _l1Liveness();
        l.minSnapshotInterval = 0; // 0 = no rate limit: attack 2
        _expectInvalid("minSnapshotInterval: [1 s, 60 s]");
        book.setLiveness(l);
        l.minSnapshotInterval = 61;
        _expectInvalid("minSnapshotInterval: [1 s, 60 s]");
        book.setLiveness(l);
        l.minSnapshotInterval = 60;
        book.setLiveness(l);
        l.minSnapshotInterval = 1;
        book.setLiveness(l);
    }

    function test_setLiveness_bounds_outageGap() public {
        PriceBook.LivenessConfig memory l = _l1Liveness();
        l.outageGap = 5 minutes - 1;
        _expectInvalid("outageGap: [5 min, 1 day]");
        book.setLiveness(l);
        l.outageGap = 1 days + 1;
        _expectInvalid("outageGap: [5 min, 1 day]");
        book.setLiveness(l);
        l.outageGap = 5 minutes;
        book.setLiveness(l);
        l.outageGap = 1 days;
        book.setLiveness(l);
    }

    function test_setLiveness_bounds_oracleGrace() public {
        PriceBook.LivenessConfig memory l = _l1Liveness();
        l.oracleGrace = 0; // no grace after an outage: attack 6
        _expectInvalid("oracleGrace: [5 min, 1 day]");
        book.setLiveness(l);
        l.oracleGrace = 1 days + 1;
        _expectInvalid("oracleGrace: [5 min, 1 day]");
        book.setLiveness(l);
        l.oracleGrace = 5 minutes;
        book.setLiveness(l);
        l.oracleGrace = 1 days;
        book.setLiveness(l);
    }

    function test_setLiveness_bounds_sequencerGrace() public {
        PriceBook.LivenessConfig memory l = _l1Liveness();
        l.sequencerGrace = 3_600;
        _expectInvalid("no sequencer feed: sequencerGrace 0");
        book.setLiveness(l);
        l.sequencerFeed = new MockSequencerUptimeFeed();
        l.sequencerGrace = 0;
        _expectInvalid("sequencerGrace: [5 min, 1 day]");
        book.setLiveness(l);
        l.sequencerGrace = 1 days + 1;
        _expectInvalid("sequencerGrace: [5 min, 1 day]");
        book.setLiveness(l);
        l.sequencerGrace = 5 minutes;
        vm.expectEmit(false, false, false, true, address(book));
        emit PriceBook.LivenessChanged(l);
        book.setLiveness(l);
        PriceBook.LivenessConfig memory stored = book.liveness();
        assertEq(address(stored.sequencerFeed), address(l.sequencerFeed));
        assertEq(stored.sequencerGrace, 5 minutes);
    }

    function testFuzz_setAssetConfig_accepts_a_heartbeat_iff_within_bounds(uint32 heartbeat) public {
        PriceBook.AssetConfig memory c = _usdcConfig();
        c.primaryHeartbeat = heartbeat;
        if (heartbeat < 60 || heartbeat > 2 days) _expectInvalid("primaryHeartbeat: [60 s, 2 days]");
        book.setAssetConfig(0, c);
    }

    // ------------------------------------------------------------------ helpers

    function _assertHeartbeatBounds(bool primary) internal {
        string memory what = primary ? "primaryHeartbeat: [60 s, 2 days]" : "secondaryHeartbeat: [60 s, 2 days]";
        uint32[4] memory values = [uint32(59), 2 days + 1, 60, 2 days];
        for (uint256 i; i < values.length; ++i) {
            PriceBook.AssetConfig memory c = _wbtcConfig();
            if (primary) c.primaryHeartbeat = values[i];
            else c.secondaryHeartbeat = values[i];
            if (i < 2) _expectInvalid(what);
            book.setAssetConfig(2, c);
        }
    }
}
