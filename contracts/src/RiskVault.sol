// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {Groth16Calldata} from "./Groth16Calldata.sol";
import {IHealthVerifier} from "./interfaces/IHealthVerifier.sol";
import {IPriceBook} from "./interfaces/IPriceBook.sol";
import {Action, ZkRiskConstants as K} from "./ZkRiskConstants.sol";

/// @title RiskVault
/// @notice Escrows one ERC-20 margin token per account and stores each account's portfolio
///         commitment (a Poseidon hash of its private book). Money moves only with a Groth16
///         Health proof bound to the exact action:
///         - `deposit` needs no proof (more margin only makes a book healthier);
///         - `commit` / `updateCommitment` / `withdraw` need a proof that the book, with the margin
///           left after the action, has HF ≥ `minHealthBps` at the LATEST price snapshot (no
///           picking older, better prices);
///         - `liquidate` needs a keeper's proof that HF < 1 at a fresh snapshot no older than the
///           account's last health proof (new snapshots cannot keep voiding keepers' proofs);
///         - `liquidateStale` needs no proof: an account whose last health proof is older than
///           `maxProofAge` (measured at the latest snapshot) is treated as unhealthy (fail closed).
/// @dev Public inputs are never taken from the caller except a new commitment: the vault derives
///      [commitment, snapshotHash, margin, thresholdMode, binding] from its own state, the price
///      book and the policy, so a proof can only be used for the one action it was made for.
///      binding = uint256(keccak256(abi.encode(chainId, vault, account, action, amount, nonce,
///      snapshotId))) mod 2^BINDING_BITS (zkrisk.engine.statements.binding; the circuit
///      range-checks it to 252 bits, so p − binding is no second valid input); the per-account nonce, never the
///      proof bytes (Groth16 proofs are malleable), stops replay.
///
///      Liquidation (both paths), Aave-style but on escrow only — the book's debts are private:
///        repay = escrow · closeFactorBps / 10_000     → `beneficiary` (the desk's lender / the
///                                                      protocol; stands in for the debt repaid)
///        bonus = repay · liquidationBonusBps / 10_000 → the keeper (msg.sender)
///      The policy keeps closeFactor · (1 + bonus) ≤ 1, so repay + bonus ≤ escrow. One liquidation
///      per account per `liquidationCooldown`: the desk gets time to re-prove (its committed debts
///      are now out of date) and a fail-closed account cannot be drained in one block.
///      Margin in proofs is in QTY fixed point (8 decimals): token amounts are rounded down for
///      the desk's proofs (HF ≥ threshold) and up for keepers' proofs (HF < 1), i.e. always
///      against the prover.
contract RiskVault is AccessControl, Pausable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using Groth16Calldata for IHealthVerifier;

    /// @notice May pause the vault (circuit breaker). Unpausing needs DEFAULT_ADMIN_ROLE.
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    /// @notice May change the policy and the beneficiary.
    bytes32 public constant RISK_ADMIN_ROLE = keccak256("RISK_ADMIN_ROLE");
    /// @notice Keepers prove HF < 1.0.
    uint256 public constant LIQUIDATION_HF_BPS = 10_000;

    /// @notice How an account was liquidated.
    enum LiquidationPath {
        PROOF,
        STALE_PROOF
    }

    /// @notice The risk policy (one storage slot).
    /// @param minHealthBps HF a desk must prove for withdraw / commit / update, in [10_000, 2^16).
    /// @param closeFactorBps Share of escrow paid to the beneficiary per liquidation, in (0, 10_000].
    /// @param liquidationBonusBps Keeper bonus as a share of the repaid amount.
    /// @param maxPriceAge A snapshot whose oldest price is older than this (seconds) is refused.
    /// @param maxProofAge An account whose last health proof's snapshot is older than this at the
    ///        latest snapshot is liquidatable without a proof.
    /// @param liquidationCooldown Minimum seconds between two liquidations of one account.
    struct Policy {
        uint16 minHealthBps;
        uint16 closeFactorBps;
        uint16 liquidationBonusBps;
        uint32 maxPriceAge;
        uint32 maxProofAge;
        uint32 liquidationCooldown;
    }

    /// @notice One account's state: everything but the commitment packs into one storage slot,
    ///         so an action reads and writes it once.
    /// @param escrow Margin held, in token units (≤ maxEscrow < 2^96).
    /// @param nonce Proof-gated actions so far; every proof binds the current value.
    /// @param lastProofAt `takenAt` of the snapshot of the last accepted health proof.
    /// @param lastLiquidatedAt Time of the last liquidation (0 = never).
    /// @param lastProofSnapshotId Snapshot of the last accepted health proof; later proofs may not
    ///        use older prices (48 bits: sequential ids, 2^48 snapshots is millions of years).
    /// @param commitment The book's commitment (0 = none yet).
    struct AccountState {
        uint96 escrow;
        uint32 nonce;
        uint40 lastProofAt;
        uint40 lastLiquidatedAt;
        uint48 lastProofSnapshotId;
        uint256 commitment;
    }

    /// @notice The generated Groth16 verifier of Health(N), N = priceBook.slots(). Immutable.
    IHealthVerifier public immutable verifier;
    /// @notice Source of price snapshots. Immutable.
    IPriceBook public immutable priceBook;
    /// @notice The escrowed ERC-20 (slot 0 of the price book). Immutable.
    IERC20 public immutable marginToken;
    /// @notice Largest escrow: its QTY amount fits the circuit's QTY_BITS and it fits uint96.
    uint256 public immutable maxEscrow;
    // token amount → QTY fixed point: amount · _qtyMul / _qtyDiv (one of them is 1).
    uint256 internal immutable _qtyMul;
    uint256 internal immutable _qtyDiv;

    Policy internal _policy;
    /// @notice Receives `repay` of every liquidation.
    address public beneficiary;
    /// @notice Time of the last unpause: proof ages count from here at the earliest, so a pause
    ///         never makes accounts liquidatable for not proving while proving was impossible.
    uint64 public provingResumedAt;
    mapping(address account => AccountState) internal _accounts;

    /// @notice Amount 0 where a positive amount is required.
    error RiskVault__ZeroAmount();
    /// @notice A zero address for the verifier, price book, token, admin, guardian or beneficiary.
    error RiskVault__ZeroAddress();
    /// @notice Commitment 0 is reserved for "no commitment".
    error RiskVault__ZeroCommitment();
    /// @notice `account` has committed before: use updateCommitment.
    error RiskVault__AlreadyCommitted(address account);
    /// @notice `account` has no commitment: commit first.
    error RiskVault__NoCommitment(address account);
    /// @notice Withdrawal of `requested` with only `escrow` escrowed.
    error RiskVault__InsufficientEscrow(uint256 escrow, uint256 requested);
    /// @notice The escrow would exceed `maxEscrow` (its QTY amount would not fit the circuit).
    error RiskVault__EscrowCapExceeded(uint256 escrow, uint256 maxEscrow);
    /// @notice The price book has no snapshot `snapshotId`.
    error RiskVault__UnknownSnapshot(uint256 snapshotId);
    /// @notice Snapshot `snapshotId` holds a price from `oldestPriceAt`, older than `maxPriceAge`:
    ///         take a new snapshot and prove against it.
    error RiskVault__StalePrice(uint256 snapshotId, uint256 oldestPriceAt, uint256 maxPriceAge);
    /// @notice Desks prove at the latest snapshot `latestId`, not at `snapshotId`: prove again.
    error RiskVault__NotLatestSnapshot(uint256 snapshotId, uint256 latestId);
    /// @notice The account last proved at snapshot `lastProofSnapshotId`; older prices are refused.
    error RiskVault__SnapshotBeforeLastProof(uint256 snapshotId, uint256 lastProofSnapshotId);
    /// @notice The Groth16 proof does not verify for the public inputs the vault derived.
    error RiskVault__InvalidProof();
    /// @notice `account`'s health proof is fresh until the latest snapshot passes `deadline`.
    error RiskVault__ProofNotStale(address account, uint256 lastProofAt, uint256 deadline);
    /// @notice `account` was liquidated recently; the next liquidation is possible at `notBefore`.
    error RiskVault__LiquidationCooldown(address account, uint256 notBefore);
    /// @notice `account`'s escrow is too small to seize anything.
    error RiskVault__NothingToSeize(address account);
    /// @notice A policy value is out of range; `what` names it.
    error RiskVault__InvalidPolicy(string what);
    /// @notice The price book's slot 0 holds `listed`, not the margin token.
    error RiskVault__MarginAssetMismatch(address marginToken, address listed);
    /// @notice The margin token has more than 36 decimals.
    error RiskVault__UnsupportedDecimals(uint8 decimals);
    /// @notice `publicSignals` was asked about an action the vault does not gate (ATTEST).
    error RiskVault__UnsupportedAction(Action action);

    /// @notice `account` deposited `amount` (the amount received); its escrow is now `escrow`.
    event Deposited(address indexed account, uint256 amount, uint256 escrow);
    /// @notice `account` committed its first book.
    event Committed(address indexed account, uint256 commitment, uint256 indexed snapshotId, uint256 nonce);
    /// @notice `account` replaced its book commitment.
    event CommitmentUpdated(
        address indexed account,
        uint256 oldCommitment,
        uint256 newCommitment,
        uint256 indexed snapshotId,
        uint256 nonce
    );
    /// @notice `account` withdrew `amount`; its escrow is now `escrow`.
    event Withdrawn(address indexed account, uint256 amount, uint256 escrow, uint256 indexed snapshotId, uint256 nonce);
    /// @notice `account` was liquidated by `keeper`: `repaid` went to `beneficiary`, `bonus` to the
    ///         keeper, `escrow` is left.
    event Liquidated(
        address indexed account,
        address indexed keeper,
        address beneficiary,
        LiquidationPath path,
        uint256 indexed snapshotId,
        uint256 nonce,
        uint256 repaid,
        uint256 bonus,
        uint256 escrow
    );
    /// @notice The policy changed.
    event PolicyChanged(Policy oldPolicy, Policy newPolicy);
    /// @notice The beneficiary changed.
    event BeneficiaryChanged(address oldBeneficiary, address newBeneficiary);
    /// @notice Proof ages count from `timestamp` at the earliest (set on unpause).
    event ProvingResumed(uint64 timestamp);

    /// @param verifier_ The generated Health(N) verifier.
    /// @param priceBook_ The price book; its slot 0 must list `marginToken_`.
    /// @param marginToken_ The escrowed ERC-20 (≤ 36 decimals).
    /// @param admin Receives DEFAULT_ADMIN_ROLE (roles, unpause) and RISK_ADMIN_ROLE (policy).
    /// @param guardian Receives GUARDIAN_ROLE (pause).
    /// @param beneficiary_ Receives the repaid share of liquidations.
    /// @param policy_ The initial policy (validated as by the setters).
    constructor(
        IHealthVerifier verifier_,
        IPriceBook priceBook_,
        IERC20Metadata marginToken_,
        address admin,
        address guardian,
        address beneficiary_,
        Policy memory policy_
    ) {
        if (
            address(verifier_) == address(0) || address(priceBook_) == address(0)
                || address(marginToken_) == address(0) || admin == address(0) || guardian == address(0)
        ) revert RiskVault__ZeroAddress();
        address listed = priceBook_.tokenAt(0);
        if (listed != address(marginToken_)) revert RiskVault__MarginAssetMismatch(address(marginToken_), listed);
        uint8 decimals = marginToken_.decimals();
        if (decimals > 36) revert RiskVault__UnsupportedDecimals(decimals);
        verifier = verifier_;
        priceBook = priceBook_;
        marginToken = IERC20(address(marginToken_));
        uint256 qtyMax = (1 << K.QTY_BITS) - 1;
        if (decimals <= K.QTY_DECIMALS) {
            _qtyMul = 10 ** (K.QTY_DECIMALS - decimals);
            _qtyDiv = 1;
            maxEscrow = qtyMax / _qtyMul;
        } else {
            _qtyMul = 1;
            _qtyDiv = 10 ** (decimals - K.QTY_DECIMALS);
            maxEscrow = Math.min(qtyMax * _qtyDiv, type(uint96).max);
        }
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(RISK_ADMIN_ROLE, admin);
        _grantRole(GUARDIAN_ROLE, guardian);
        _setPolicy(policy_);
        _setBeneficiary(beneficiary_);
    }

    // ------------------------------------------------------------------ desk actions

    /// @notice Escrow `amount` of the margin token for msg.sender (approve the vault first).
    /// @dev Credits the amount actually received (fee-on-transfer safe), so the sum of escrows
    ///      always equals the vault's token balance.
    /// @param amount Token units to transfer in (> 0).
    function deposit(uint256 amount) external nonReentrant whenNotPaused {
        if (amount == 0) revert RiskVault__ZeroAmount();
        uint256 before = marginToken.balanceOf(address(this));
        marginToken.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = marginToken.balanceOf(address(this)) - before;
        AccountState storage a = _accounts[msg.sender];
        uint256 escrow = a.escrow + received;
        if (escrow > maxEscrow) revert RiskVault__EscrowCapExceeded(escrow, maxEscrow);
        // forge-lint: disable-next-line(unsafe-typecast)
        a.escrow = uint96(escrow); // ≤ maxEscrow < 2^96
        emit Deposited(msg.sender, received, escrow);
    }

    /// @notice Commit msg.sender's first book, proven healthy at the latest snapshot.
    /// @dev Proof: Health(commitment, latest snapshotHash, margin = escrow (rounded down),
    ///      HF ≥ minHealthBps, binding(UPDATE_COMMITMENT, amount 0, nonce, latest snapshot id)).
    /// @param commitment PortfolioCommitment of the book (non-zero, < r).
    /// @param proof Groth16 proof in zkrisk's uint256[8] layout.
    function commit(uint256 commitment, uint256[8] calldata proof) external nonReentrant whenNotPaused {
        AccountState storage a = _accounts[msg.sender];
        if (a.commitment != 0) revert RiskVault__AlreadyCommitted(msg.sender);
        if (commitment == 0) revert RiskVault__ZeroCommitment();
        uint64 snapshotId = priceBook.latestSnapshotId();
        uint256 nonce =
            _acceptHealthProof(msg.sender, a, Action.UPDATE_COMMITMENT, 0, snapshotId, commitment, a.escrow, proof);
        a.commitment = commitment;
        emit Committed(msg.sender, commitment, snapshotId, nonce);
    }

    /// @notice Replace msg.sender's commitment (after trading) with a book proven healthy.
    /// @dev Proof: Health(newCommitment, snapshotHash, margin = escrow (rounded down),
    ///      HF ≥ minHealthBps, binding(UPDATE_COMMITMENT, amount 0, nonce, snapshotId)).
    /// @param newCommitment PortfolioCommitment of the new book (non-zero, < r).
    /// @param snapshotId The latest snapshot (and fresh).
    /// @param proof Groth16 proof in zkrisk's uint256[8] layout.
    function updateCommitment(uint256 newCommitment, uint256 snapshotId, uint256[8] calldata proof)
        external
        nonReentrant
        whenNotPaused
    {
        AccountState storage a = _accounts[msg.sender];
        uint256 old = a.commitment;
        if (old == 0) revert RiskVault__NoCommitment(msg.sender);
        if (newCommitment == 0) revert RiskVault__ZeroCommitment();
        uint256 nonce = _acceptHealthProof(
            msg.sender, a, Action.UPDATE_COMMITMENT, 0, snapshotId, newCommitment, a.escrow, proof
        );
        a.commitment = newCommitment;
        emit CommitmentUpdated(msg.sender, old, newCommitment, snapshotId, nonce);
    }

    /// @notice Withdraw `amount` of msg.sender's escrow with a proof that the book stays healthy.
    /// @dev Proof: Health(commitment, snapshotHash, margin = escrow − amount (rounded down),
    ///      HF ≥ minHealthBps, binding(WITHDRAW, amount, nonce, snapshotId)).
    /// @param amount Token units (> 0, ≤ escrow).
    /// @param snapshotId The latest snapshot (and fresh).
    /// @param proof Groth16 proof in zkrisk's uint256[8] layout.
    function withdraw(uint256 amount, uint256 snapshotId, uint256[8] calldata proof)
        external
        nonReentrant
        whenNotPaused
    {
        if (amount == 0) revert RiskVault__ZeroAmount();
        AccountState storage a = _accounts[msg.sender];
        uint256 commitment = a.commitment;
        if (commitment == 0) revert RiskVault__NoCommitment(msg.sender);
        uint256 escrow = a.escrow;
        if (amount > escrow) revert RiskVault__InsufficientEscrow(escrow, amount);
        uint256 nonce =
            _acceptHealthProof(msg.sender, a, Action.WITHDRAW, amount, snapshotId, commitment, escrow - amount, proof);
        // forge-lint: disable-next-line(unsafe-typecast)
        a.escrow = uint96(escrow - amount); // < escrow
        emit Withdrawn(msg.sender, amount, escrow - amount, snapshotId, nonce);
        marginToken.safeTransfer(msg.sender, amount);
    }

    // ------------------------------------------------------------------ keepers

    /// @notice Liquidate `account` with a keeper's proof that its HF < 1 at `snapshotId`.
    /// @dev Proof: Health(commitment, snapshotHash, margin = escrow (rounded up), HF < 1.0,
    ///      binding(LIQUIDATE, amount 0, nonce, snapshotId)). Pays `repay` to the beneficiary and
    ///      `bonus` to msg.sender (see the contract's NatSpec); checks-effects-interactions.
    /// @param account The account to liquidate (committed, escrow > 0, not in cooldown).
    /// @param snapshotId A fresh snapshot, not older than the account's last health proof.
    /// @param proof Groth16 proof in zkrisk's uint256[8] layout.
    function liquidate(address account, uint256 snapshotId, uint256[8] calldata proof)
        external
        nonReentrant
        whenNotPaused
    {
        AccountState storage a = _accounts[account];
        Policy memory p = _policy;
        _requireLiquidatable(account, a, p);
        uint256 hash = _freshSnapshot(snapshotId, a.lastProofSnapshotId, p.maxPriceAge).hash;
        uint256 nonce = a.nonce;
        uint256[5] memory pub = [
            a.commitment,
            hash,
            _qty(a.escrow, true),
            LIQUIDATION_HF_BPS | (K.MODE_BELOW << K.BPS_BITS),
            _binding(account, Action.LIQUIDATE, 0, nonce, snapshotId)
        ];
        if (!verifier.verifyHealth(proof, pub)) revert RiskVault__InvalidProof();
        _seize(account, a, p, snapshotId, nonce, LiquidationPath.PROOF);
    }

    /// @notice Liquidate `account` without a proof because it stopped proving: its last health
    ///         proof's snapshot is more than `maxProofAge` older than the latest snapshot (fail
    ///         closed). Same payout rules as `liquidate`.
    /// @dev Proof ages count from `provingResumedAt` at the earliest (no penalty for a pause).
    ///      Anyone may call `priceBook.takeSnapshot()` first to advance the clock.
    /// @param account The account to liquidate (committed, escrow > 0, not in cooldown).
    function liquidateStale(address account) external nonReentrant whenNotPaused {
        AccountState storage a = _accounts[account];
        Policy memory p = _policy;
        _requireLiquidatable(account, a, p);
        (uint64 latestId, IPriceBook.Snapshot memory latest) = priceBook.latestSnapshot();
        uint256 deadline = _proofDeadline(a, p);
        if (latest.takenAt <= deadline) revert RiskVault__ProofNotStale(account, a.lastProofAt, deadline);
        _seize(account, a, p, latestId, a.nonce, LiquidationPath.STALE_PROOF);
    }

    // ------------------------------------------------------------------ admin

    /// @notice Stop every deposit, commitment, withdrawal and liquidation. Only GUARDIAN_ROLE.
    function pause() external onlyRole(GUARDIAN_ROLE) {
        _pause();
    }

    /// @notice Resume; proof ages restart from now. Only DEFAULT_ADMIN_ROLE (a guardian key can
    ///         stop the vault but not restart it).
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
        // forge-lint: disable-next-line(unsafe-typecast)
        uint64 now_ = uint64(block.timestamp); // seconds fit 64 bits
        provingResumedAt = now_;
        emit ProvingResumed(now_);
    }

    /// @notice Set the HF desks must prove. Only RISK_ADMIN_ROLE.
    /// @param minHealthBps In [10_000, 2^16).
    function setMinHealth(uint16 minHealthBps) external onlyRole(RISK_ADMIN_ROLE) {
        Policy memory p = _policy;
        p.minHealthBps = minHealthBps;
        _setPolicy(p);
    }

    /// @notice Set the price and proof age limits. Only RISK_ADMIN_ROLE.
    /// @param maxPriceAge Seconds (> 0) a snapshot's oldest price may be old when used.
    /// @param maxProofAge Seconds (> 0) after which an account that has not proved is liquidatable.
    function setMaxAges(uint32 maxPriceAge, uint32 maxProofAge) external onlyRole(RISK_ADMIN_ROLE) {
        Policy memory p = _policy;
        (p.maxPriceAge, p.maxProofAge) = (maxPriceAge, maxProofAge);
        _setPolicy(p);
    }

    /// @notice Set the liquidation terms. Only RISK_ADMIN_ROLE.
    /// @param closeFactorBps In (0, 10_000].
    /// @param liquidationBonusBps With closeFactor · (10_000 + bonus) ≤ 10_000².
    /// @param liquidationCooldown Seconds between two liquidations of one account.
    function setLiquidationTerms(uint16 closeFactorBps, uint16 liquidationBonusBps, uint32 liquidationCooldown)
        external
        onlyRole(RISK_ADMIN_ROLE)
    {
        Policy memory p = _policy;
        (p.closeFactorBps, p.liquidationBonusBps, p.liquidationCooldown) =
            (closeFactorBps, liquidationBonusBps, liquidationCooldown);
        _setPolicy(p);
    }

    /// @notice Set who receives the repaid share of liquidations. Only RISK_ADMIN_ROLE.
    /// @param beneficiary_ Non-zero address.
    function setBeneficiary(address beneficiary_) external onlyRole(RISK_ADMIN_ROLE) {
        _setBeneficiary(beneficiary_);
    }

    // ------------------------------------------------------------------ views

    /// @notice The current policy.
    function policy() external view returns (Policy memory) {
        return _policy;
    }

    /// @notice `account`'s state.
    function accountState(address account) external view returns (AccountState memory) {
        return _accounts[account];
    }

    /// @notice `account`'s escrow in token units.
    function escrowOf(address account) external view returns (uint256) {
        return _accounts[account].escrow;
    }

    /// @notice The nonce the next proof for `account` must bind.
    function nonceOf(address account) external view returns (uint256) {
        return _accounts[account].nonce;
    }

    /// @notice Whether `account` is liquidatable without a proof now, and until when (latest
    ///         snapshot time) its last proof counts as fresh.
    function proofStatus(address account) external view returns (bool stale, uint256 deadline) {
        AccountState storage a = _accounts[account];
        deadline = _proofDeadline(a, _policy);
        (, IPriceBook.Snapshot memory latest) = priceBook.latestSnapshot();
        stale = a.commitment != 0 && latest.takenAt > deadline;
    }

    /// @notice The binding a proof for this action must carry.
    function bindingFor(address account, Action action, uint256 amount, uint256 nonce, uint256 snapshotId)
        external
        view
        returns (uint256)
    {
        return _binding(account, action, amount, nonce, snapshotId);
    }

    /// @notice The five public signals the vault would verify for `action` by `account` now (for
    ///         provers to check their statement before proving; snapshot freshness is not checked).
    /// @param commitment The new commitment for UPDATE_COMMITMENT (0 = the stored one); ignored
    ///        otherwise.
    function publicSignals(address account, Action action, uint256 amount, uint256 snapshotId, uint256 commitment)
        external
        view
        returns (uint256[5] memory pub)
    {
        AccountState storage a = _accounts[account];
        uint256 escrow = a.escrow;
        pub[0] = a.commitment;
        pub[1] = priceBook.snapshot(snapshotId).hash;
        pub[4] = _binding(account, action, amount, a.nonce, snapshotId);
        if (action == Action.WITHDRAW) {
            if (amount > escrow) revert RiskVault__InsufficientEscrow(escrow, amount);
            (pub[2], pub[3]) = (_qty(escrow - amount, false), _policy.minHealthBps);
        } else if (action == Action.UPDATE_COMMITMENT) {
            if (commitment != 0) pub[0] = commitment;
            (pub[2], pub[3]) = (_qty(escrow, false), _policy.minHealthBps);
        } else if (action == Action.LIQUIDATE) {
            (pub[2], pub[3]) = (_qty(escrow, true), LIQUIDATION_HF_BPS | (K.MODE_BELOW << K.BPS_BITS));
        } else {
            revert RiskVault__UnsupportedAction(action);
        }
    }

    /// @notice What a liquidation of `account` would pay now: `repay` to the beneficiary and
    ///         `bonus` to the keeper.
    function previewLiquidation(address account) external view returns (uint256 repay, uint256 bonus) {
        return _split(_accounts[account].escrow, _policy);
    }

    /// @notice A token amount in the proofs' QTY fixed point (8 decimals).
    /// @param roundUp True for keepers' proofs, false for desks' (always against the prover).
    function marginQuantity(uint256 amount, bool roundUp) external view returns (uint256) {
        return _qty(amount, roundUp);
    }

    // ------------------------------------------------------------------ internals

    /// @dev Verifies a desk's HF ≥ minHealthBps proof and consumes the nonce. Returns the nonce used.
    function _acceptHealthProof(
        address account,
        AccountState storage a,
        Action action,
        uint256 amount,
        uint256 snapshotId,
        uint256 commitment,
        uint256 marginAfter,
        uint256[8] calldata proof
    ) internal returns (uint256 nonce) {
        Policy memory p = _policy;
        IPriceBook.Snapshot memory s = _latestFreshSnapshot(snapshotId, p.maxPriceAge);
        nonce = a.nonce;
        uint256[5] memory pub = [
            commitment,
            s.hash,
            _qty(marginAfter, false),
            uint256(p.minHealthBps), // mode AT_LEAST = 0
            _binding(account, action, amount, nonce, snapshotId)
        ];
        if (!verifier.verifyHealth(proof, pub)) revert RiskVault__InvalidProof();
        // forge-lint: disable-next-line(unsafe-typecast)
        a.nonce = uint32(nonce + 1); // 2^32 proof-gated actions per account
        // Snapshots are taken at non-decreasing times and ids never go back, so this is monotone.
        // forge-lint: disable-next-line(unsafe-typecast)
        a.lastProofAt = uint40(s.takenAt); // seconds: fits 40 bits for 34,000 years
        // forge-lint: disable-next-line(unsafe-typecast)
        a.lastProofSnapshotId = uint48(snapshotId); // an existing id: ≤ latestSnapshotId
    }

    /// @dev Desks prove at the latest snapshot only: with a choice among fresh snapshots, a desk
    ///      that is unhealthy at the latest prices could still withdraw at better, older ones.
    function _latestFreshSnapshot(uint256 snapshotId, uint256 maxPriceAge)
        internal
        view
        returns (IPriceBook.Snapshot memory s)
    {
        uint64 latestId;
        (latestId, s) = priceBook.latestSnapshot();
        if (snapshotId != latestId) revert RiskVault__NotLatestSnapshot(snapshotId, latestId);
        _requireFresh(snapshotId, s, maxPriceAge);
    }

    /// @dev Keepers may prove at any fresh snapshot not older than the account's last health proof,
    ///      so a stream of new snapshots cannot keep invalidating their proofs.
    function _freshSnapshot(uint256 snapshotId, uint256 lastProofSnapshotId, uint256 maxPriceAge)
        internal
        view
        returns (IPriceBook.Snapshot memory s)
    {
        if (snapshotId < lastProofSnapshotId) {
            revert RiskVault__SnapshotBeforeLastProof(snapshotId, lastProofSnapshotId);
        }
        s = priceBook.snapshot(snapshotId);
        _requireFresh(snapshotId, s, maxPriceAge);
    }

    function _requireFresh(uint256 snapshotId, IPriceBook.Snapshot memory s, uint256 maxPriceAge) internal view {
        if (s.takenAt == 0) revert RiskVault__UnknownSnapshot(snapshotId);
        if (block.timestamp > s.oldestPriceAt + maxPriceAge) {
            revert RiskVault__StalePrice(snapshotId, s.oldestPriceAt, maxPriceAge);
        }
    }

    function _requireLiquidatable(address account, AccountState storage a, Policy memory p) internal view {
        if (a.commitment == 0) revert RiskVault__NoCommitment(account);
        if (a.escrow == 0) revert RiskVault__NothingToSeize(account);
        uint256 last = a.lastLiquidatedAt;
        if (last != 0 && block.timestamp < last + p.liquidationCooldown) {
            revert RiskVault__LiquidationCooldown(account, last + p.liquidationCooldown);
        }
    }

    function _proofDeadline(AccountState storage a, Policy memory p) internal view returns (uint256) {
        return Math.max(a.lastProofAt, provingResumedAt) + p.maxProofAge;
    }

    function _split(uint256 escrow, Policy memory p) internal pure returns (uint256 repay, uint256 bonus) {
        repay = escrow * p.closeFactorBps / K.BPS_SCALE;
        bonus = repay * p.liquidationBonusBps / K.BPS_SCALE;
    }

    /// @dev Effects first (escrow, nonce, cooldown, event), then the two transfers.
    function _seize(
        address account,
        AccountState storage a,
        Policy memory p,
        uint256 snapshotId,
        uint256 nonce,
        LiquidationPath path
    ) internal {
        uint256 escrow = a.escrow;
        (uint256 repay, uint256 bonus) = _split(escrow, p);
        if (repay == 0) revert RiskVault__NothingToSeize(account);
        uint256 left = escrow - repay - bonus;
        // forge-lint: disable-next-line(unsafe-typecast)
        a.escrow = uint96(left); // < escrow
        // forge-lint: disable-next-line(unsafe-typecast)
        a.nonce = uint32(nonce + 1);
        // forge-lint: disable-next-line(unsafe-typecast)
        a.lastLiquidatedAt = uint40(block.timestamp);
        address to = beneficiary;
        emit Liquidated(account, msg.sender, to, path, snapshotId, nonce, repay, bonus, left);
        marginToken.safeTransfer(to, repay);
        if (bonus != 0) marginToken.safeTransfer(msg.sender, bonus);
    }

    /// @dev keccak256(abi.encode(chainId, vault, account, action, amount, nonce, snapshotId)) mod
    ///      2^BINDING_BITS (< r). Not mod r: Health range-checks the binding to BINDING_BITS bits.
    function _binding(address account, Action action, uint256 amount, uint256 nonce, uint256 snapshotId)
        internal
        view
        returns (uint256)
    {
        bytes32 h = keccak256(abi.encode(block.chainid, address(this), account, action, amount, nonce, snapshotId));
        return uint256(h) % (1 << K.BINDING_BITS);
    }

    function _qty(uint256 amount, bool roundUp) internal view returns (uint256) {
        uint256 scaled = amount * _qtyMul;
        return roundUp ? Math.ceilDiv(scaled, _qtyDiv) : scaled / _qtyDiv;
    }

    function _setPolicy(Policy memory p) internal {
        if (p.minHealthBps < LIQUIDATION_HF_BPS) revert RiskVault__InvalidPolicy("minHealthBps < 10000");
        if (p.closeFactorBps == 0 || p.closeFactorBps > K.BPS_SCALE) {
            revert RiskVault__InvalidPolicy("closeFactorBps not in (0, 10000]");
        }
        if (uint256(p.closeFactorBps) * (K.BPS_SCALE + p.liquidationBonusBps) > K.BPS_SCALE * K.BPS_SCALE) {
            revert RiskVault__InvalidPolicy("closeFactor * (1 + bonus) > 1");
        }
        if (p.maxPriceAge == 0) revert RiskVault__InvalidPolicy("maxPriceAge == 0");
        if (p.maxProofAge == 0) revert RiskVault__InvalidPolicy("maxProofAge == 0");
        emit PolicyChanged(_policy, p);
        _policy = p;
    }

    function _setBeneficiary(address beneficiary_) internal {
        if (beneficiary_ == address(0)) revert RiskVault__ZeroAddress();
        emit BeneficiaryChanged(beneficiary, beneficiary_);
        beneficiary = beneficiary_;
    }
}
