// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {AggregatorV3Interface} from "./interfaces/AggregatorV3Interface.sol";
import {IPoseidon5} from "./interfaces/IPoseidon5.sol";
import {IPriceBook} from "./interfaces/IPriceBook.sol";
import {ZkRiskConstants as K} from "./ZkRiskConstants.sol";

/// @title PriceBook
/// @notice zkrisk's oracle adapter. It lists up to `slots` assets, each with a Chainlink
///         `AggregatorV3Interface` feed and a liquidation threshold, in the Health circuit's slot
///         order (slot 0 = the vault's margin token). `takeSnapshot` reads every feed, refuses stale,
///         non-positive and incomplete rounds, and commits the prices with ONE Poseidon hash — the
///         proof's public `snapshotHash` — so a proof names N prices with a single public input.
/// @dev Snapshot hash (mirrors zkrisk.engine.statements.snapshot and circuits/SnapshotHash.circom):
///        slot_i = price_i + lt_i · 2^PRICE_BITS        (price: 8-decimal USD, lt: bps)
///        word_j = slot_3j + slot_3j+1 · 2^80 + slot_3j+2 · 2^160
///        hash   = PoseidonChain(seed = snapshotId, words), folding 4 words per Poseidon(5) call.
///      Unlisted slots are (price 0, lt 0), as the engine pads them.
contract PriceBook is IPriceBook, AccessControl {
    /// @notice May list assets, replace feeds, change liquidation thresholds and the max price age.
    bytes32 public constant ORACLE_ADMIN_ROLE = keccak256("ORACLE_ADMIN_ROLE");
    /// @notice Feeds with more decimals than this are refused (10^36 is the scaling limit).
    uint8 public constant MAX_FEED_DECIMALS = 36;

    /// @dev One listed asset; packed in one storage slot (read once per snapshot).
    struct Listing {
        AggregatorV3Interface feed;
        uint16 liquidationThresholdBps;
        uint8 feedDecimals;
    }

    /// @inheritdoc IPriceBook
    uint256 public immutable slots;
    /// @notice circomlibjs' Poseidon(5) contract.
    IPoseidon5 public immutable poseidon;

    /// @inheritdoc IPriceBook
    uint64 public latestSnapshotId;
    /// @notice A feed whose `updatedAt` is older than this (seconds) is refused.
    uint64 public maxPriceAge;
    Listing[] internal _listings;
    address[] internal _tokens;
    mapping(uint256 id => Snapshot) internal _snapshots;

    /// @notice The feed of `slot` reported a round that has not completed (`updatedAt` = 0 or
    ///         `answeredInRound` < `roundId`).
    error PriceBook__IncompleteRound(uint256 slot, uint80 roundId, uint80 answeredInRound, uint256 updatedAt);
    /// @notice The feed of `slot` answered zero or a negative price (or one that scales to 0).
    error PriceBook__NonPositivePrice(uint256 slot, int256 answer);
    /// @notice The feed of `slot` was last updated at `updatedAt`, more than `maxAge` seconds ago.
    error PriceBook__StalePrice(uint256 slot, uint256 updatedAt, uint256 maxAge);
    /// @notice The feed of `slot` claims an update in the future.
    error PriceBook__FuturePrice(uint256 slot, uint256 updatedAt);
    /// @notice The scaled price does not fit PRICE_BITS.
    error PriceBook__PriceOutOfRange(uint256 slot, int256 answer);
    /// @notice No asset is listed yet: list slot 0 (the margin token) first.
    error PriceBook__NoAssets();
    /// @notice All `slots` slots are taken.
    error PriceBook__SlotsFull(uint256 slots);
    /// @notice `slot` is not listed.
    error PriceBook__UnknownSlot(uint256 slot);
    /// @notice `token` is listed already, in `slot`.
    error PriceBook__AlreadyListed(address token, uint256 slot);
    /// @notice Liquidation thresholds are bps of value and cannot exceed 10_000.
    error PriceBook__InvalidLiquidationThreshold(uint256 bps);
    /// @notice A feed with more than MAX_FEED_DECIMALS decimals.
    error PriceBook__UnsupportedDecimals(uint8 decimals);
    /// @notice Zero address for a feed, a token, the Poseidon contract or the admin.
    error PriceBook__ZeroAddress();
    /// @notice `slots` must be in [1, 2^16) and `maxPriceAge` positive.
    error PriceBook__InvalidParameter();

    /// @notice Asset `token` listed in `slot`.
    event AssetListed(
        uint256 indexed slot, address indexed token, address feed, uint16 liquidationThresholdBps, uint8 feedDecimals
    );
    /// @notice The feed of `slot` was replaced.
    event FeedChanged(uint256 indexed slot, address oldFeed, address newFeed, uint8 feedDecimals);
    /// @notice The liquidation threshold of `slot` changed (takes effect at the next snapshot).
    event LiquidationThresholdChanged(uint256 indexed slot, uint16 oldBps, uint16 newBps);
    /// @notice The maximum feed age changed.
    event MaxPriceAgeChanged(uint64 oldAge, uint64 newAge);
    /// @notice Snapshot `snapshotId` committed. `prices` (8-decimal USD) and
    ///         `liquidationThresholds` (bps) have `slots` entries, zero for unlisted slots: with the
    ///         id they are exactly the preimage of `hash`.
    event SnapshotTaken(
        uint256 indexed snapshotId,
        uint256 hash,
        uint64 takenAt,
        uint64 oldestPriceAt,
        uint256[] prices,
        uint256[] liquidationThresholds
    );

    /// @param slots_ The Health circuit's N (4 for Health4Verifier).
    /// @param poseidon_ circomlibjs' Poseidon(5) contract.
    /// @param admin Receives DEFAULT_ADMIN_ROLE and ORACLE_ADMIN_ROLE.
    /// @param maxPriceAge_ Feed age limit in seconds (> 0).
    constructor(uint256 slots_, IPoseidon5 poseidon_, address admin, uint64 maxPriceAge_) {
        if (address(poseidon_) == address(0) || admin == address(0)) revert PriceBook__ZeroAddress();
        if (slots_ == 0 || slots_ >= 1 << 16 || maxPriceAge_ == 0) revert PriceBook__InvalidParameter();
        slots = slots_;
        poseidon = poseidon_;
        maxPriceAge = maxPriceAge_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ORACLE_ADMIN_ROLE, admin);
        emit MaxPriceAgeChanged(0, maxPriceAge_);
    }

    // ------------------------------------------------------------------ snapshots

    /// @inheritdoc IPriceBook
    /// @dev Permissionless: it only records public oracle data, and keepers need it to be live.
    ///      Reverts with PriceBook__StalePrice / __NonPositivePrice / __IncompleteRound /
    ///      __FuturePrice / __PriceOutOfRange naming the failing slot.
    function takeSnapshot() external returns (uint64 id, uint256 hash) {
        uint256 n = _listings.length;
        if (n == 0) revert PriceBook__NoAssets();
        uint256 maxAge = maxPriceAge;
        uint256[] memory prices = new uint256[](slots);
        uint256[] memory lts = new uint256[](slots);
        uint256 oldest = block.timestamp;
        for (uint256 i; i < n; ++i) {
            Listing memory entry = _listings[i];
            (uint256 price, uint256 updatedAt) = _readFeed(i, entry, maxAge);
            prices[i] = price;
            lts[i] = entry.liquidationThresholdBps;
            if (updatedAt < oldest) oldest = updatedAt;
        }
        id = latestSnapshotId + 1;
        hash = _hash(id, _pack(prices, lts));
        latestSnapshotId = id;
        // forge-lint: disable-next-line(unsafe-typecast)
        uint64 now_ = uint64(block.timestamp); // seconds fit 64 bits
        // forge-lint: disable-next-line(unsafe-typecast)
        uint64 oldestAt = uint64(oldest); // ≤ block.timestamp
        _snapshots[id] = Snapshot(hash, now_, oldestAt);
        emit SnapshotTaken(id, hash, now_, oldestAt, prices, lts);
    }

    /// @inheritdoc IPriceBook
    function snapshot(uint256 id) external view returns (Snapshot memory) {
        return _snapshots[id];
    }

    /// @inheritdoc IPriceBook
    function latestSnapshot() external view returns (uint64 id, Snapshot memory) {
        id = latestSnapshotId;
        return (id, _snapshots[id]);
    }

    /// @notice The snapshot hash of arbitrary prices and thresholds (for clients and tests; the
    ///         same code path as `takeSnapshot`).
    /// @param id Snapshot id (the chain's seed), < 2^64.
    /// @param prices 8-decimal USD prices, at most `slots`, each < 2^PRICE_BITS.
    /// @param lts Liquidation thresholds in bps, same length, each < 2^BPS_BITS.
    function snapshotHashOf(uint256 id, uint256[] calldata prices, uint256[] calldata lts)
        external
        view
        returns (uint256)
    {
        if (prices.length != lts.length || prices.length > slots || id >> K.SNAPSHOT_ID_BITS != 0) {
            revert PriceBook__InvalidParameter();
        }
        uint256[] memory p = new uint256[](slots);
        uint256[] memory l = new uint256[](slots);
        for (uint256 i; i < prices.length; ++i) {
            if (prices[i] >> K.PRICE_BITS != 0 || lts[i] >> K.BPS_BITS != 0) revert PriceBook__InvalidParameter();
            p[i] = prices[i];
            l[i] = lts[i];
        }
        return _hash(id, _pack(p, l));
    }

    // ------------------------------------------------------------------ listings (admin)

    /// @notice List `token` in the next free slot with its Chainlink `feed`.
    /// @dev Slot order is the Health circuit's: the first listing (slot 0) must be the vault's
    ///      margin token. Only ORACLE_ADMIN_ROLE.
    /// @param token The ERC-20 the slot prices.
    /// @param feed Its USD price feed; any decimals up to MAX_FEED_DECIMALS (scaled to 8).
    /// @param liquidationThresholdBps Share of value counted as collateral, ≤ 10_000.
    /// @return slot The slot assigned.
    function listAsset(address token, AggregatorV3Interface feed, uint16 liquidationThresholdBps)
        external
        onlyRole(ORACLE_ADMIN_ROLE)
        returns (uint256 slot)
    {
        if (token == address(0) || address(feed) == address(0)) revert PriceBook__ZeroAddress();
        slot = _listings.length;
        if (slot == slots) revert PriceBook__SlotsFull(slots);
        for (uint256 i; i < slot; ++i) {
            if (_tokens[i] == token) revert PriceBook__AlreadyListed(token, i);
        }
        _checkThreshold(liquidationThresholdBps);
        uint8 decimals = _feedDecimals(feed);
        _listings.push(Listing(feed, liquidationThresholdBps, decimals));
        _tokens.push(token);
        emit AssetListed(slot, token, address(feed), liquidationThresholdBps, decimals);
    }

    /// @notice Replace the feed of `slot` (e.g. a Chainlink proxy migration). Only ORACLE_ADMIN_ROLE.
    /// @param slot A listed slot.
    /// @param feed The new feed.
    function setFeed(uint256 slot, AggregatorV3Interface feed) external onlyRole(ORACLE_ADMIN_ROLE) {
        if (address(feed) == address(0)) revert PriceBook__ZeroAddress();
        Listing storage entry = _listing(slot);
        uint8 decimals = _feedDecimals(feed);
        emit FeedChanged(slot, address(entry.feed), address(feed), decimals);
        entry.feed = feed;
        entry.feedDecimals = decimals;
    }

    /// @notice Change the liquidation threshold of `slot`; the next snapshot commits it.
    ///         Only ORACLE_ADMIN_ROLE.
    /// @param slot A listed slot.
    /// @param liquidationThresholdBps The new threshold, ≤ 10_000.
    function setLiquidationThreshold(uint256 slot, uint16 liquidationThresholdBps)
        external
        onlyRole(ORACLE_ADMIN_ROLE)
    {
        _checkThreshold(liquidationThresholdBps);
        Listing storage entry = _listing(slot);
        emit LiquidationThresholdChanged(slot, entry.liquidationThresholdBps, liquidationThresholdBps);
        entry.liquidationThresholdBps = liquidationThresholdBps;
    }

    /// @notice Set the feed age limit (seconds, > 0). Only ORACLE_ADMIN_ROLE.
    /// @param maxPriceAge_ The new limit.
    function setMaxPriceAge(uint64 maxPriceAge_) external onlyRole(ORACLE_ADMIN_ROLE) {
        if (maxPriceAge_ == 0) revert PriceBook__InvalidParameter();
        emit MaxPriceAgeChanged(maxPriceAge, maxPriceAge_);
        maxPriceAge = maxPriceAge_;
    }

    // ------------------------------------------------------------------ views

    /// @notice Number of listed assets (≤ slots).
    function assetCount() external view returns (uint256) {
        return _listings.length;
    }

    /// @inheritdoc IPriceBook
    function tokenAt(uint256 slot) external view returns (address) {
        if (slot >= _tokens.length) revert PriceBook__UnknownSlot(slot);
        return _tokens[slot];
    }

    /// @notice The listing of `slot`.
    /// @return token The asset.
    /// @return feed Its price feed.
    /// @return liquidationThresholdBps Its liquidation threshold.
    /// @return feedDecimals The feed's decimals.
    function listing(uint256 slot)
        external
        view
        returns (address token, address feed, uint16 liquidationThresholdBps, uint8 feedDecimals)
    {
        Listing storage l = _listing(slot);
        return (_tokens[slot], address(l.feed), l.liquidationThresholdBps, l.feedDecimals);
    }

    // ------------------------------------------------------------------ internals

    function _listing(uint256 slot) internal view returns (Listing storage) {
        if (slot >= _listings.length) revert PriceBook__UnknownSlot(slot);
        return _listings[slot];
    }

    function _checkThreshold(uint256 bps) internal pure {
        if (bps > K.BPS_SCALE) revert PriceBook__InvalidLiquidationThreshold(bps);
    }

    function _feedDecimals(AggregatorV3Interface feed) internal view returns (uint8 decimals) {
        decimals = feed.decimals();
        if (decimals > MAX_FEED_DECIMALS) revert PriceBook__UnsupportedDecimals(decimals);
    }

    /// @dev Chainlink checks, then scaling to 8 decimals (a feed with more decimals is rounded down).
    function _readFeed(uint256 slot, Listing memory entry, uint256 maxAge)
        internal
        view
        returns (uint256 price, uint256 updatedAt)
    {
        (uint80 roundId, int256 answer,, uint256 updated, uint80 answeredInRound) = entry.feed.latestRoundData();
        if (updated == 0 || answeredInRound < roundId) {
            revert PriceBook__IncompleteRound(slot, roundId, answeredInRound, updated);
        }
        if (answer <= 0) revert PriceBook__NonPositivePrice(slot, answer);
        if (updated > block.timestamp) revert PriceBook__FuturePrice(slot, updated);
        if (block.timestamp - updated > maxAge) revert PriceBook__StalePrice(slot, updated, maxAge);
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 raw = uint256(answer); // > 0, checked above
        uint256 decimals = entry.feedDecimals;
        if (decimals >= K.PRICE_DECIMALS) {
            price = raw / 10 ** (decimals - K.PRICE_DECIMALS);
        } else {
            uint256 factor = 10 ** (K.PRICE_DECIMALS - decimals);
            // Refuse before multiplying: an absurd answer must not overflow into a panic.
            if (raw > ((1 << K.PRICE_BITS) - 1) / factor) revert PriceBook__PriceOutOfRange(slot, answer);
            price = raw * factor;
        }
        if (price == 0) revert PriceBook__NonPositivePrice(slot, answer);
        if (price >> K.PRICE_BITS != 0) revert PriceBook__PriceOutOfRange(slot, answer);
        updatedAt = updated;
    }

    function _pack(uint256[] memory prices, uint256[] memory lts) internal pure returns (uint256[] memory words) {
        uint256 n = prices.length;
        words = new uint256[]((n + K.SLOTS_PER_WORD - 1) / K.SLOTS_PER_WORD);
        for (uint256 i; i < n; ++i) {
            uint256 slotValue = prices[i] | (lts[i] << K.PRICE_BITS);
            words[i / K.SLOTS_PER_WORD] |= slotValue << (K.SLOT_BITS * (i % K.SLOTS_PER_WORD));
        }
    }

    /// @dev PoseidonChain(seed = id, words): acc = Poseidon5(acc, 4 words, zero-padded).
    function _hash(uint256 id, uint256[] memory words) internal view returns (uint256 acc) {
        acc = id;
        uint256 n = words.length;
        for (uint256 k; k < n; k += K.POSEIDON_CHAIN_ARITY) {
            uint256[5] memory input;
            input[0] = acc;
            for (uint256 j; j < K.POSEIDON_CHAIN_ARITY && k + j < n; ++j) {
                input[j + 1] = words[k + j];
            }
            acc = poseidon.poseidon(input);
        }
    }
}
