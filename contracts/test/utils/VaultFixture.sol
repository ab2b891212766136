// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ZkTest} from "./ZkTest.sol";
import {PriceBook} from "../../src/PriceBook.sol";
import {RiskVault} from "../../src/RiskVault.sol";
import {IPoseidon5} from "../../src/interfaces/IPoseidon5.sol";
import {IHealthVerifier} from "../../src/interfaces/IHealthVerifier.sol";
import {AggregatorV3Interface} from "../../src/interfaces/AggregatorV3Interface.sol";
import {MockAggregator} from "../../src/mocks/MockAggregator.sol";
import {MockERC20} from "../../src/mocks/MockERC20.sol";
import {Health4Verifier} from "../../src/generated/Health4Verifier.sol";

/// @title VaultFixture
/// @notice Deploys the dev scenario (engine/chain/dev_scenario.py) exactly as the real-proof
///         fixtures assume: Poseidon(5) from circomlibjs bytecode, the real 4-slot PriceBook
///         listing USDC (6 decimals, slot 0) / WETH (18-decimal feed) / WBTC, each with a primary
///         and a secondary feed, the generated Health4Verifier, and the RiskVault created by
///         VAULT_DEPLOYER at nonce 0 — the address every fixture proof is bound to. The desk's
///         attester is the fixtures' test key. Snapshot 1 (CALM) is taken in setUp.
/// @dev Fixtures: contracts/test/fixtures/vault.json, written by scripts/gen_forge_fixtures.py
///      (`make contracts-test` runs it first; the zkey is per machine, so they are not committed).
abstract contract VaultFixture is ZkTest {
    string internal constant FIXTURES = "test/fixtures/vault.json";
    uint256 internal constant START = 1_700_000_000;
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    uint48 internal constant ADMIN_DELAY = 2 days;
    uint32 internal constant MIN_SNAPSHOT_INTERVAL = 10;
    uint32 internal constant OUTAGE_GAP = 1 days;
    uint32 internal constant ORACLE_GRACE = 1 hours;

    IPoseidon5 internal poseidon;
    IHealthVerifier internal verifier;
    PriceBook internal book;
    RiskVault internal vault;
    MockERC20 internal margin;
    MockERC20[] internal tokens;
    MockAggregator[] internal feeds;
    MockAggregator[] internal secondaries;

    address internal desk;
    address internal keeper;
    address internal beneficiary;
    address internal admin;
    address internal attester;
    uint256 internal attesterKey;
    address internal vaultDeployer;
    address internal expectedVault;
    address internal guardian = address(0x6A4D);
    address internal stranger = address(0x5742);
    uint256 internal deposit;
    uint256 internal withdrawal;
    uint256 internal keeperMargin;
    uint256 internal keeperMarginAfterWithdraw;
    uint256 internal commitment;
    uint256 internal rebalanced;
    uint256 internal emptyCommitment;
    uint256 internal calmHash;
    uint256 internal crashHash;
    uint256 internal calm2Hash;
    uint256 internal slots;
    uint32 internal priceBookMaxAge;
    uint256[] internal feedDecimals;
    uint256[] internal lts;
    uint256[] internal calmAnswers;
    uint256[] internal crashAnswers;
    RiskVault.Policy internal policy;
    // Parsed once in setUp: fuzz runs start from the post-setUp state and never re-read JSON.
    mapping(string name => uint256[8]) internal _proofs;
    mapping(string name => uint256[5]) internal _publics;
    mapping(string name => bytes32) internal _pyDigests;

    string[13] internal PROOF_NAMES = [
        "update0",
        "withdraw",
        "update",
        "prove",
        "prove2",
        "proveDegraded2",
        "withdraw2",
        "emptyUpdate",
        "emptyWithdraw",
        "liquidate",
        "liquidate95",
        "liquidateExact",
        "liquidateAfterWithdraw"
    ];

    function setUp() public virtual {
        vm.warp(START);
        if (!vm.exists(FIXTURES)) {
            revert ZkTest__AssertionFailed("test/fixtures/vault.json missing: run `make contracts-test` (python scripts/gen_forge_fixtures.py)");
        }
        _parse(vm.readFile(FIXTURES));
        admin = address(this);
        verifier = IHealthVerifier(address(new Health4Verifier()));
        _deployStack(_marginToken(uint8(_tokenDecimals)));
    }

    uint256 private _tokenDecimals;

    function _parse(string memory fx) private {
        desk = vm.parseJsonAddress(fx, ".desk");
        keeper = vm.parseJsonAddress(fx, ".keeper");
        beneficiary = vm.parseJsonAddress(fx, ".beneficiary");
        vaultDeployer = vm.parseJsonAddress(fx, ".vaultDeployer");
        expectedVault = vm.parseJsonAddress(fx, ".vault");
        attester = vm.parseJsonAddress(fx, ".attester");
        attesterKey = vm.parseJsonUint(fx, ".attesterKey");
        assertEq(vm.addr(attesterKey), attester);
        deposit = vm.parseJsonUint(fx, ".deposit");
        withdrawal = vm.parseJsonUint(fx, ".withdraw");
        keeperMargin = vm.parseJsonUint(fx, ".keeperMargin");
        keeperMarginAfterWithdraw = vm.parseJsonUint(fx, ".keeperMarginAfterWithdraw");
        commitment = vm.parseJsonUint(fx, ".commitment");
        rebalanced = vm.parseJsonUint(fx, ".rebalancedCommitment");
        emptyCommitment = vm.parseJsonUint(fx, ".emptyCommitment");
        calmHash = vm.parseJsonUint(fx, ".calmSnapshotHash");
        crashHash = vm.parseJsonUint(fx, ".crashSnapshotHash");
        calm2Hash = vm.parseJsonUint(fx, ".calm2SnapshotHash");
        slots = vm.parseJsonUint(fx, ".circuitSlots");
        priceBookMaxAge = uint32(vm.parseJsonUint(fx, ".priceBookMaxAge"));
        _tokenDecimals = vm.parseJsonUint(fx, ".tokenDecimals");
        feedDecimals = vm.parseJsonUintArray(fx, ".feedDecimals");
        lts = vm.parseJsonUintArray(fx, ".lts");
        calmAnswers = vm.parseJsonUintArray(fx, ".calmAnswers");
        crashAnswers = vm.parseJsonUintArray(fx, ".crashAnswers");
        policy = RiskVault.Policy({
            minHealthBps: uint16(vm.parseJsonUint(fx, ".policy.min_health_bps")),
            degradedMinHealthBps: uint16(vm.parseJsonUint(fx, ".policy.degraded_min_health_bps")),
            closeFactorBps: uint16(vm.parseJsonUint(fx, ".policy.close_factor_bps")),
            liquidationBonusBps: uint16(vm.parseJsonUint(fx, ".policy.liquidation_bonus_bps")),
            staleSliceBps: uint16(vm.parseJsonUint(fx, ".policy.stale_slice_bps")),
            liquidationCooldown: uint32(vm.parseJsonUint(fx, ".policy.liquidation_cooldown")),
            maxProofAge: uint32(vm.parseJsonUint(fx, ".policy.max_proof_age")),
            maxPriceAge: uint32(vm.parseJsonUint(fx, ".policy.max_price_age")),
            snapshotWindow: uint32(vm.parseJsonUint(fx, ".policy.snapshot_window")),
            maxAttestationAge: uint32(vm.parseJsonUint(fx, ".policy.max_attestation_age")),
            minLeftover: uint128(vm.parseJsonUint(fx, ".policy.min_leftover"))
        });
        for (uint256 n; n < PROOF_NAMES.length; ++n) {
            string memory key = string.concat(".proofs.", PROOF_NAMES[n]);
            uint256[] memory words = vm.parseJsonUintArray(fx, string.concat(key, ".proof"));
            uint256[] memory pub = vm.parseJsonUintArray(fx, string.concat(key, ".public"));
            for (uint256 i; i < 8; ++i) {
                _proofs[PROOF_NAMES[n]][i] = words[i];
            }
            for (uint256 i; i < 5; ++i) {
                _publics[PROOF_NAMES[n]][i] = pub[i];
            }
        }
        string[3] memory atts = ["book", "rebalanced", "empty"];
        for (uint256 n; n < atts.length; ++n) {
            _pyDigests[atts[n]] = vm.parseJsonBytes32(fx, string.concat(".attestations.", atts[n], ".digest"));
        }
        poseidon = IPoseidon5(_create(vm.parseJsonBytes(fx, ".poseidon5")));
    }

    /// @dev The margin token of the stack; overridden to test a malicious one.
    function _marginToken(uint8 decimals) internal virtual returns (MockERC20) {
        return new MockERC20("Mock USDC", "USDC", decimals);
    }

    /// @dev Real PriceBook (primary + secondary feed per asset, at CALM prices) + the vault at the
    ///      fixtures' address, margin = `token`; the desk's attester registered; snapshot 1 taken.
    function _deployStack(MockERC20 token) internal {
        margin = token;
        delete tokens;
        delete feeds;
        delete secondaries;
        address[] memory listed = new address[](feedDecimals.length);
        PriceBook.AssetConfig[] memory configs = new PriceBook.AssetConfig[](feedDecimals.length);
        for (uint256 i; i < feedDecimals.length; ++i) {
            MockERC20 t = i == 0 ? token : new MockERC20("Mock asset", "MOCK", 18);
            MockAggregator f = new MockAggregator(uint8(feedDecimals[i]), "mock / USD");
            MockAggregator g = new MockAggregator(uint8(feedDecimals[i]), "mock secondary / USD");
            f.setAnswer(int256(calmAnswers[i]));
            g.setAnswer(int256(calmAnswers[i]));
            listed[i] = address(t);
            configs[i] = PriceBook.AssetConfig({
                primary: AggregatorV3Interface(address(f)),
                primaryHeartbeat: priceBookMaxAge,
                secondary: AggregatorV3Interface(address(g)),
                secondaryHeartbeat: priceBookMaxAge,
                minAnswer: 1,
                maxAnswer: uint64(1) << 62,
                maxDeviationBps: 100,
                liquidationThresholdBps: uint16(lts[i])
            });
            tokens.push(t);
            feeds.push(f);
            secondaries.push(g);
        }
        PriceBook.LivenessConfig memory liveness = PriceBook.LivenessConfig({
            minSnapshotInterval: MIN_SNAPSHOT_INTERVAL,
            outageGap: OUTAGE_GAP,
            oracleGrace: ORACLE_GRACE,
            sequencerFeed: AggregatorV3Interface(address(0)),
            sequencerGrace: 0
        });
        book = new PriceBook(slots, poseidon, admin, ADMIN_DELAY, liveness, listed, configs);
        RiskVault.Policy memory p = policy;
        vm.prank(vaultDeployer);
        vault = new RiskVault(verifier, book, token, admin, ADMIN_DELAY, guardian, beneficiary, p);
        assertEq(address(vault), expectedVault);
        vault.setAttester(desk, attester);
        (, uint256 hash) = book.takeSnapshot();
        assertEq(hash, calmHash, "on-chain snapshot hash differs from the engine's");
    }

    function _create(bytes memory code) internal returns (address deployed) {
        assembly {
            deployed := create(0, add(code, 0x20), mload(code))
        }
        assertTrue(deployed != address(0), "Poseidon(5) bytecode failed to deploy");
    }

    /// @dev The real proof `name` (see engine/chain/forge_fixtures.py::proof_plans).
    function _proof(string memory name) internal view returns (uint256[8] memory) {
        return _proofs[name];
    }

    /// @dev The public signals proof `name` was made for.
    function _public(string memory name) internal view returns (uint256[5] memory) {
        return _publics[name];
    }

    // ------------------------------------------------------------ attestations

    function _att(uint256 c, uint64 sequence) internal view returns (RiskVault.BookAttestation memory) {
        return RiskVault.BookAttestation({
            account: desk, commitment: c, sequence: sequence, issuedAt: uint64(block.timestamp)
        });
    }

    function _sign(uint256 key, RiskVault.BookAttestation memory att) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, vault.attestationDigest(att));
        return abi.encodePacked(r, s, v);
    }

    /// @dev The attester signs `c` as the desk's book number `sequence`, issued now.
    function _attested(uint256 c, uint64 sequence)
        internal
        view
        returns (RiskVault.BookAttestation memory att, bytes memory sig)
    {
        att = _att(c, sequence);
        sig = _sign(attesterKey, att);
    }

    /// @dev Anyone submits the attester's book `c` (sequence) for the desk.
    function _submitBook(uint256 c, uint64 sequence) internal {
        (RiskVault.BookAttestation memory att, bytes memory sig) = _attested(c, sequence);
        vm.prank(stranger);
        vault.submitAttestedBook(att, sig);
    }

    // ------------------------------------------------------------ scenario steps

    function _deposit(address who, uint256 amount) internal {
        margin.mint(who, amount);
        vm.startPrank(who);
        margin.approve(address(vault), amount);
        vault.deposit(amount);
        vm.stopPrank();
    }

    /// @dev Desk deposits the fixture amount and commits its attested book (sequence 1) with the
    ///      real proof at snapshot 1 (nonce 0 → 1).
    function _commitDesk() internal {
        _deposit(desk, deposit);
        (RiskVault.BookAttestation memory att, bytes memory sig) = _attested(commitment, 1);
        vm.prank(desk);
        vault.updateBook(att, sig, 1, _proof("update0"));
    }

    /// @dev A minute later, feeds move to CRASH prices and snapshot 2 is taken.
    function _crash() internal {
        vm.warp(block.timestamp + 60);
        _setAnswers(crashAnswers);
        (uint64 id, uint256 hash) = book.takeSnapshot();
        assertEq(id, 2, "the crash snapshot must be snapshot 2");
        assertEq(hash, crashHash, "on-chain crash snapshot hash differs from the engine's");
    }

    /// @dev `dt` seconds later, a calm snapshot 2 (the hash the *2 proofs were made for).
    function _calmSnapshot2(uint256 dt) internal {
        vm.warp(block.timestamp + dt);
        _setAnswers(calmAnswers);
        (uint64 id, uint256 hash) = book.takeSnapshot();
        assertEq(id, 2, "the calm snapshot must be snapshot 2");
        assertEq(hash, calm2Hash, "on-chain calm snapshot 2 hash differs from the engine's");
    }

    function _setAnswers(uint256[] memory answers) internal {
        for (uint256 i; i < answers.length; ++i) {
            feeds[i].setAnswer(int256(answers[i]));
            secondaries[i].setAnswer(int256(answers[i]));
        }
    }

    /// @dev Re-publish every feed's current answer now (keeps prices fresh after a warp).
    function _refreshFeeds() internal {
        for (uint256 i; i < feeds.length; ++i) {
            (, int256 answer,,,) = feeds[i].latestRoundData();
            feeds[i].setAnswer(answer);
            secondaries[i].setAnswer(answer);
        }
    }

    function _liquidate(string memory name, uint256 provenMargin, uint16 hfBelowBps) internal {
        vm.prank(keeper);
        vault.liquidate(desk, 2, provenMargin, hfBelowBps, _proof(name));
    }
}
