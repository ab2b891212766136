// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MockPyth} from "@pythnetwork/pyth-sdk-solidity/MockPyth.sol";
import {PythAggregatorV3} from "@pythnetwork/pyth-sdk-solidity/PythAggregatorV3.sol";

import {ZkTest} from "./utils/ZkTest.sol";
import {PriceBook} from "../src/PriceBook.sol";
import {AggregatorV3Interface} from "../src/interfaces/AggregatorV3Interface.sol";
import {IPoseidon5} from "../src/interfaces/IPoseidon5.sol";
import {MockAggregator} from "../src/mocks/MockAggregator.sol";
import {MockERC20} from "../src/mocks/MockERC20.sol";

/// @dev Cheatcodes the PriceBook tests need beyond ZkTest's.
interface VmOracle {
    function etch(address target, bytes calldata code) external;
}

/// @title PriceBookFixture
/// @notice The dev scenario's book (engine/chain/dev_scenario.py prices and thresholds), now with
///         the Vault v2 sources: USDC (slot 0, 8-decimal feed, 24 h heartbeat, no secondary),
///         WETH (18-decimal Chainlink-style primary + Pyth through PythAggregatorV3, 1 h each),
///         WBTC (8-decimal primary + an 8-decimal backup feed, 1 h each). Snapshot 1 (CALM) is
///         taken in setUp and checked against the engine's hash.
/// @dev Poseidon(5) is circomlibjs' bytecode, read from test/fixtures/vault.json (written by
///      `make contracts-test`) or test/fixtures/poseidon5.json
///      (`node scripts/poseidon_contract.cjs 5 > contracts/test/fixtures/poseidon5.json`).
abstract contract PriceBookFixture is ZkTest {
    VmOracle internal constant vmx = VmOracle(address(uint160(uint256(keccak256("hevm cheat code")))));
    uint256 internal constant START = 1_700_000_000;
    /// @dev zkrisk.engine.statements.snapshot.snapshot_hash(1, [1e8, 3000e8, 60000e8, 0],
    ///      [9000, 8250, 7800, 0]) — the engine's own hash of the CALM snapshot.
    uint256 internal constant ENGINE_CALM_HASH_1 =
        1266608615457246499087422328147073253288018833605281556487407400198763684108;
    /// @dev snapshot_hash(7, [99_950_000, 298_712_345_678, 6_123_400_000_000, 0], [9000, 8250, 7800, 0]).
    uint256 internal constant ENGINE_HASH_7 =
        14598490841644833864520181199320181652810633471817905366647153657771159672490;
    bytes32 internal constant ETH_PYTH_ID = keccak256("Crypto.ETH/USD");
    uint32 internal constant INTERVAL = 12;
    uint32 internal constant OUTAGE_GAP = 1 hours;
    uint32 internal constant ORACLE_GRACE = 30 minutes;

    IPoseidon5 internal poseidon;
    PriceBook internal book;
    MockERC20 internal usdc;
    MockERC20 internal weth;
    MockERC20 internal wbtc;
    MockAggregator internal usdcFeed;
    MockAggregator internal wethFeed;
    MockAggregator internal wbtcFeed;
    MockAggregator internal wbtcBackup;
    MockPyth internal pyth;
    PythAggregatorV3 internal wethPyth;
    address internal admin;
    address internal stranger = address(0x5742);
    uint64 internal pythPublishTime;

    function setUp() public virtual {
        vm.warp(START);
        admin = address(this);
        poseidon = IPoseidon5(_create(_poseidonBytecode()));
        usdc = new MockERC20("Mock USDC", "USDC", 6);
        weth = new MockERC20("Mock WETH", "WETH", 18);
        wbtc = new MockERC20("Mock WBTC", "WBTC", 8);
        usdcFeed = new MockAggregator(8, "USDC / USD");
        wethFeed = new MockAggregator(18, "ETH / USD");
        wbtcFeed = new MockAggregator(8, "BTC / USD");
        wbtcBackup = new MockAggregator(8, "BTC / USD (backup)");
        pyth = new MockPyth(60, 0);
        _setPyth(3_000e8, -8);
        wethPyth = new PythAggregatorV3(address(pyth), ETH_PYTH_ID);
        _setCalmAnswers();
        address[] memory tokens = new address[](3);
        (tokens[0], tokens[1], tokens[2]) = (address(usdc), address(weth), address(wbtc));
        PriceBook.AssetConfig[] memory assets = new PriceBook.AssetConfig[](3);
        (assets[0], assets[1], assets[2]) = (_usdcConfig(), _wethConfig(), _wbtcConfig());
        book = new PriceBook(4, poseidon, admin, 1 days, _l1Liveness(), tokens, assets);
        (uint64 id, uint256 hash) = book.takeSnapshot();
        assertEq(id, 1);
        assertEq(hash, ENGINE_CALM_HASH_1, "on-chain CALM snapshot hash differs from the engine's");
    }

    // ------------------------------------------------------------------ configuration

    function _usdcConfig() internal view returns (PriceBook.AssetConfig memory) {
        return PriceBook.AssetConfig({
            primary: usdcFeed,
            primaryHeartbeat: 1 days, // Chainlink USDC/USD: 24 h heartbeat, 0.25 % deviation
            secondary: AggregatorV3Interface(address(0)),
            secondaryHeartbeat: 0,
            minAnswer: 0.5e8,
            maxAnswer: 2e8,
            maxDeviationBps: 0,
            liquidationThresholdBps: 9_000
        });
    }

    function _wethConfig() internal view returns (PriceBook.AssetConfig memory) {
        return PriceBook.AssetConfig({
            primary: wethFeed,
            primaryHeartbeat: 1 hours,
            secondary: AggregatorV3Interface(address(wethPyth)),
            secondaryHeartbeat: 1 hours,
            minAnswer: 1e8,
            maxAnswer: 1_000_000e8,
            maxDeviationBps: 200,
            liquidationThresholdBps: 8_250
        });
    }

    function _wbtcConfig() internal view returns (PriceBook.AssetConfig memory) {
        return PriceBook.AssetConfig({
            primary: wbtcFeed,
            primaryHeartbeat: 1 hours,
            secondary: wbtcBackup,
            secondaryHeartbeat: 1 hours,
            minAnswer: 1e8,
            maxAnswer: 10_000_000e8,
            maxDeviationBps: 200,
            liquidationThresholdBps: 7_800
        });
    }

    function _l1Liveness() internal pure returns (PriceBook.LivenessConfig memory) {
        return PriceBook.LivenessConfig({
            minSnapshotInterval: INTERVAL,
            outageGap: OUTAGE_GAP,
            oracleGrace: ORACLE_GRACE,
            sequencerFeed: AggregatorV3Interface(address(0)),
            sequencerGrace: 0
        });
    }

    // ------------------------------------------------------------------ feeds

    function _setCalmAnswers() internal {
        usdcFeed.setAnswer(1e8);
        wethFeed.setAnswer(3_000e18);
        wbtcFeed.setAnswer(60_000e8);
        wbtcBackup.setAnswer(60_000e8);
    }

    /// @dev Publish a Pyth ETH/USD price now (price · 10^expo USD).
    function _setPyth(int64 price, int32 expo) internal {
        pythPublishTime = pythPublishTime < uint64(block.timestamp) ? uint64(block.timestamp) : pythPublishTime + 1;
        bytes[] memory updates = new bytes[](1);
        updates[0] = pyth.createPriceFeedUpdateData(ETH_PYTH_ID, price, 1e6, expo, price, 1e6, pythPublishTime, 0);
        pyth.updatePriceFeeds(updates);
    }

    /// @dev Republish every source's current answer now.
    function _refreshAll() internal {
        _republish(usdcFeed);
        _republish(wethFeed);
        _republish(wbtcFeed);
        _republish(wbtcBackup);
        (, int256 answer,,,) = wethPyth.latestRoundData();
        _setPyth(int64(answer), -8);
    }

    function _republish(MockAggregator feed) internal {
        (, int256 answer,,,) = feed.latestRoundData();
        feed.setAnswer(answer);
    }

    /// @dev Warp `seconds_` ahead, refresh every source and take a snapshot.
    function _snapshotAfter(uint256 seconds_) internal returns (uint64 id) {
        vm.warp(block.timestamp + seconds_);
        _refreshAll();
        (id,) = book.takeSnapshot();
    }

    // ------------------------------------------------------------------ assertions

    /// @dev CALM prices and thresholds padded to the 4 slots (slot 3 unlisted: 0, 0).
    function _calm() internal pure returns (uint256[] memory prices, uint256[] memory lts) {
        prices = new uint256[](4);
        lts = new uint256[](4);
        (prices[0], prices[1], prices[2]) = (1e8, 3_000e8, 60_000e8);
        (lts[0], lts[1], lts[2]) = (9_000, 8_250, 7_800);
    }

    /// @dev Snapshot `id` committed the CALM prices except `price` in `slot`.
    function _assertPrice(uint64 id, uint256 slot, uint256 price) internal view {
        (uint256[] memory prices, uint256[] memory lts) = _calm();
        prices[slot] = price;
        assertEq(book.snapshot(id).hash, book.snapshotHashOf(id, prices, lts), "snapshot does not hold that price");
    }

    function _expectInvalid(string memory what) internal {
        vm.expectRevert(abi.encodeWithSelector(PriceBook.PriceBook__InvalidParameter.selector, what));
    }

    function _expectNoValidPrice(uint256 slot) internal {
        vm.expectRevert(abi.encodeWithSelector(PriceBook.PriceBook__NoValidPrice.selector, slot));
    }

    function _poseidonBytecode() internal view returns (bytes memory) {
        if (vm.exists("test/fixtures/vault.json")) {
            return vm.parseJsonBytes(vm.readFile("test/fixtures/vault.json"), ".poseidon5");
        }
        if (vm.exists("test/fixtures/poseidon5.json")) {
            return vm.parseJsonBytes(vm.readFile("test/fixtures/poseidon5.json"), ".bytecode");
        }
        revert ZkTest__AssertionFailed("no Poseidon(5) bytecode: run `make contracts-test` (or node scripts/poseidon_contract.cjs 5 > contracts/test/fixtures/poseidon5.json)");
    }

    function _create(bytes memory code) internal returns (address deployed) {
        assembly {
            deployed := create(0, add(code, 0x20), mload(code))
        }
        assertTrue(deployed != address(0), "Poseidon(5) bytecode failed to deploy");
    }
}
