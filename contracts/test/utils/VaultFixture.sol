// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ZkTest} from "./ZkTest.sol";
import {PriceBook} from "../../src/PriceBook.sol";
import {RiskVault} from "../../src/RiskVault.sol";
import {IPoseidon5} from "../../src/interfaces/IPoseidon5.sol";
import {IHealthVerifier} from "../../src/interfaces/IHealthVerifier.sol";
import {MockAggregator} from "../../src/mocks/MockAggregator.sol";
import {MockERC20} from "../../src/mocks/MockERC20.sol";
import {Health4Verifier} from "../../src/generated/Health4Verifier.sol";

/// @title VaultFixture
/// @notice Deploys the dev scenario (engine/chain/dev_scenario.py) exactly as the real-proof
///         fixtures assume: Poseidon(5) from circomlibjs bytecode, a 4-slot PriceBook listing
///         USDC (6 decimals, slot 0) / WETH (18-decimal feed) / WBTC, the generated
///         Health4Verifier, and the RiskVault created by VAULT_DEPLOYER at nonce 0 — the address
///         every fixture proof is bound to. Snapshot 1 (CALM) is taken in setUp.
/// @dev Fixtures: contracts/test/fixtures/vault.json, written by scripts/gen_forge_fixtures.py
///      (`make contracts-test` runs it first; the zkey is per machine, so they are not committed).
abstract contract VaultFixture is ZkTest {
    string internal constant FIXTURES = "test/fixtures/vault.json";
    uint256 internal constant START = 1_700_000_000;
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;

    IPoseidon5 internal poseidon;
    IHealthVerifier internal verifier;
    PriceBook internal book;
    RiskVault internal vault;
    MockERC20 internal margin;
    MockERC20[] internal tokens;
    MockAggregator[] internal feeds;

    address internal desk;
    address internal keeper;
    address internal beneficiary;
    address internal admin;
    address internal vaultDeployer;
    address internal expectedVault;
    address internal guardian = address(0x6A4D);
    address internal stranger = address(0x5742);
    uint256 internal deposit;
    uint256 internal withdrawal;
    uint256 internal commitment;
    uint256 internal rebalanced;
    uint256 internal calmHash;
    uint256 internal crashHash;
    uint256 internal slots;
    uint64 internal priceBookMaxAge;
    uint256[] internal feedDecimals;
    uint256[] internal lts;
    uint256[] internal calmAnswers;
    uint256[] internal crashAnswers;
    uint256[] internal calmPrices;
    RiskVault.Policy internal policy;
    // Parsed once in setUp: fuzz runs start from the post-setUp state and never re-read JSON.
    mapping(string name => uint256[8]) internal _proofs;
    mapping(string name => uint256[5]) internal _publics;

    function setUp() public virtual {
        vm.warp(START);
        if (!vm.exists(FIXTURES)) {
            revert ZkTest__AssertionFailed(
                "test/fixtures/vault.json missing: run `make contracts-test` (python scripts/gen_forge_fixtures.py)"
            );
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
        deposit = vm.parseJsonUint(fx, ".deposit");
        withdrawal = vm.parseJsonUint(fx, ".withdraw");
        commitment = vm.parseJsonUint(fx, ".commitment");
        rebalanced = vm.parseJsonUint(fx, ".rebalancedCommitment");
        calmHash = vm.parseJsonUint(fx, ".calmSnapshotHash");
        crashHash = vm.parseJsonUint(fx, ".crashSnapshotHash");
        slots = vm.parseJsonUint(fx, ".circuitSlots");
        priceBookMaxAge = uint64(vm.parseJsonUint(fx, ".priceBookMaxAge"));
        _tokenDecimals = vm.parseJsonUint(fx, ".tokenDecimals");
        feedDecimals = vm.parseJsonUintArray(fx, ".feedDecimals");
        lts = vm.parseJsonUintArray(fx, ".lts");
        calmAnswers = vm.parseJsonUintArray(fx, ".calmAnswers");
        crashAnswers = vm.parseJsonUintArray(fx, ".crashAnswers");
        calmPrices = vm.parseJsonUintArray(fx, ".calmPrices");
        policy = RiskVault.Policy({
            minHealthBps: uint16(vm.parseJsonUint(fx, ".minHealthBps")),
            closeFactorBps: uint16(vm.parseJsonUint(fx, ".closeFactorBps")),
            liquidationBonusBps: uint16(vm.parseJsonUint(fx, ".liquidationBonusBps")),
            maxPriceAge: uint32(vm.parseJsonUint(fx, ".maxPriceAge")),
            maxProofAge: uint32(vm.parseJsonUint(fx, ".maxProofAge")),
            liquidationCooldown: uint32(vm.parseJsonUint(fx, ".liquidationCooldown"))
        });
        string[5] memory names = ["commit", "withdraw", "update", "liquidate", "liquidateAfterWithdraw"];
        for (uint256 n; n < names.length; ++n) {
            uint256[] memory words = vm.parseJsonUintArray(fx, string.concat(".proofs.", names[n], ".proof"));
            uint256[] memory pub = vm.parseJsonUintArray(fx, string.concat(".proofs.", names[n], ".public"));
            for (uint256 i; i < 8; ++i) {
                _proofs[names[n]][i] = words[i];
            }
            for (uint256 i; i < 5; ++i) {
                _publics[names[n]][i] = pub[i];
            }
        }
        poseidon = IPoseidon5(_create(vm.parseJsonBytes(fx, ".poseidon5")));
    }

    /// @dev The margin token of the stack; overridden to test a malicious one.
    function _marginToken(uint8 decimals) internal virtual returns (MockERC20) {
        return new MockERC20("Mock USDC", "USDC", decimals);
    }

    /// @dev PriceBook + feeds at CALM prices + the vault at the fixtures' address, margin = `token`.
    function _deployStack(MockERC20 token) internal {
        margin = token;
        book = new PriceBook(slots, poseidon, admin, priceBookMaxAge);
        delete tokens;
        delete feeds;
        for (uint256 i; i < feedDecimals.length; ++i) {
            MockERC20 t = i == 0 ? token : new MockERC20("Mock asset", "MOCK", 18);
            MockAggregator f = new MockAggregator(uint8(feedDecimals[i]), "mock / USD");
            f.setAnswer(int256(calmAnswers[i]));
            book.listAsset(address(t), f, uint16(lts[i]));
            tokens.push(t);
            feeds.push(f);
        }
        RiskVault.Policy memory p = policy;
        vm.prank(vaultDeployer);
        vault = new RiskVault(verifier, book, token, admin, guardian, beneficiary, p);
        assertEq(address(vault), expectedVault);
        (, uint256 hash) = book.takeSnapshot();
        assertEq(hash, calmHash, "on-chain snapshot hash differs from the engine's");
    }

    function _create(bytes memory code) internal returns (address deployed) {
        assembly {
            deployed := create(0, add(code, 0x20), mload(code))
        }
        assertTrue(deployed != address(0), "Poseidon(5) bytecode failed to deploy");
    }

    /// @dev The real proof `name` (commit, withdraw, update, liquidate, liquidateAfterWithdraw).
    function _proof(string memory name) internal view returns (uint256[8] memory) {
        return _proofs[name];
    }

    /// @dev The public signals proof `name` was made for.
    function _public(string memory name) internal view returns (uint256[5] memory) {
        return _publics[name];
    }

    function _deposit(address who, uint256 amount) internal {
        margin.mint(who, amount);
        vm.startPrank(who);
        margin.approve(address(vault), amount);
        vault.deposit(amount);
        vm.stopPrank();
    }

    /// @dev Desk deposits the fixture amount and commits with the real proof (nonce 0 → 1).
    function _commitDesk() internal {
        _deposit(desk, deposit);
        vm.prank(desk);
        vault.commit(commitment, _proof("commit"));
    }

    /// @dev A minute later, feeds move to CRASH prices and snapshot 2 is taken.
    function _crash() internal {
        vm.warp(block.timestamp + 60);
        for (uint256 i; i < crashAnswers.length; ++i) {
            feeds[i].setAnswer(int256(crashAnswers[i]));
        }
        (uint64 id, uint256 hash) = book.takeSnapshot();
        assertEq(id, 2, "the crash snapshot must be snapshot 2");
        assertEq(hash, crashHash, "on-chain crash snapshot hash differs from the engine's");
    }

    /// @dev Re-publish every feed's current answer now (keeps prices fresh after a warp).
    function _refreshFeeds() internal {
        for (uint256 i; i < feeds.length; ++i) {
            (, int256 answer,,,) = feeds[i].latestRoundData();
            feeds[i].setAnswer(answer);
        }
    }

    /// @dev Copy `from`'s AccountState (2 storage slots of mapping slot 4) to `to`, so that a test
    ///      can show a proof fails for another account only because of the binding.
    function _cloneAccount(address from, address to) internal {
        bytes32 src = keccak256(abi.encode(from, uint256(4)));
        bytes32 dst = keccak256(abi.encode(to, uint256(4)));
        for (uint256 i; i < 2; ++i) {
            vm.store(address(vault), bytes32(uint256(dst) + i), vm.load(address(vault), bytes32(uint256(src) + i)));
        }
    }
}
