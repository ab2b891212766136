// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {
    AccessControlDefaultAdminRules
} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";

import {AggregatorV3Interface} from "./interfaces/AggregatorV3Interface.sol";
import {IPoseidon5} from "./interfaces/IPoseidon5.sol";
import {IPriceBook} from "./interfaces/IPriceBook.sol";
import {ZkRiskConstants as K} from "./ZkRiskConstants.sol";

/// @title PriceBook
/// @notice zkrisk's oracle adapter. It lists up to `slots` assets in the Health circuit's slot
///         order (slot 0 = the vault's margin token), each with a primary Chainlink-style feed, an
///         optional secondary one (another Chainlink feed, or Pyth through PythAggregatorV3), a
///         heartbeat per feed, answer bounds and a liquidation threshold. `takeSnapshot` prices
///         every asset and commits the prices with ONE Poseidon hash — the proof's public
///         `snapshotHash` — so a proof names N prices with a single public input.
/// @dev Pricing an asset (see `_price`):
///      - each feed is read with a gas-capped staticcall into a fixed buffer: a reverting feed,
///        a feed returning malformed data or a return-data bomb is a failed source, never a
///        failed snapshot;
///      - `decimals()` is read on every snapshot and must equal the decimals seen at listing: a
///        feed migrated to other decimals would otherwise be mis-scaled by 10^k;
///      - a round must be complete, positive, not from the future, at most the feed's own
///        heartbeat old (a 24 h USDC/USD feed beside a 1 h ETH/USD one), and its 8-decimal price
///        within [minAnswer, maxAnswer] (set these inside Chainlink's circuit-breaker bounds:
///        an aggregator clamps at them, so a clamped answer is not a price);
///      - primary valid: it is used; if the secondary is valid too and they deviate by more than
///        maxDeviationBps (relative to the primary), the snapshot is DEGRADED but the primary is
///        still used: the curated source stays authoritative, and a degraded snapshot makes the
///        vault demand a higher health of desks instead of freezing every price (refusing would
///        let one bad secondary block liquidations). A failing secondary alone does not degrade;
///        `readPrice` shows it to monitors.
///      - primary invalid, secondary valid: the secondary is used and the snapshot is DEGRADED;
///      - neither valid: PriceBook__NoValidPrice(slot).
///      Liveness: at most one snapshot per `minSnapshotInterval` (storage spam); a snapshot taken
///      more than `outageGap` after the previous one ends an oracle outage and opens `oracleGrace`;
///      on an L2 with a Chainlink sequencer-uptime feed, no snapshot while the sequencer is down
///      and `sequencerGrace` after it comes back (`graceEndsAt`).
///      Snapshot hash (mirrors zkrisk.engine.statements.snapshot and circuits/SnapshotHash.circom):
///        slot_i = price_i + lt_i · 2^PRICE_BITS        (price: 8-decimal USD, lt: bps)
///        word_j = slot_3j + slot_3j+1 · 2^80 + slot_3j+2 · 2^160
///        hash   = PoseidonChain(seed = snapshotId, words), folding 4 words per Poseidon(5) call.
///      Unlisted slots are (price 0, lt 0), as the engine pads them.
contract PriceBook is IPriceBook, AccessControlDefaultAdminRules {
    /// @notice May list assets, change their sources, bounds and thresholds, and the liveness rules.
    bytes32 public constant ORACLE_ADMIN_ROLE = keccak256("ORACLE_ADMIN_ROLE");
    /// @notice Feeds with more decimals than this are refused (10^36 is the scaling limit).
    uint8 public constant MAX_FEED_DECIMALS = 36;
    /// @notice Gas given to each feed call; a call needs this much available or the snapshot
    ///         reverts (PriceBook__InsufficientGas), so a low gas limit cannot fake a failed feed.
    uint256 public constant FEED_CALL_GAS = 100_000;

    /// @notice Feed heartbeat bounds (seconds): a feed older than its heartbeat is stale.
    uint32 public constant MIN_HEARTBEAT = 60;
    uint32 public constant MAX_HEARTBEAT = 2 days;
    /// @notice Deviation bounds between primary and secondary (bps of the primary).
    uint16 public constant MIN_DEVIATION_BPS = 10;
    uint16 public constant MAX_DEVIATION_BPS = 2_000;
    /// @notice Snapshot rate-limit bounds; the upper bound is the vault's smallest snapshot window,
    ///         so a fresh snapshot can always be taken within any window.
    uint32 public constant MIN_SNAPSHOT_INTERVAL = 1;
    uint32 public constant MAX_SNAPSHOT_INTERVAL = 60;
    /// @notice Bounds of the outage gap and of both grace periods (seconds).
    uint32 public constant MIN_OUTAGE_GAP = 5 minutes;
    uint32 public constant MAX_OUTAGE_GAP = 1 days;
    uint32 public constant MIN_GRACE = 5 minutes;
    uint32 public constant MAX_GRACE = 1 days;

    /// @notice Why a price source was not used (or, for a secondary, `Deviates`).
    enum FeedStatus {
        Valid,
        Missing,
        CallFailed,
        WrongDecimals,
        IncompleteRound,
        NonPositive,
        FutureUpdate,
        Stale,
        OutOfBounds,
        Deviates
    }

    /// @notice The admin's description of one asset's price sources.
    /// @param primary The authoritative feed.
    /// @param primaryHeartbeat Max age of the primary's answer (s), in [MIN_HEARTBEAT, MAX_HEARTBEAT].
    /// @param secondary Fallback and cross-check feed; address(0) = none.
    /// @param secondaryHeartbeat As primaryHeartbeat; 0 iff there is no secondary.
    /// @param minAnswer Lowest accepted price, 8-decimal USD, ≥ 1.
    /// @param maxAnswer Highest accepted price, 8-decimal USD, > minAnswer, < 2^PRICE_BITS.
    /// @param maxDeviationBps Primary/secondary deviation beyond which the snapshot is degraded;
    ///        0 iff there is no secondary, else in [MIN_DEVIATION_BPS, MAX_DEVIATION_BPS].
    /// @param liquidationThresholdBps Share of value counted as collateral, ≤ 10_000.
    struct AssetConfig {
        AggregatorV3Interface primary;
        uint32 primaryHeartbeat;
        AggregatorV3Interface secondary;
        uint32 secondaryHeartbeat;
        uint64 minAnswer;
        uint64 maxAnswer;
        uint16 maxDeviationBps;
        uint16 liquidationThresholdBps;
    }

    /// @notice Snapshot rate limit, outage detection and the L2 sequencer.
    /// @param minSnapshotInterval Seconds between snapshots, in [MIN_, MAX_SNAPSHOT_INTERVAL].
    /// @param outageGap A snapshot more than this after the previous one ends an oracle outage.
    /// @param oracleGrace Grace after an oracle outage ends.
    /// @param sequencerFeed Chainlink L2 sequencer-uptime feed; address(0) = none (L1).
    /// @param sequencerGrace Grace after the sequencer is back up; 0 iff there is no feed.
    struct LivenessConfig {
        uint32 minSnapshotInterval;
        uint32 outageGap;
        uint32 oracleGrace;
        AggregatorV3Interface sequencerFeed;
        uint32 sequencerGrace;
    }

    /// @dev One listed asset: 3 storage slots (primary, secondary, bounds).
    struct Listing {
        AggregatorV3Interface primary;
        uint32 primaryHeartbeat;
        uint8 primaryDecimals;
        uint16 liquidationThresholdBps;
        uint16 maxDeviationBps;
        AggregatorV3Interface secondary;
        uint32 secondaryHeartbeat;
        uint8 secondaryDecimals;
        uint64 minAnswer;
        uint64 maxAnswer;
    }

    /// @dev One feed's latest round, as read and judged.
    struct Reading {
        FeedStatus status;
        uint256 price;
        uint256 updatedAt;
    }

    /// @dev One feed's latest round, as returned (full-width words).
    struct Round {
        bool ok;
        uint256 roundId;
        int256 answer;
        uint256 startedAt;
        uint256 updatedAt;
        uint256 answeredInRound;
    }

    /// @inheritdoc IPriceBook
    uint256 public immutable slots;
    /// @notice circomlibjs' Poseidon(5) contract.
    IPoseidon5 public immutable poseidon;

    /// @inheritdoc IPriceBook
    uint64 public latestSnapshotId;
    /// @notice takenAt of the latest snapshot (0 before the first).
    uint64 public lastSnapshotAt;
    /// @notice When the last oracle outage ended (0 = none seen).
    uint64 public lastOutageEndedAt;
    LivenessConfig internal _liveness;
    Listing[] internal _listings;
    address[] internal _tokens;
    mapping(uint256 id => Snapshot) internal _snapshots;

    /// @notice No source of `slot` gave a valid price (see `readPrice(slot)` for each one's status).
    error PriceBook__NoValidPrice(uint256 slot);
    /// @notice A snapshot was taken less than minSnapshotInterval ago; retry at `nextAllowedAt`.
    error PriceBook__SnapshotTooSoon(uint64 nextAllowedAt);
    /// @notice The L2 sequencer is down (or its uptime feed unreadable): prices cannot be trusted.
    error PriceBook__SequencerDown();
    /// @notice The transaction has too little gas left to give a feed call FEED_CALL_GAS; raise
    ///         the gas limit.
    error PriceBook__InsufficientGas();
    /// @notice A parameter is out of its bounds; `what` names it and the rule.
    error PriceBook__InvalidParameter(string what);
    /// @notice No asset is listed yet: list slot 0 (the margin token) first.
    error PriceBook__NoAssets();
    /// @notice All `slots` slots are taken.
    error PriceBook__SlotsFull(uint256 slots);
    /// @notice `slot` is not listed.
    error PriceBook__UnknownSlot(uint256 slot);
    /// @notice `token` is listed already, in `slot`.
    error PriceBook__AlreadyListed(address token, uint256 slot);
    /// @notice Zero address for a primary feed, a token, the Poseidon contract or the admin.
    error PriceBook__ZeroAddress();

    /// @notice Asset `token` listed in `slot`.
    event AssetListed(uint256 indexed slot, address indexed token, AssetConfig config);
    /// @notice The sources, bounds or threshold of `slot` changed (from the next snapshot on).
    event AssetConfigChanged(uint256 indexed slot, AssetConfig config);
    /// @notice The liveness rules changed.
    event LivenessChanged(LivenessConfig config);
    /// @notice No snapshot between `gapStart` (the previous one) and `endedAt`: an oracle outage;
    ///         liquidations wait for oracleGrace after `endedAt`.
    event OracleOutageEnded(uint64 gapStart, uint64 endedAt);
    /// @notice Asset `slot` is degraded in snapshot `snapshotId`: the primary failed
    ///         (`primaryStatus` says why, the secondary was used) or `secondaryStatus` = Deviates.
    event PriceDegraded(
        uint256 indexed snapshotId, uint256 indexed slot, FeedStatus primaryStatus, FeedStatus secondaryStatus
    );
    /// @notice Snapshot `snapshotId` committed. `prices` (8-decimal USD) and
    ///         `liquidationThresholds` (bps) have `slots` entries, zero for unlisted slots: with the
    ///         id they are exactly the preimage of `hash`. `degraded`: see IPriceBook.Snapshot.
    event SnapshotTaken(
        uint256 indexed snapshotId,
        uint256 hash,
        uint64 takenAt,
        uint64 oldestPriceAt,
        uint256[] prices,
        uint256[] liquidationThresholds,
        bool degraded
    );

    /// @param slots_ The Health circuit's N (4 for Health4Verifier).
    /// @param poseidon_ circomlibjs' Poseidon(5) contract.
    /// @param admin Receives DEFAULT_ADMIN_ROLE (two-step transfer, `adminDelay`) and
    ///        ORACLE_ADMIN_ROLE: the timelock in production.
    /// @param adminDelay AccessControlDefaultAdminRules' delay for admin transfers (s).
    /// @param liveness_ The rate limit, outage gap, grace periods and sequencer feed.
    /// @param tokens Assets listed at deployment, in slot order (may be empty), so that the
    ///        admin can be the timelock from the first block.
    /// @param assets Their price sources, same length as `tokens`.
    constructor(
        uint256 slots_,
        IPoseidon5 poseidon_,
        address admin,
        uint48 adminDelay,
        LivenessConfig memory liveness_,
        address[] memory tokens,
        AssetConfig[] memory assets
    ) AccessControlDefaultAdminRules(adminDelay, admin) {
        if (address(poseidon_) == address(0)) revert PriceBook__ZeroAddress();
        if (slots_ == 0 || slots_ >= 1 << K.BPS_BITS) revert PriceBook__InvalidParameter("slots: [1, 65535]");
        if (tokens.length != assets.length) revert PriceBook__InvalidParameter("tokens and assets: same length");
        slots = slots_;
        poseidon = poseidon_;
        _grantRole(ORACLE_ADMIN_ROLE, admin);
        _setLiveness(liveness_);
        for (uint256 i; i < tokens.length; ++i) {
            _listAsset(tokens[i], assets[i]);
        }
    }

    // ------------------------------------------------------------------ snapshots

    /// @inheritdoc IPriceBook
    /// @dev Permissionless: it only records public oracle data, and keepers need it to be live.
    ///      Reverts PriceBook__SequencerDown, __SnapshotTooSoon, __NoValidPrice(slot).
    function takeSnapshot() external returns (uint64 id, uint256 hash) {
        uint256 n = _listings.length;
        if (n == 0) revert PriceBook__NoAssets();
        // forge-lint: disable-next-line(unsafe-typecast)
        uint64 now_ = uint64(block.timestamp); // seconds fit 64 bits
        _checkLiveness(now_);
        id = latestSnapshotId + 1;
        (uint256[] memory prices, uint256[] memory lts, uint256 oldest, bool degraded) = _priceAll(id, n);
        hash = _hash(id, _pack(prices, lts));
        latestSnapshotId = id;
        lastSnapshotAt = now_;
        // forge-lint: disable-next-line(unsafe-typecast)
        uint64 oldestAt = uint64(oldest); // ≤ block.timestamp
        _snapshots[id] = Snapshot(hash, now_, oldestAt, degraded);
        emit SnapshotTaken(id, hash, now_, oldestAt, prices, lts, degraded);
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

    /// @inheritdoc IPriceBook
    /// @dev The sequencer term is read live from the uptime feed (an unreadable feed counts as
    ///      down: fail closed); the oracle term uses the current oracleGrace.
    ///      Reads sequencerGrace's slot only when there is a sequencer feed (withdrawals and
    ///      liquidations call this: one cold slot less on L1).
    function graceEndsAt() external view returns (uint64) {
        LivenessConfig storage rules = _liveness;
        uint256 outageEndedAt = lastOutageEndedAt;
        uint256 ends = outageEndedAt == 0 ? 0 : outageEndedAt + rules.oracleGrace;
        AggregatorV3Interface feed = rules.sequencerFeed;
        if (address(feed) != address(0)) {
            (bool up, uint256 upSince) = _sequencerStatus(feed);
            if (!up) return type(uint64).max;
            uint256 sequencerEnds = upSince + rules.sequencerGrace;
            if (sequencerEnds > ends) ends = sequencerEnds;
        }
        // forge-lint: disable-next-line(unsafe-typecast)
        return ends >= type(uint64).max ? type(uint64).max - 1 : uint64(ends); // max means "down"
    }

    /// @notice Earliest time the next snapshot may be taken (0 before the first).
    function nextSnapshotAt() external view returns (uint64) {
        uint64 previousAt = lastSnapshotAt;
        return previousAt == 0 ? 0 : previousAt + _liveness.minSnapshotInterval;
    }

    /// @notice The price `takeSnapshot` would use for `slot` now, with each source's status.
    /// @return price 8-decimal USD; 0 when no source is valid (takeSnapshot would revert).
    /// @return updatedAt The used source's `updatedAt`.
    /// @return degraded Whether the asset would degrade the snapshot.
    /// @return primaryStatus The primary feed's status.
    /// @return secondaryStatus The secondary's (Missing if none; Deviates if too far apart).
    function readPrice(uint256 slot)
        external
        view
        returns (uint256 price, uint64 updatedAt, bool degraded, FeedStatus primaryStatus, FeedStatus secondaryStatus)
    {
        Reading memory used;
        (used, degraded, primaryStatus, secondaryStatus) = _price(_listing(slot));
        if (used.status == FeedStatus.Valid) {
            price = used.price;
            // forge-lint: disable-next-line(unsafe-typecast)
            updatedAt = uint64(used.updatedAt); // ≤ block.timestamp for a valid reading
        }
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
        if (prices.length != lts.length || prices.length > slots) {
            revert PriceBook__InvalidParameter("prices and lts: same length, at most slots");
        }
        if (id >> K.SNAPSHOT_ID_BITS != 0) revert PriceBook__InvalidParameter("id: < 2^64");
        uint256[] memory p = new uint256[](slots);
        uint256[] memory l = new uint256[](slots);
        for (uint256 i; i < prices.length; ++i) {
            if (prices[i] >> K.PRICE_BITS != 0 || lts[i] >> K.BPS_BITS != 0) {
                revert PriceBook__InvalidParameter("price < 2^64 and lt < 2^16");
            }
            p[i] = prices[i];
            l[i] = lts[i];
        }
        return _hash(id, _pack(p, l));
    }

    // ------------------------------------------------------------------ admin (ORACLE_ADMIN_ROLE)

    /// @notice List `token` in the next free slot with its price sources.
    /// @dev Slot order is the Health circuit's: the first listing (slot 0) must be the vault's
    ///      margin token. Each feed's decimals are read now and checked on every snapshot.
    /// @param token The ERC-20 the slot prices.
    /// @param config Its sources, heartbeats, bounds and threshold (see AssetConfig).
    /// @return slot The slot assigned.
    function listAsset(address token, AssetConfig calldata config)
        external
        onlyRole(ORACLE_ADMIN_ROLE)
        returns (uint256 slot)
    {
        return _listAsset(token, config);
    }

    /// @notice Replace the sources, heartbeats, bounds and threshold of `slot` (e.g. a Chainlink
    ///         proxy migration); the feeds' decimals are read again.
    /// @param slot A listed slot.
    /// @param config The new configuration.
    function setAssetConfig(uint256 slot, AssetConfig calldata config) external onlyRole(ORACLE_ADMIN_ROLE) {
        _listing(slot);
        _listings[slot] = _checkedListing(config);
        emit AssetConfigChanged(slot, config);
    }

    /// @notice Replace the liveness rules (rate limit, outage gap, graces, sequencer feed).
    /// @param config The new rules (see LivenessConfig for the bounds).
    function setLiveness(LivenessConfig calldata config) external onlyRole(ORACLE_ADMIN_ROLE) {
        _setLiveness(config);
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
    /// @return config Its configuration, as set.
    /// @return primaryDecimals The primary's decimals at listing (required on every read).
    /// @return secondaryDecimals The secondary's (0 if none).
    function listing(uint256 slot)
        external
        view
        returns (address token, AssetConfig memory config, uint8 primaryDecimals, uint8 secondaryDecimals)
    {
        Listing storage l = _listing(slot);
        config = AssetConfig(
            l.primary,
            l.primaryHeartbeat,
            l.secondary,
            l.secondaryHeartbeat,
            l.minAnswer,
            l.maxAnswer,
            l.maxDeviationBps,
            l.liquidationThresholdBps
        );
        return (_tokens[slot], config, l.primaryDecimals, l.secondaryDecimals);
    }

    /// @notice The liveness rules.
    function liveness() external view returns (LivenessConfig memory) {
        return _liveness;
    }

    // ------------------------------------------------------------------ internals: admin

    function _listAsset(address token, AssetConfig memory config) internal returns (uint256 slot) {
        if (token == address(0)) revert PriceBook__ZeroAddress();
        slot = _listings.length;
        if (slot == slots) revert PriceBook__SlotsFull(slots);
        for (uint256 i; i < slot; ++i) {
            if (_tokens[i] == token) revert PriceBook__AlreadyListed(token, i);
        }
        _listings.push(_checkedListing(config));
        _tokens.push(token);
        emit AssetListed(slot, token, config);
    }

    function _checkedListing(AssetConfig memory c) internal view returns (Listing memory l) {
        if (address(c.primary) == address(0)) revert PriceBook__ZeroAddress();
        _checkHeartbeat(c.primaryHeartbeat, "primaryHeartbeat: [60 s, 2 days]");
        if (c.minAnswer == 0 || c.minAnswer >= c.maxAnswer) {
            revert PriceBook__InvalidParameter("answers: 1 <= minAnswer < maxAnswer");
        }
        if (c.liquidationThresholdBps > K.BPS_SCALE) {
            revert PriceBook__InvalidParameter("liquidationThresholdBps: <= 10000");
        }
        l.primary = c.primary;
        l.primaryHeartbeat = c.primaryHeartbeat;
        l.primaryDecimals = _listedDecimals(c.primary, "primary: decimals() failed or > 36");
        l.liquidationThresholdBps = c.liquidationThresholdBps;
        l.minAnswer = c.minAnswer;
        l.maxAnswer = c.maxAnswer;
        if (address(c.secondary) == address(0)) {
            if (c.secondaryHeartbeat != 0 || c.maxDeviationBps != 0) {
                revert PriceBook__InvalidParameter("no secondary: secondaryHeartbeat and maxDeviationBps 0");
            }
            return l;
        }
        if (address(c.secondary) == address(c.primary)) {
            revert PriceBook__InvalidParameter("secondary: differs from primary");
        }
        _checkHeartbeat(c.secondaryHeartbeat, "secondaryHeartbeat: [60 s, 2 days]");
        if (c.maxDeviationBps < MIN_DEVIATION_BPS || c.maxDeviationBps > MAX_DEVIATION_BPS) {
            revert PriceBook__InvalidParameter("maxDeviationBps: [10, 2000]");
        }
        l.secondary = c.secondary;
        l.secondaryHeartbeat = c.secondaryHeartbeat;
        l.secondaryDecimals = _listedDecimals(c.secondary, "secondary: decimals() failed or > 36");
        l.maxDeviationBps = c.maxDeviationBps;
    }

    function _setLiveness(LivenessConfig memory c) internal {
        if (c.minSnapshotInterval < MIN_SNAPSHOT_INTERVAL || c.minSnapshotInterval > MAX_SNAPSHOT_INTERVAL) {
            revert PriceBook__InvalidParameter("minSnapshotInterval: [1 s, 60 s]");
        }
        if (c.outageGap < MIN_OUTAGE_GAP || c.outageGap > MAX_OUTAGE_GAP) {
            revert PriceBook__InvalidParameter("outageGap: [5 min, 1 day]");
        }
        if (c.oracleGrace < MIN_GRACE || c.oracleGrace > MAX_GRACE) {
            revert PriceBook__InvalidParameter("oracleGrace: [5 min, 1 day]");
        }
        if (address(c.sequencerFeed) == address(0)) {
            if (c.sequencerGrace != 0) revert PriceBook__InvalidParameter("no sequencer feed: sequencerGrace 0");
        } else if (c.sequencerGrace < MIN_GRACE || c.sequencerGrace > MAX_GRACE) {
            revert PriceBook__InvalidParameter("sequencerGrace: [5 min, 1 day]");
        }
        _liveness = c;
        emit LivenessChanged(c);
    }

    function _checkHeartbeat(uint32 heartbeat, string memory what) internal pure {
        if (heartbeat < MIN_HEARTBEAT || heartbeat > MAX_HEARTBEAT) revert PriceBook__InvalidParameter(what);
    }

    function _listedDecimals(AggregatorV3Interface feed, string memory what) internal view returns (uint8) {
        (bool ok, uint256 decimals) = _decimals(feed);
        if (!ok || decimals > MAX_FEED_DECIMALS) revert PriceBook__InvalidParameter(what);
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint8(decimals); // ≤ 36
    }

    function _listing(uint256 slot) internal view returns (Listing storage) {
        if (slot >= _listings.length) revert PriceBook__UnknownSlot(slot);
        return _listings[slot];
    }

    // ------------------------------------------------------------------ internals: pricing

    /// @dev Sequencer up, rate limit, and outage detection (a gap > outageGap ends an outage now).
    function _checkLiveness(uint64 now_) internal {
        LivenessConfig memory rules = _liveness;
        if (address(rules.sequencerFeed) != address(0)) {
            (bool up,) = _sequencerStatus(rules.sequencerFeed);
            if (!up) revert PriceBook__SequencerDown();
        }
        uint64 previousAt = lastSnapshotAt;
        if (previousAt == 0) return; // the first snapshot ends no outage
        uint64 nextAt = previousAt + rules.minSnapshotInterval;
        if (now_ < nextAt) revert PriceBook__SnapshotTooSoon(nextAt);
        if (now_ - previousAt > rules.outageGap) {
            lastOutageEndedAt = now_;
            emit OracleOutageEnded(previousAt, now_);
        }
    }

    /// @dev Every listed asset's price and threshold (padded to `slots`), the oldest source time
    ///      used, and whether any asset is degraded (each one emits PriceDegraded).
    function _priceAll(uint64 id, uint256 n)
        internal
        returns (uint256[] memory prices, uint256[] memory lts, uint256 oldest, bool degraded)
    {
        prices = new uint256[](slots);
        lts = new uint256[](slots);
        oldest = block.timestamp;
        for (uint256 i; i < n; ++i) {
            Listing storage entry = _listings[i];
            (Reading memory used, bool assetDegraded, FeedStatus p, FeedStatus s) = _price(entry);
            if (used.status != FeedStatus.Valid) revert PriceBook__NoValidPrice(i);
            if (assetDegraded) {
                degraded = true;
                emit PriceDegraded(id, i, p, s);
            }
            prices[i] = used.price;
            lts[i] = entry.liquidationThresholdBps;
            if (used.updatedAt < oldest) oldest = used.updatedAt;
        }
    }

    /// @dev The price of one asset from its sources (see the contract's @dev for the rules).
    function _price(Listing storage entry)
        internal
        view
        returns (Reading memory used, bool degraded, FeedStatus primaryStatus, FeedStatus secondaryStatus)
    {
        (uint256 minAnswer, uint256 maxAnswer) = (entry.minAnswer, entry.maxAnswer);
        Reading memory p = _read(entry.primary, entry.primaryDecimals, entry.primaryHeartbeat, minAnswer, maxAnswer);
        Reading memory s;
        AggregatorV3Interface secondary = entry.secondary;
        if (address(secondary) == address(0)) {
            s.status = FeedStatus.Missing;
        } else {
            s = _read(secondary, entry.secondaryDecimals, entry.secondaryHeartbeat, minAnswer, maxAnswer);
        }
        if (p.status == FeedStatus.Valid) {
            if (s.status == FeedStatus.Valid) {
                uint256 gap = p.price > s.price ? p.price - s.price : s.price - p.price;
                if (gap * K.BPS_SCALE > uint256(entry.maxDeviationBps) * p.price) {
                    s.status = FeedStatus.Deviates;
                    degraded = true;
                }
            }
            return (p, degraded, p.status, s.status);
        }
        return (s, s.status == FeedStatus.Valid, p.status, s.status);
    }

    /// @dev One feed's latest round, judged: decimals as listed, a complete round, a positive
    ///      answer, not in the future, within `heartbeat`, scaled to 8 decimals (rounded down)
    ///      within [minAnswer, maxAnswer].
    function _read(
        AggregatorV3Interface feed,
        uint256 listedDecimals,
        uint256 heartbeat,
        uint256 minAnswer,
        uint256 maxAnswer
    ) internal view returns (Reading memory r) {
        (bool ok, uint256 decimals) = _decimals(feed);
        if (!ok) return _failed(FeedStatus.CallFailed);
        if (decimals != listedDecimals) return _failed(FeedStatus.WrongDecimals);
        Round memory round = _latestRound(feed);
        if (!round.ok || round.roundId >> 80 != 0 || round.answeredInRound >> 80 != 0) {
            return _failed(FeedStatus.CallFailed); // not a uint80 round id: malformed
        }
        uint256 updatedAt = round.updatedAt;
        if (updatedAt == 0 || round.answeredInRound < round.roundId) return _failed(FeedStatus.IncompleteRound);
        if (round.answer <= 0) return _failed(FeedStatus.NonPositive);
        if (updatedAt > block.timestamp) return _failed(FeedStatus.FutureUpdate);
        if (block.timestamp - updatedAt > heartbeat) return _failed(FeedStatus.Stale);
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 raw = uint256(round.answer); // > 0, checked above
        uint256 price;
        if (decimals >= K.PRICE_DECIMALS) {
            price = raw / 10 ** (decimals - K.PRICE_DECIMALS);
        } else {
            uint256 factor = 10 ** (K.PRICE_DECIMALS - decimals);
            // Refuse before multiplying: an absurd answer must not overflow into a panic.
            if (raw > maxAnswer / factor) return _failed(FeedStatus.OutOfBounds);
            price = raw * factor;
        }
        if (price < minAnswer || price > maxAnswer) return _failed(FeedStatus.OutOfBounds);
        return Reading(FeedStatus.Valid, price, updatedAt);
    }

    function _failed(FeedStatus status) internal pure returns (Reading memory r) {
        r.status = status;
    }

    /// @dev Chainlink sequencer-uptime feed: answer 0 = up, 1 = down; startedAt = when the status
    ///      last changed (0 = not initialised: counted as down, as Chainlink's docs advise). An
    ///      unreadable feed counts as down too (fail closed).
    function _sequencerStatus(AggregatorV3Interface feed) internal view returns (bool up, uint256 upSince) {
        Round memory round = _latestRound(feed);
        if (!round.ok || round.answer != 0 || round.startedAt == 0) return (false, 0);
        return (true, round.startedAt);
    }

    /// @dev decimals() through a gas-capped staticcall; false if it reverts or returns < 32 bytes.
    function _decimals(AggregatorV3Interface feed) internal view returns (bool ok, uint256 decimals) {
        bytes4 selector = AggregatorV3Interface.decimals.selector;
        _requireFeedGas();
        uint256 gasCap = FEED_CALL_GAS;
        assembly ("memory-safe") {
            let ptr := mload(0x40) // scratch past the free pointer; never allocated
            mstore(ptr, selector)
            let success := staticcall(gasCap, feed, ptr, 4, ptr, 32) // before returndatasize()
            ok := and(success, gt(returndatasize(), 31))
            decimals := mul(mload(ptr), ok)
        }
    }

    /// @dev latestRoundData() through a gas-capped staticcall into the 5 words of `round`; not ok
    ///      if it reverts or returns fewer than 160 bytes. Words are full width (unvalidated), so a
    ///      malformed answer is judged by `_read`, never a decoding revert; return data beyond
    ///      160 bytes is never copied (no return-data bomb).
    function _latestRound(AggregatorV3Interface feed) internal view returns (Round memory round) {
        bytes4 selector = AggregatorV3Interface.latestRoundData.selector;
        _requireFeedGas();
        uint256 gasCap = FEED_CALL_GAS;
        bool ok;
        assembly ("memory-safe") {
            let words := add(round, 32) // roundId, answer, startedAt, updatedAt, answeredInRound
            mstore(words, selector)
            let success := staticcall(gasCap, feed, words, 4, words, 160) // before returndatasize()
            ok := and(success, gt(returndatasize(), 159))
        }
        round.ok = ok;
    }

    /// @dev A call given less than FEED_CALL_GAS could fail for lack of gas and be mistaken for a
    ///      broken feed (degrading the snapshot at the caller's choice); so the caller must supply it.
    function _requireFeedGas() internal view {
        if (gasleft() < FEED_CALL_GAS + FEED_CALL_GAS / 63 + 5_000) revert PriceBook__InsufficientGas();
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
