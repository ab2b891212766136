// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {
    AccessControlDefaultAdminRules
} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {Groth16Calldata} from "./Groth16Calldata.sol";
import {IHealthVerifier} from "./interfaces/IHealthVerifier.sol";
import {IPortfolioMarginVerifier} from "./interfaces/IPortfolioMarginVerifier.sol";
import {IPriceBook} from "./interfaces/IPriceBook.sol";
import {Action, ZkRiskConstants as K} from "./ZkRiskConstants.sol";

/// @title RiskVault (v2)
/// @notice Escrows one ERC-20 margin token per account. Each account's book is a Poseidon
///         commitment SIGNED by the account's attester (EIP-712 `BookAttestation`; the attester of
///         an account is set by governance only), so a desk cannot swap in a book of its own
///         choosing. Money moves only with a Groth16 Health proof that opens the latest attested
///         commitment and is bound to the exact action and to its submitter:
///         - `deposit`: no proof (more margin only makes a book healthier);
///         - `updateBook` / `proveHealth` / `withdraw`: the desk proves HF ≥ minHealthBps
///           (degradedMinHealthBps at a degraded snapshot) with the margin left after the action;
///         - `withdrawWithMarginProof` (instead of `withdraw` on a vault whose governance turned
///           the margin gate on): the desk proves its SPAN requirement over the published risk
///           arrays ≤ the escrow left (PortfolioMargin; see setMarginGate);
///         - `liquidate`: a keeper proves HF < 1 (or < 0.95) at a margin ≥ the escrow;
///         - `liquidateStale`: no proof; an account that has not proved for `maxProofAge` seconds
///           is treated as unhealthy (fail closed), a slice per cooldown.
/// @dev Public inputs are never taken from the caller except a liquidation's provenMargin and
///      threshold, which are checked: the vault derives [commitment, snapshotHash, margin,
///      thresholdMode, binding] from its own state, the price book and the policy.
///      binding = uint256(keccak256(abi.encode(chainId, vault, account, action, amount, nonce,
///      snapshotId, submitter))) mod 2^BINDING_BITS (zkrisk.engine.statements.binding), submitter =
///      msg.sender: a proof copied from the mempool verifies for nobody else. The per-account
///      nonce, never the proof bytes (Groth16 proofs are malleable), stops replay.
///
///      Snapshot window. A proof may use any snapshot taken in the last `snapshotWindow` seconds
///      (bounds [60 s, 1 h]) whose id is not below the account's last proof's snapshot and whose
///      prices are fresh. Desks: a stream of new snapshots (anyone may take one, at most one per
///      `minSnapshotInterval`) can no longer void a proof that is being generated; the cost is
///      that a desk may pick the best of the snapshots of the last `snapshotWindow` seconds, so
///      its HF is proven against prices up to `snapshotWindow` old — an advantage bounded by the
///      price move within that window, which minHealthBps > 1 is sized to absorb. Keepers: the
///      same window, so a crash snapshot that prices have since recovered from cannot be used
///      once it is `snapshotWindow` old, and a healthy desk that re-proves at a later snapshot
///      (raising the floor id) closes it at once.
///
///      Liquidation size, Aave v3.3 as the model, on escrow only (the book's debts are private):
///        slice = escrow · closeFactorBps / 10_000 for a proof of HF < 1 (hfBelowBps 10_000),
///                escrow for a proof of HF < 0.95 (hfBelowBps 9_500),
///                escrow · staleSliceBps / 10_000 on the stale path;
///        dust rule: if escrow − slice < minLeftover the whole escrow is the slice;
///        repay = slice · 10_000 / (10_000 + bonusBps) → owed to `beneficiary` (stands in for the
///                                                       debt repaid; it claims it: pull payment),
///        bonus = repay · bonusBps / 10_000           → the keeper (msg.sender), pushed,
///        and when the slice is the whole escrow the rounding remainder goes to the beneficiary,
///        so repay + bonus ≤ slice ≤ escrow always. One liquidation per account per
///        `liquidationCooldown`: the attester gets time to sign the book with the repaid debt.
///      Pull payments. A liquidation transfers tokens only to its own sender: the beneficiary's
///      repay is credited to `owed` and claimed later (claim / withdrawOwed), so a blocklisted
///      beneficiary (USDC, USDT) or one whose token hook reverts cannot stop liquidations; the
///      keeper's bonus is pushed, since a keeper that cannot receive it only fails its own call
///      and another keeper liquidates. Accounting: token balance ≥ Σ escrow + Σ owed (equal but
///      for tokens sent to the vault directly).
///      Margin in proofs is in QTY fixed point (8 decimals): token amounts are rounded down for
///      desks' proofs and up for keepers' (always against the prover).
contract RiskVault is AccessControlDefaultAdminRules, ReentrancyGuardTransient, EIP712 {
    using SafeERC20 for IERC20;
    using Groth16Calldata for IHealthVerifier;
    using Groth16Calldata for IPortfolioMarginVerifier;

    /// @notice May pause the vault (circuit breaker) — nothing else. Unpausing needs the admin.
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    /// @notice May change the policy, the beneficiary and accounts' attesters (the timelock).
    bytes32 public constant RISK_ADMIN_ROLE = keccak256("RISK_ADMIN_ROLE");
    /// @notice May publish the risk arrays margin-gated withdrawals are proven against (the
    ///         clearing side's key, granted by the admin; never a desk's) — nothing else.
    bytes32 public constant RISK_ARRAYS_ROLE = keccak256("RISK_ARRAYS_ROLE");
    /// @notice A proof of HF < 1.0 allows closeFactorBps of the escrow.
    uint16 public constant LIQUIDATION_HF_BPS = 10_000;
    /// @notice A proof of HF < 0.95 allows the whole escrow.
    uint16 public constant FULL_LIQUIDATION_HF_BPS = 9_500;
    /// @notice A paused vault lets desks withdraw (with a proof) once paused longer than this.
    uint256 public constant MAX_PAUSE_BEFORE_EXIT = 3 days;
    /// @notice Bound of the policy's minLeftover, in whole tokens of the margin token.
    uint256 public constant MAX_MIN_LEFTOVER_TOKENS = 100_000;
    /// @notice Bounds of the margin gate's maxRiskArraysAge (SPAN arrays are published daily).
    uint32 public constant MIN_RISK_ARRAYS_AGE = 1 hours;
    uint32 public constant MAX_RISK_ARRAYS_AGE = 7 days;
    /// @notice EIP-712 type of a book attestation.
    bytes32 public constant BOOK_ATTESTATION_TYPEHASH =
        keccak256("BookAttestation(address account,uint256 commitment,uint64 sequence,uint64 issuedAt)");

    /// @notice How an account was liquidated.
    enum LiquidationPath {
        PROOF,
        STALE_PROOF
    }

    /// @notice The pauses at which an account may have been found stale (see `_proofDeadline`).
    ///         A pause is a checkpoint when it began more than maxProofAge after the previous
    ///         unpause: every account the previous unpause had extended was alive at a pause that
    ///         began earlier, so only checkpoints can leave an account stale.
    /// @param pausedAt Start of the last checkpoint pause (0 = none yet).
    /// @param resumedBefore The unpause before it (0 = none).
    /// @param previousPausedAt Start of the checkpoint before it (0 = none).
    struct PauseCheckpoint {
        uint40 pausedAt;
        uint40 resumedBefore;
        uint40 previousPausedAt;
    }

    /// @notice An attester's statement "`account`'s book is `commitment`", the `sequence`-th one,
    ///         signed at `issuedAt` (EIP-712, domain "zkrisk RiskVault" version "2").
    struct BookAttestation {
        address account;
        uint256 commitment;
        uint64 sequence;
        uint64 issuedAt;
    }

    /// @notice The risk arrays in force for margin-gated withdrawals (two storage slots).
    /// @param hash The arrays' key in the margin verifier (FoldedVerifier.keyOf of the public entries).
    /// @param collateralValue USD per whole margin token after haircut, PRICE fixed point (the
    ///        file's [collateral] entry for the margin token): marginHeld = QTY(escrow) · it.
    /// @param publishedAt When they were published; older than maxRiskArraysAge = refused.
    /// @param epoch Publications so far (0 = none); bound into every margin proof.
    struct RiskArrays {
        uint256 hash;
        uint64 collateralValue;
        uint40 publishedAt;
        uint32 epoch;
    }

    /// @notice The risk policy (two storage slots). Bounds are enforced (RiskVault__InvalidPolicy).
    /// @param minHealthBps HF desks prove, [10_000, 30_000].
    /// @param degradedMinHealthBps HF desks prove at a degraded snapshot, [minHealthBps, 40_000].
    /// @param closeFactorBps Share of escrow a proof of HF < 1 allows, [2_000, 5_000].
    /// @param liquidationBonusBps Keeper bonus as a share of the repaid amount, [0, 1_500].
    /// @param staleSliceBps Share of escrow a stale liquidation takes, [100, 2_500].
    /// @param liquidationCooldown Seconds between two liquidations of one account, [300, 7 days].
    /// @param maxProofAge Seconds without a health proof after which an account is stale, [1 h, 30 days].
    /// @param maxPriceAge A snapshot whose oldest price is older than this is refused, [60 s, 2 days].
    /// @param snapshotWindow Proofs use snapshots at most this old, [60 s, 3600 s].
    /// @param maxAttestationAge A book attestation older than this is refused, [60 s, 30 days].
    /// @param minLeftover Dust rule: a liquidation leaving less escrow than this takes it all (token
    ///        units), [0, maxMinLeftover = 100_000 whole tokens]: a typo must not turn every
    ///        liquidation, the stale path's included, into a seizure of the whole escrow.
    struct Policy {
        uint16 minHealthBps;
        uint16 degradedMinHealthBps;
        uint16 closeFactorBps;
        uint16 liquidationBonusBps;
        uint16 staleSliceBps;
        uint32 liquidationCooldown;
        uint32 maxProofAge;
        uint32 maxPriceAge;
        uint32 snapshotWindow;
        uint32 maxAttestationAge;
        uint128 minLeftover;
    }

    /// @notice One account's state in three storage slots: the first is read and written by every
    ///         action, the commitment by every proof, the third by attestations (written) and by
    ///         withdrawals, liquidations and the stale deadline (read).
    /// @param escrow Margin held, in token units (≤ maxEscrow < 2^96).
    /// @param nonce Proof-gated actions and liquidations so far; every proof binds the current value.
    /// @param lastProofAt `takenAt` of the snapshot of the last accepted health proof (for an
    ///        account that never proved: the time its first book was attested).
    /// @param lastLiquidatedAt Time of the last liquidation (0 = never).
    /// @param lastProofSnapshotId Snapshot of the last accepted health proof; later proofs may not
    ///        use older prices.
    /// @param commitment The latest attested book commitment (0 = none yet).
    /// @param attester Who signs this account's books (set by governance; 0 = none).
    /// @param bookSequence Sequence of the latest attested book (0 = none yet).
    /// @param bookIssuedAt `issuedAt` of the latest attested book (0 = none yet): bounds the age
    ///        of the book a withdrawal opens, the proof path after a liquidation and the re-proof
    ///        grace (seconds: 32 bits last until 2106; books issued later are refused).
    struct AccountState {
        uint96 escrow;
        uint32 nonce;
        uint40 lastProofAt;
        uint40 lastLiquidatedAt;
        uint48 lastProofSnapshotId;
        uint256 commitment;
        address attester;
        uint64 bookSequence;
        uint32 bookIssuedAt;
    }

    /// @notice The generated Groth16 verifier of Health(N), N = priceBook.slots(). Immutable.
    IHealthVerifier public immutable verifier;
    /// @notice Source of price snapshots and of the outage grace period. Immutable.
    IPriceBook public immutable priceBook;
    /// @notice The escrowed ERC-20 (slot 0 of the price book). Immutable.
    IERC20 public immutable marginToken;
    /// @notice Largest escrow: its QTY amount fits the circuit's QTY_BITS and it fits uint96.
    uint256 public immutable maxEscrow;
    /// @notice Largest policy minLeftover: 100_000 whole tokens (100_000 · 10^decimals).
    uint256 public immutable maxMinLeftover;
    // token amount → QTY fixed point: amount · _qtyMul / _qtyDiv (one of them is 1).
    uint256 internal immutable _qtyMul;
    uint256 internal immutable _qtyDiv;

    Policy internal _policy;
    // One slot, read by every liquidation and withdrawal: who is paid, the pause and its clocks.
    /// @notice Is owed (`owed`) the `repay` of every liquidation; claims it with claim().
    address public beneficiary;
    bool internal _paused;
    /// @notice Time of the last pause (the exit clock of a paused vault).
    uint40 public pausedAt;
    /// @notice Time of the last unpause: proof ages of the accounts that were not stale when the
    ///         pause began count from here at the earliest, so a pause never makes an account
    ///         liquidatable for not proving while proving was impossible (and revives none).
    uint40 public provingResumedAt;
    // The margin gate's switch, in the slot every withdrawal reads anyway (the pause's).
    bool internal _marginGated;
    mapping(address account => AccountState) internal _accounts;
    /// @notice Liquidation repayments credited to `payee` (a beneficiary, current or former) and
    ///         not claimed yet; the tokens stay in the vault until it claims them.
    mapping(address payee => uint256) public owed;
    // Read by the stale deadline only (liquidateStale, proofStatus), written by unpause.
    PauseCheckpoint internal _checkpoint;
    /// @notice The PortfolioMargin verifier withdrawals are gated on (0 = the gate is off:
    ///         withdrawals prove health). Set by RISK_ADMIN_ROLE (setMarginGate).
    IPortfolioMarginVerifier public marginVerifier;
    /// @notice Risk arrays older than this (seconds) are refused by margin-gated withdrawals.
    uint32 public maxRiskArraysAge;
    RiskArrays internal _riskArrays;

    /// @notice Amount 0 where a positive amount is required.
    error RiskVault__ZeroAmount();
    /// @notice A zero address for the verifier, price book, token, admin, guardian or beneficiary.
    error RiskVault__ZeroAddress();
    /// @notice A book commitment must be a non-zero field element (0 means "no book").
    error RiskVault__InvalidCommitment(uint256 commitment);
    /// @notice `account` has no attested book yet: its attester must sign one (updateBook).
    error RiskVault__NoCommitment(address account);
    /// @notice Withdrawal of `requested` with only `escrow` escrowed.
    error RiskVault__InsufficientEscrow(uint256 escrow, uint256 requested);
    /// @notice The escrow would exceed `maxEscrow` (its QTY amount would not fit the circuit).
    error RiskVault__EscrowCapExceeded(uint256 escrow, uint256 maxEscrow);
    /// @notice The price book has no snapshot `snapshotId`.
    error RiskVault__UnknownSnapshot(uint256 snapshotId);
    /// @notice Snapshot `snapshotId` holds a price from `oldestPriceAt`, older than `maxPriceAge`.
    error RiskVault__StalePrice(uint256 snapshotId, uint256 oldestPriceAt, uint256 maxPriceAge);
    /// @notice Snapshot `snapshotId` was taken at `takenAt`, before the window that opened at
    ///         `windowStart`: take a new snapshot and prove against it.
    error RiskVault__SnapshotOutsideWindow(uint256 snapshotId, uint256 takenAt, uint256 windowStart);
    /// @notice The account last proved at snapshot `lastProofSnapshotId`; older prices are refused.
    error RiskVault__SnapshotBeforeLastProof(uint256 snapshotId, uint256 lastProofSnapshotId);
    /// @notice The Groth16 proof does not verify for the public inputs the vault derived.
    error RiskVault__InvalidProof();
    /// @notice `account` has proved recently enough: it is not stale before `deadline`.
    error RiskVault__ProofNotStale(address account, uint256 deadline);
    /// @notice `account` was liquidated recently; the next liquidation is possible at `notBefore`.
    error RiskVault__LiquidationCooldown(address account, uint256 notBefore);
    /// @notice `account`'s escrow is too small to seize anything.
    error RiskVault__NothingToSeize(address account);
    /// @notice A policy value is out of its bounds; `what` names it.
    error RiskVault__InvalidPolicy(string what);
    /// @notice The price book's slot 0 holds `listed`, not the margin token.
    error RiskVault__MarginAssetMismatch(address marginToken, address listed);
    /// @notice The margin token has more than 36 decimals.
    error RiskVault__UnsupportedDecimals(uint8 decimals);
    /// @notice `account` has no attester: governance must set one (setAttester).
    error RiskVault__NoAttester(address account);
    /// @notice The attestation is not signed by `account`'s attester `attester`.
    error RiskVault__InvalidAttestationSignature(address account, address attester);
    /// @notice Attestation `sequence` is not above `account`'s current book sequence `current`.
    error RiskVault__StaleAttestationSequence(address account, uint64 sequence, uint64 current);
    /// @notice The attestation claims to be issued at `issuedAt`, in the future.
    error RiskVault__AttestationFromFuture(uint64 issuedAt);
    /// @notice The attestation was issued at `issuedAt`, more than `maxAttestationAge` seconds ago.
    error RiskVault__AttestationTooOld(uint64 issuedAt, uint256 maxAttestationAge);
    /// @notice Only `account` itself may update its book with a proof; `sender` is not it.
    error RiskVault__NotAccount(address account, address sender);
    /// @notice No liquidation or withdrawal before `graceEndsAt` (after an oracle or sequencer
    ///         outage; type(uint64).max while the sequencer is down).
    error RiskVault__GracePeriod(uint256 graceEndsAt);
    /// @notice The book a withdrawal would open was issued at `issuedAt`, more than
    ///         `maxAttestationAge` seconds ago: have the attester sign the current book again.
    error RiskVault__WithdrawOnOldBook(uint64 issuedAt, uint256 maxAttestationAge);
    /// @notice `account` was liquidated at `liquidatedAt`; its book (issued at `issuedAt`) still
    ///         carries the debt that liquidation repaid: the proof path needs a book issued later.
    error RiskVault__BookPredatesLiquidation(address account, uint64 issuedAt, uint256 liquidatedAt);
    /// @notice The attestation's issuedAt does not fit the vault's 32-bit time (after 2106).
    error RiskVault__IssuedAtTooLarge(uint64 issuedAt);
    /// @notice Keepers prove HF < 10_000 or HF < 9_500 bps, not `hfBelowBps`.
    error RiskVault__UnsupportedHfThreshold(uint16 hfBelowBps);
    /// @notice The keeper's provenMargin is below the escrow's QTY amount `minMargin`.
    error RiskVault__MarginBelowEscrow(uint256 provenMargin, uint256 minMargin);
    /// @notice The vault is paused (same selector as OpenZeppelin's Pausable).
    error EnforcedPause();
    /// @notice The vault is not paused (same selector as OpenZeppelin's Pausable).
    error ExpectedPause();
    /// @notice The vault is paused; withdrawals with a proof reopen at `opensAt`.
    error RiskVault__ExitNotYetOpen(uint256 opensAt);
    /// @notice `payee` has no liquidation repayment to claim.
    error RiskVault__NothingOwed(address payee);
    /// @notice This vault gates withdrawals on portfolio margin: use withdrawWithMarginProof.
    error RiskVault__MarginGateOn();
    /// @notice This vault's withdrawals prove health (the margin gate is off): use withdraw.
    error RiskVault__MarginGateOff();
    /// @notice No risk arrays have been published yet (publishRiskArrays).
    error RiskVault__NoRiskArrays();
    /// @notice The risk arrays were published at `publishedAt`, more than `maxAge` seconds ago:
    ///         the publisher must publish the current ones.
    error RiskVault__StaleRiskArrays(uint256 publishedAt, uint256 maxAge);
    /// @notice A risk-arrays hash must be a non-zero field element and the collateral value > 0.
    error RiskVault__InvalidRiskArrays(uint256 hash, uint64 collateralValue);

    /// @notice `account` deposited `amount` (the amount received); its escrow is now `escrow`.
    event Deposited(address indexed account, uint256 amount, uint256 escrow);
    /// @notice `account`'s book is now `commitment` (attested at `issuedAt`), sent by `submitter`.
    event BookAttested(
        address indexed account, uint256 commitment, uint64 sequence, uint64 issuedAt, address indexed submitter
    );
    /// @notice `account` proved HF ≥ `thresholdBps` of its book at `snapshotId` with `nonce`
    ///         (updateBook: UPDATE_COMMITMENT, proveHealth: ATTEST).
    event HealthProven(
        address indexed account, Action action, uint256 indexed snapshotId, uint256 nonce, uint16 thresholdBps
    );
    /// @notice `account` withdrew `amount` with a proof at `snapshotId`/`nonce`; its escrow is now `escrow`.
    event Withdrawn(address indexed account, uint256 amount, uint256 escrow, uint256 indexed snapshotId, uint256 nonce);
    /// @notice `account` withdrew `amount` with a portfolio-margin proof against the risk arrays
    ///         of `riskArraysEpoch`, with `nonce`; its escrow is now `escrow`.
    event WithdrawnOnMargin(
        address indexed account, uint256 amount, uint256 escrow, uint256 indexed riskArraysEpoch, uint256 nonce
    );
    /// @notice Risk arrays `hash` (margin token at `collateralValue` USD, PRICE fixed point) are
    ///         in force from now, as publication `epoch`, published by `publisher`.
    event RiskArraysPublished(uint256 indexed epoch, uint256 hash, uint64 collateralValue, address publisher);
    /// @notice Withdrawals are gated on `verifier` (0: on health proofs again), with risk arrays
    ///         at most `maxRiskArraysAge` seconds old.
    event MarginGateSet(address verifier, uint32 maxRiskArraysAge);
    /// @notice `account` was liquidated by `keeper` (path PROOF: a proof of HF < `hfBelowBps` at
    ///         `snapshotId`; STALE_PROOF: snapshotId and hfBelowBps 0): `repay` is owed to the
    ///         beneficiary (OwedCredited), `bonus` went to the keeper, `escrowLeft` is left;
    ///         `nonce` was consumed.
    event Liquidated(
        address indexed account,
        LiquidationPath path,
        address indexed keeper,
        uint256 indexed snapshotId,
        uint16 hfBelowBps,
        uint256 repay,
        uint256 bonus,
        uint256 escrowLeft,
        uint256 nonce
    );
    /// @notice `amount` of `account`'s liquidation was credited to `payee` (the beneficiary), who
    ///         is now owed `owed` in total.
    event OwedCredited(address indexed payee, address indexed account, uint256 amount, uint256 owed);
    /// @notice `payee` claimed `amount` it was owed, sent to `to`.
    event OwedClaimed(address indexed payee, address indexed to, uint256 amount);
    /// @notice `account`'s attester changed from `oldAttester` to `newAttester`.
    event AttesterSet(address indexed account, address oldAttester, address newAttester);
    /// @notice The policy changed.
    event PolicyChanged(Policy oldPolicy, Policy newPolicy);
    /// @notice The beneficiary changed.
    event BeneficiaryChanged(address oldBeneficiary, address newBeneficiary);
    /// @notice Proof ages count from `timestamp` at the earliest (set on unpause).
    event ProvingResumed(uint64 timestamp);
    /// @notice `account` (the guardian) paused the vault (same signature as OpenZeppelin's).
    event Paused(address account);
    /// @notice `account` (the admin) unpaused the vault (same signature as OpenZeppelin's).
    event Unpaused(address account);

    modifier whenNotPaused() {
        if (_paused) revert EnforcedPause();
        _;
    }

    /// @param verifier_ The generated Health(N) verifier.
    /// @param priceBook_ The price book; its slot 0 must list `marginToken_`.
    /// @param marginToken_ The escrowed ERC-20 (≤ 36 decimals).
    /// @param admin Receives DEFAULT_ADMIN_ROLE (roles, unpause; two-step transfer with
    ///        `adminDelay`) and RISK_ADMIN_ROLE (policy, attesters, beneficiary): the timelock.
    /// @param adminDelay AccessControlDefaultAdminRules' delay of an admin transfer, seconds.
    /// @param guardian Receives GUARDIAN_ROLE (pause only).
    /// @param beneficiary_ Is owed the repaid share of liquidations.
    /// @param policy_ The initial policy (validated as by setPolicy).
    constructor(
        IHealthVerifier verifier_,
        IPriceBook priceBook_,
        IERC20Metadata marginToken_,
        address admin,
        uint48 adminDelay,
        address guardian,
        address beneficiary_,
        Policy memory policy_
    ) AccessControlDefaultAdminRules(adminDelay, admin) EIP712("zkrisk RiskVault", "2") {
        if (
            address(verifier_) == address(0) || address(priceBook_) == address(0) || address(marginToken_) == address(0)
                || guardian == address(0)
        ) revert RiskVault__ZeroAddress();
        address listed = priceBook_.tokenAt(0);
        if (listed != address(marginToken_)) revert RiskVault__MarginAssetMismatch(address(marginToken_), listed);
        uint8 decimals = marginToken_.decimals();
        if (decimals > 36) revert RiskVault__UnsupportedDecimals(decimals);
        maxMinLeftover = MAX_MIN_LEFTOVER_TOKENS * 10 ** decimals;
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
        _grantRole(RISK_ADMIN_ROLE, admin);
        _grantRole(GUARDIAN_ROLE, guardian);
        _setPolicy(policy_);
        _setBeneficiary(beneficiary_);
    }

    // ------------------------------------------------------------------ desk actions

    /// @notice Escrow `amount` of the margin token for msg.sender (approve the vault first).
    ///         Allowed while paused (more margin never hurts).
    /// @dev Credits the amount actually received (fee-on-transfer safe), so the sum of escrows
    ///      and of owed repayments always equals the vault's token balance.
    /// @param amount Token units to transfer in (> 0).
    function deposit(uint256 amount) external nonReentrant {
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

    /// @notice Record `att.account`'s newer book, signed by its attester. ANYONE may submit it
    ///         (the attester service, a keeper, the desk); no proof is needed, because the book is
    ///         the attester's word, not the desk's. The account's last health proof keeps counting
    ///         for its liveness, but every later proof must open this commitment.
    /// @dev Requires att.sequence > bookSequence, issuedAt ≤ now ≤ issuedAt + maxAttestationAge,
    ///      a valid EOA or ERC-1271 signature of the registered attester, and 0 < commitment < r.
    ///      A desk that has never proved gets its proof clock started now (else a copy of its
    ///      first updateBook's attestation, submitted here first, would make it stale at once).
    /// @param att The attestation.
    /// @param signature The attester's signature over attestationDigest(att).
    function submitAttestedBook(BookAttestation calldata att, bytes calldata signature)
        external
        nonReentrant
    {
        AccountState storage a = _accounts[att.account];
        _acceptAttestation(a, att, signature);
        if (a.lastProofAt == 0) {
            // forge-lint: disable-next-line(unsafe-typecast)
            a.lastProofAt = uint40(block.timestamp); // seconds fit 40 bits for 34,000 years
        }
    }

    /// @notice The desk (msg.sender == att.account) records a newer attested book AND proves it
    ///         healthy in one transaction: HF ≥ minHealthBps (degradedMinHealthBps at a degraded
    ///         snapshot) with its whole escrow, action UPDATE_COMMITMENT, amount 0. This is also
    ///         how a desk commits its first book. If the same attestation is already on chain
    ///         (someone submitted it first), only the proof is checked.
    /// @param att The attestation of the desk's book (account = msg.sender).
    /// @param signature The attester's signature over attestationDigest(att).
    /// @param snapshotId A snapshot within the window, not older than the last proof's, fresh prices.
    /// @param proof Groth16 proof in zkrisk's uint256[8] layout.
    function updateBook(
        BookAttestation calldata att,
        bytes calldata signature,
        uint256 snapshotId,
        uint256[8] calldata proof
    ) external nonReentrant {
        if (msg.sender != att.account) revert RiskVault__NotAccount(att.account, msg.sender);
        AccountState storage a = _accounts[msg.sender];
        if (att.sequence != a.bookSequence || att.commitment != a.commitment || att.commitment == 0) {
            _acceptAttestation(a, att, signature);
        }
        Policy storage p = _policy;
        (uint256 nonce, uint16 threshold) =
            _acceptHealthProof(a, p, Action.UPDATE_COMMITMENT, 0, snapshotId, a.escrow, proof);
        emit HealthProven(msg.sender, Action.UPDATE_COMMITMENT, snapshotId, nonce, threshold);
    }

    /// @notice The desk re-proves HF ≥ minHealthBps (degradedMinHealthBps at a degraded
    ///         snapshot) of its current attested book with its whole escrow (action ATTEST,
    ///         amount 0): resets its proof clock. Allowed while paused.
    /// @param snapshotId A snapshot within the window, not older than the last proof's, fresh prices.
    /// @param proof Groth16 proof in zkrisk's uint256[8] layout.
    function proveHealth(uint256 snapshotId, uint256[8] calldata proof) external nonReentrant {
        AccountState storage a = _accounts[msg.sender];
        if (a.commitment == 0) revert RiskVault__NoCommitment(msg.sender);
        Policy storage p = _policy;
        (uint256 nonce, uint16 threshold) = _acceptHealthProof(a, p, Action.ATTEST, 0, snapshotId, a.escrow, proof);
        emit HealthProven(msg.sender, Action.ATTEST, snapshotId, nonce, threshold);
    }

    /// @notice Withdraw `amount` with a proof that the latest attested book, with the escrow left
    ///         after the withdrawal, has HF ≥ minHealthBps (degradedMinHealthBps at a degraded
    ///         snapshot). While paused: only once paused for longer than MAX_PAUSE_BEFORE_EXIT.
    ///         Refused when that book was issued more than maxAttestationAge seconds ago, and
    ///         during the price book's grace period (fail closed, as liquidations).
    /// @dev Book age: submitAttestedBook bounds an attestation's age only when it lands, so
    ///      without this a desk that receives its attester's newer, worse book first could keep
    ///      it off chain and withdraw on the older one for ever. The bound is the policy's
    ///      maxAttestationAge, the age at which the vault already stops trusting an attestation:
    ///      an active desk's attester re-signs its book at least that often (the same book may be
    ///      re-signed under a new sequence); a desk's withholding window is at most that long.
    /// @param amount Token units to withdraw (0 < amount ≤ escrow).
    /// @param snapshotId A snapshot within the window, not older than the last proof's, fresh prices.
    /// @param proof Groth16 proof in zkrisk's uint256[8] layout.
    function withdraw(uint256 amount, uint256 snapshotId, uint256[8] calldata proof) external nonReentrant {
        if (_marginGated) revert RiskVault__MarginGateOn();
        (AccountState storage a, Policy storage p, uint256 escrow) = _openWithdrawal(amount);
        (uint256 nonce,) = _acceptHealthProof(a, p, Action.WITHDRAW, amount, snapshotId, escrow - amount, proof);
        // forge-lint: disable-next-line(unsafe-typecast)
        a.escrow = uint96(escrow - amount); // < escrow
        emit Withdrawn(msg.sender, amount, escrow - amount, snapshotId, nonce);
        marginToken.safeTransfer(msg.sender, amount);
    }

    /// @notice On a margin-gated vault (setMarginGate), withdraw `amount` with a PortfolioMargin
    ///         proof that the latest attested book's SPAN requirement over the risk arrays in
    ///         force is ≤ the escrow left after the withdrawal, valued at the publisher's
    ///         collateral value. The same rules as `withdraw` otherwise (pause exit, book age,
    ///         grace period); it consumes the nonce but is no health proof (liveness and
    ///         liquidation stay on Health).
    /// @dev Public inputs, all derived here: [commitment, riskArrays.hash,
    ///      marginQuantity(escrow − amount, false) · riskArrays.collateralValue (VALUE scale),
    ///      bindingFor(msg.sender, WITHDRAW, amount, nonce, riskArrays.epoch, msg.sender)] — the
    ///      epoch takes the snapshot id's place in the binding, so a proof made before a
    ///      publication verifies after it for nobody. Arrays older than maxRiskArraysAge are
    ///      refused (fail closed: a publisher that stopped must not leave old arrays in force).
    /// @param amount Token units to withdraw (0 < amount ≤ escrow).
    /// @param proof Groth16 proof in zkrisk's uint256[8] layout.
    function withdrawWithMarginProof(uint256 amount, uint256[8] calldata proof) external nonReentrant {
        if (!_marginGated) revert RiskVault__MarginGateOff();
        (AccountState storage a,, uint256 escrow) = _openWithdrawal(amount);
        RiskArrays memory arrays = _riskArrays;
        if (arrays.epoch == 0) revert RiskVault__NoRiskArrays();
        uint256 maxAge = maxRiskArraysAge;
        if (block.timestamp > uint256(arrays.publishedAt) + maxAge) {
            revert RiskVault__StaleRiskArrays(arrays.publishedAt, maxAge);
        }
        uint256 nonce = a.nonce;
        uint256 left = escrow - amount;
        uint256[4] memory pub = [
            a.commitment,
            arrays.hash,
            _qty(left, false) * arrays.collateralValue, // < 2^QTY_BITS · 2^PRICE_BITS = 2^VALUE_BITS
            _binding(msg.sender, Action.WITHDRAW, amount, nonce, arrays.epoch, msg.sender)
        ];
        if (!marginVerifier.verifyMargin(proof, pub)) revert RiskVault__InvalidProof();
        // forge-lint: disable-next-line(unsafe-typecast)
        a.nonce = uint32(nonce + 1);
        // forge-lint: disable-next-line(unsafe-typecast)
        a.escrow = uint96(left); // < escrow
        emit WithdrawnOnMargin(msg.sender, amount, left, arrays.epoch, nonce);
        marginToken.safeTransfer(msg.sender, amount);
    }

    // ------------------------------------------------------------------ liquidation

    /// @notice Liquidate `account` with a keeper's proof that its latest attested book has
    ///         HF < `hfBelowBps` at `snapshotId` with margin `provenMargin` (QTY fixed point).
    ///         hfBelowBps 10_000 allows closeFactorBps of the escrow, 9_500 all of it (see the
    ///         contract's NatSpec for the split and the dust rule).
    /// @dev Dust rule for keepers: provenMargin must be ≥ the escrow's QTY amount (rounded up),
    ///      not equal to it. HF grows with margin, so HF < t at a larger margin implies HF < t at
    ///      the real one: a keeper proving with a buffer (the Python keeper: escrow + 1%) is not
    ///      stalled by a dust deposit landing before its transaction, while a deposit that truly
    ///      restores HF ≥ 1 raises the escrow above every margin at which HF < 1 was provable.
    ///      Refused while paused, during the price book's grace period and within the cooldown.
    ///      After any liquidation the next proof-path one needs a book issued strictly after it:
    ///      the old book still carries the debt that liquidation repaid, so HF < 1 on it says
    ///      nothing about the desk now. A newer sequence alone is not enough (a book the attester
    ///      signed before the liquidation, submitted after it, carries the repaid debt too), hence
    ///      issuedAt > lastLiquidatedAt; a book signed in the liquidation's own second waits for
    ///      the next one. Until the attester signs, the stale path (no book needed) still applies.
    /// @param account The account to liquidate (attested book issued after its last liquidation,
    ///        escrow > 0, not in cooldown).
    /// @param snapshotId A snapshot within the window, not older than the account's last proof's.
    /// @param provenMargin The proof's margin, ≥ marginQuantity(escrow, true).
    /// @param hfBelowBps 10_000 or 9_500.
    /// @param proof Groth16 proof in zkrisk's uint256[8] layout, bound to msg.sender.
    function liquidate(
        address account,
        uint256 snapshotId,
        uint256 provenMargin,
        uint16 hfBelowBps,
        uint256[8] calldata proof
    ) external nonReentrant whenNotPaused {
        uint256 bonus = _liquidateWithProof(account, snapshotId, provenMargin, hfBelowBps, proof);
        _payBonus(bonus);
    }

    /// @notice One item of `liquidateMany`: `liquidate`'s arguments plus the account's `nonce`
    ///         and `commitment` the proof was made for (they tell a front-run item from a bad one).
    struct LiquidationItem {
        address account;
        uint32 nonce;
        uint256 commitment;
        uint256 snapshotId;
        uint256 provenMargin;
        uint16 hfBelowBps;
        uint256[8] proof;
    }

    /// @notice A liquidateMany item for `account` was skipped: since its proof was made the
    ///         account moved on (its nonce or commitment changed, or its escrow grew above the
    ///         item's provenMargin).
    event LiquidationSkipped(address indexed account);
    /// @notice Every item of a liquidateMany was skipped (or there were none).
    error RiskVault__NothingLiquidated();

    /// @notice Several `liquidate`s in one transaction: each item passes exactly liquidate's
    ///         checks (one shared internal function); the bonuses go to msg.sender in one transfer.
    /// @dev Skipped with LiquidationSkipped, not reverted: what others may change after the
    ///      keeper proved — the account's nonce (any liquidation, any desk proof), its commitment
    ///      (anyone may land the attester's newer book), its escrow above provenMargin (a deposit)
    ///      — so one front-run item cannot revert the batch, and a duplicate account is skipped
    ///      once its first item bumped the nonce. Everything else reverts the whole batch, as
    ///      liquidate would: an invalid proof at the state the item names (only its sender could
    ///      have caused that: a batch copied by another sender, items it has no proof for), a
    ///      snapshot outside the window or with stale prices, an unsupported threshold, the
    ///      cooldown, a book predating the last liquidation, the grace period, the pause. A batch
    ///      that liquidates nothing reverts (RiskVault__NothingLiquidated).
    /// @param items The liquidations; each proof bound to msg.sender and the item's nonce.
    function liquidateMany(LiquidationItem[] calldata items) external nonReentrant whenNotPaused {
        uint256 bonus;
        uint256 done;
        uint256 n = items.length;
        // solc ≥ 0.8.22 leaves a loop counter's increment unchecked by itself.
        for (uint256 i; i < n; ++i) {
            LiquidationItem calldata it = items[i];
            address account = it.account;
            AccountState storage a = _accounts[account];
            uint256 margin = it.provenMargin;
            if (a.nonce != it.nonce || a.commitment != it.commitment || margin < _qty(a.escrow, true)) {
                emit LiquidationSkipped(account);
            } else {
                bonus += _liquidateWithProof(account, it.snapshotId, margin, it.hfBelowBps, it.proof);
                unchecked {
                    ++done; // ≤ n
                }
            }
        }
        if (done == 0) revert RiskVault__NothingLiquidated();
        _payBonus(bonus);
    }

    /// @dev Every check of a proof-path liquidation, then the effects; returns the keeper's bonus
    ///      (the caller transfers it last: checks-effects-interactions).
    function _liquidateWithProof(
        address account,
        uint256 snapshotId,
        uint256 provenMargin,
        uint16 hfBelowBps,
        uint256[8] calldata proof
    ) internal returns (uint256) {
        AccountState storage a = _accounts[account];
        Policy storage p = _policy;
        uint256 escrow = _requireLiquidatable(account, a, p);
        uint256 liquidatedAt = a.lastLiquidatedAt;
        if (liquidatedAt != 0 && a.bookIssuedAt <= liquidatedAt) {
            revert RiskVault__BookPredatesLiquidation(account, a.bookIssuedAt, liquidatedAt);
        }
        uint256 closeBps = _closeBps(hfBelowBps, p);
        uint256 minMargin = _qty(escrow, true);
        if (provenMargin < minMargin) revert RiskVault__MarginBelowEscrow(provenMargin, minMargin);
        _verifyLiquidationProof(account, a, p, snapshotId, provenMargin, hfBelowBps, proof);
        return _seize(account, a, p, closeBps, snapshotId, hfBelowBps, LiquidationPath.PROOF);
    }

    /// @notice Liquidate `account` without a proof because it stopped proving: now is later than
    ///         max(due, priceBook.graceEndsAt()), due = lastProofAt + maxProofAge (from
    ///         provingResumedAt at the earliest if the account was not stale when the last pause
    ///         began), moved to bookIssuedAt + snapshotWindow when that book was issued at or
    ///         before the due and its re-proof grace ends later (fail closed). Takes
    ///         staleSliceBps of the escrow (dust rule applies) per cooldown.
    /// @dev Staleness is measured in time, not in snapshots, so snapshot spam cannot age an
    ///      account; a pause restarts the clock of live accounts only, so cycling it revives no
    ///      stale one; an outage's grace period only postpones a deadline that falls inside it,
    ///      so it cannot shelter an account that stopped proving.
    /// @param account The account to liquidate (attested book, escrow > 0, not in cooldown).
    function liquidateStale(address account) external nonReentrant whenNotPaused {
        AccountState storage a = _accounts[account];
        Policy storage p = _policy;
        _requireLiquidatable(account, a, p);
        uint256 deadline = _proofDeadline(a, p);
        if (block.timestamp <= deadline) revert RiskVault__ProofNotStale(account, deadline);
        uint256 bonus = _seize(account, a, p, p.staleSliceBps, 0, 0, LiquidationPath.STALE_PROOF);
        _payBonus(bonus);
    }

    // ------------------------------------------------------------------ the beneficiary

    /// @notice Send everything msg.sender is owed (liquidation repayments) to msg.sender.
    ///         Allowed while paused (the amounts are settled; no escrow moves).
    function claim() external {
        withdrawOwed(msg.sender);
    }

    /// @notice Send everything msg.sender is owed to `to`: a beneficiary the token has
    ///         blocklisted (or that cannot receive) claims to another address. Allowed while paused.
    /// @param to Recipient of the tokens (non-zero).
    function withdrawOwed(address to) public nonReentrant {
        if (to == address(0)) revert RiskVault__ZeroAddress();
        uint256 amount = owed[msg.sender];
        if (amount == 0) revert RiskVault__NothingOwed(msg.sender);
        owed[msg.sender] = 0;
        emit OwedClaimed(msg.sender, to, amount);
        marginToken.safeTransfer(to, amount);
    }

    // ------------------------------------------------------------------ admin

    /// @notice Stop liquidations and withdrawals. Deposits, proofs and the attester's books go on
    ///         (they move no money, and a withdrawal that reopens after MAX_PAUSE_BEFORE_EXIT must
    ///         open the attester's latest book, not the last one before the pause). Only
    ///         GUARDIAN_ROLE.
    function pause() external onlyRole(GUARDIAN_ROLE) whenNotPaused {
        _paused = true;
        // forge-lint: disable-next-line(unsafe-typecast)
        pausedAt = uint40(block.timestamp); // seconds fit 40 bits for 34,000 years
        emit Paused(msg.sender);
    }

    /// @notice Resume; the proof ages of the accounts that were not stale when the pause began
    ///         restart from now (an account already stale then stays stale: no fresh maxProofAge
    ///         for a desk that had stopped proving, however often the pause is cycled). Only
    ///         DEFAULT_ADMIN_ROLE (a guardian key can stop the vault but not restart it).
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (!_paused) revert ExpectedPause();
        _paused = false;
        uint40 resumedBefore = provingResumedAt;
        uint40 pausedAt_ = pausedAt;
        if (uint256(resumedBefore) + _policy.maxProofAge < pausedAt_) {
            // The previous unpause's fresh deadline ran out before this pause: a checkpoint.
            _checkpoint = PauseCheckpoint(pausedAt_, resumedBefore, _checkpoint.pausedAt);
        }
        // forge-lint: disable-next-line(unsafe-typecast)
        uint40 now_ = uint40(block.timestamp); // seconds fit 40 bits for 34,000 years
        provingResumedAt = now_;
        emit Unpaused(msg.sender);
        emit ProvingResumed(now_);
    }

    /// @notice Replace the whole policy (bounds in the Policy NatSpec). Only RISK_ADMIN_ROLE.
    /// @param policy_ The new policy.
    function setPolicy(Policy calldata policy_) external onlyRole(RISK_ADMIN_ROLE) {
        _setPolicy(policy_);
    }

    /// @notice Set who signs `account`'s books (EOA or ERC-1271 contract; 0 revokes: no new book
    ///         can be attested). Only RISK_ADMIN_ROLE.
    /// @param account The desk's account.
    /// @param attester The attester.
    function setAttester(address account, address attester) external onlyRole(RISK_ADMIN_ROLE) {
        if (account == address(0)) revert RiskVault__ZeroAddress();
        AccountState storage a = _accounts[account];
        emit AttesterSet(account, a.attester, attester);
        a.attester = attester;
    }

    /// @notice Gate withdrawals on portfolio margin (`verifier_` ≠ 0: withdrawWithMarginProof
    ///         only, with risk arrays at most `maxRiskArraysAge_` seconds old, bounds [1 h, 7 days])
    ///         or on health again (`verifier_` = 0: withdraw only). Instead of, not in addition
    ///         to, the health proof: either-or would let a desk pick the looser statement, and
    ///         both would forfeit the cross-margining offsets the gate exists for. Only
    ///         RISK_ADMIN_ROLE (the timelock: desks see a switch coming).
    /// @param verifier_ The generated PortfolioMargin(N, S) verifier (N = the books' slots), or 0.
    /// @param maxRiskArraysAge_ Seconds; ignored when turning the gate off.
    function setMarginGate(IPortfolioMarginVerifier verifier_, uint32 maxRiskArraysAge_)
        external
        onlyRole(RISK_ADMIN_ROLE)
    {
        bool on = address(verifier_) != address(0);
        if (on) _bound(maxRiskArraysAge_, MIN_RISK_ARRAYS_AGE, MAX_RISK_ARRAYS_AGE, "maxRiskArraysAge");
        marginVerifier = verifier_;
        maxRiskArraysAge = on ? maxRiskArraysAge_ : 0;
        _marginGated = on;
        emit MarginGateSet(address(verifier_), on ? maxRiskArraysAge_ : 0);
    }

    /// @notice Put risk arrays `hash` in force for margin-gated withdrawals, the margin token
    ///         valued at `collateralValue` USD (PRICE fixed point, after haircut) — the
    ///         clearing side's published file. Starts a new epoch: every margin proof made
    ///         before stops verifying. Only RISK_ARRAYS_ROLE (granted by the admin), so a desk
    ///         cannot choose arrays that make its book look safe. Allowed while paused.
    ///         Fold the arrays into the gate's verifier first (`fold(entries, bases)`: the
    ///         entries go on record and are range-checked there); until they are folded, every
    ///         margin proof against `hash` fails (fail closed; not checked here: code size).
    /// @param hash The arrays' key in the verifier (keyOf(entries); 0 < hash < r).
    /// @param collateralValue > 0.
    function publishRiskArrays(uint256 hash, uint64 collateralValue) external onlyRole(RISK_ARRAYS_ROLE) {
        if (hash == 0 || hash >= K.SNARK_SCALAR_FIELD || collateralValue == 0) {
            revert RiskVault__InvalidRiskArrays(hash, collateralValue);
        }
        uint32 epoch = _riskArrays.epoch + 1;
        // forge-lint: disable-next-line(unsafe-typecast)
        _riskArrays = RiskArrays(hash, collateralValue, uint40(block.timestamp), epoch);
        emit RiskArraysPublished(epoch, hash, collateralValue, msg.sender);
    }

    /// @notice Set who is owed the repaid share of later liquidations (what the former one is
    ///         owed stays claimable by it). Only RISK_ADMIN_ROLE.
    /// @param beneficiary_ Non-zero address.
    function setBeneficiary(address beneficiary_) external onlyRole(RISK_ADMIN_ROLE) {
        _setBeneficiary(beneficiary_);
    }

    // ------------------------------------------------------------------ views

    /// @notice True while the guardian's pause is in force.
    function paused() external view returns (bool) {
        return _paused;
    }

    /// @notice Whether withdrawals are gated on portfolio margin (withdrawWithMarginProof).
    function marginGated() external view returns (bool) {
        return _marginGated;
    }

    /// @notice The risk arrays in force (epoch 0 = none published).
    function riskArrays() external view returns (RiskArrays memory) {
        return _riskArrays;
    }

    /// @notice The four public signals withdrawWithMarginProof would verify now for `account`
    ///         withdrawing `amount`, sent by `submitter` (age and gate not checked).
    function marginPublicSignals(address account, uint256 amount, address submitter)
        external
        view
        returns (uint256[4] memory pub)
    {
        AccountState storage a = _accounts[account];
        uint256 escrow = a.escrow;
        if (amount > escrow) revert RiskVault__InsufficientEscrow(escrow, amount);
        RiskArrays memory arrays = _riskArrays;
        pub = [
            a.commitment,
            arrays.hash,
            _qty(escrow - amount, false) * arrays.collateralValue,
            _binding(account, Action.WITHDRAW, amount, a.nonce, arrays.epoch, submitter)
        ];
    }

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

    /// @notice `account`'s latest attested commitment (0 = none).
    function commitmentOf(address account) external view returns (uint256) {
        return _accounts[account].commitment;
    }

    /// @notice Who signs `account`'s books (0 = none).
    function attesterOf(address account) external view returns (address) {
        return _accounts[account].attester;
    }

    /// @notice Sequence of `account`'s latest attested book; the next must be larger.
    function bookSequence(address account) external view returns (uint64) {
        return _accounts[account].bookSequence;
    }

    /// @notice The price book's end of grace period (no liquidation before it).
    function graceEndsAt() external view returns (uint256) {
        return priceBook.graceEndsAt();
    }

    /// @notice Whether `account` is liquidatable without a proof now (cooldown and grace aside),
    ///         and the time after which it is.
    function proofStatus(address account) external view returns (bool stale, uint256 deadline) {
        AccountState storage a = _accounts[account];
        deadline = _proofDeadline(a, _policy);
        stale = a.commitment != 0 && block.timestamp > deadline;
    }

    /// @notice The EIP-712 domain separator (name "zkrisk RiskVault", version "2").
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @notice The EIP-712 digest the attester signs for `att`.
    function attestationDigest(BookAttestation calldata att) external view returns (bytes32) {
        return _attestationDigest(att);
    }

    /// @notice The binding a proof for this action, sent by `submitter`, must carry.
    function bindingFor(
        address account,
        Action action,
        uint256 amount,
        uint256 nonce,
        uint256 snapshotId,
        address submitter
    ) external view returns (uint256) {
        return _binding(account, action, amount, nonce, snapshotId, submitter);
    }

    /// @notice The five public signals the vault would verify now for `action` on `account` sent
    ///         by `submitter` (for provers to check their statement before proving; the window,
    ///         freshness and cooldown are not checked).
    /// @param amount WITHDRAW: the amount; otherwise 0.
    /// @param commitment UPDATE_COMMITMENT: the new attested commitment (0 = the stored one);
    ///        ignored otherwise.
    /// @param provenMargin LIQUIDATE: the keeper's margin; ignored otherwise.
    /// @param hfBelowBps LIQUIDATE: 10_000 or 9_500; ignored otherwise.
    function publicSignals(
        address account,
        Action action,
        uint256 amount,
        uint256 snapshotId,
        uint256 commitment,
        address submitter,
        uint256 provenMargin,
        uint16 hfBelowBps
    ) external view returns (uint256[5] memory pub) {
        AccountState storage a = _accounts[account];
        Policy storage p = _policy;
        uint256 escrow = a.escrow;
        IPriceBook.Snapshot memory s = priceBook.snapshot(snapshotId);
        pub[0] = a.commitment;
        pub[1] = s.hash;
        pub[4] = _binding(account, action, amount, a.nonce, snapshotId, submitter);
        uint256 threshold = s.degraded ? p.degradedMinHealthBps : p.minHealthBps;
        if (action == Action.WITHDRAW) {
            if (amount > escrow) revert RiskVault__InsufficientEscrow(escrow, amount);
            (pub[2], pub[3]) = (_qty(escrow - amount, false), threshold);
        } else if (action == Action.UPDATE_COMMITMENT || action == Action.ATTEST) {
            if (action == Action.UPDATE_COMMITMENT && commitment != 0) pub[0] = commitment;
            (pub[2], pub[3]) = (_qty(escrow, false), threshold);
        } else {
            _closeBps(hfBelowBps, p);
            (pub[2], pub[3]) = (provenMargin, uint256(hfBelowBps) | (K.MODE_BELOW << K.BPS_BITS));
        }
    }

    /// @notice What a proof-path liquidation of `account` at `hfBelowBps` would pay now:
    ///         `repay` to the beneficiary, `bonus` to the keeper, `escrowLeft` left.
    function previewLiquidation(address account, uint16 hfBelowBps)
        external
        view
        returns (uint256 repay, uint256 bonus, uint256 escrowLeft)
    {
        Policy storage p = _policy;
        return _split(_accounts[account].escrow, _closeBps(hfBelowBps, p), p);
    }

    /// @notice What a stale-path liquidation of `account` would pay now.
    function previewStaleLiquidation(address account)
        external
        view
        returns (uint256 repay, uint256 bonus, uint256 escrowLeft)
    {
        Policy storage p = _policy;
        return _split(_accounts[account].escrow, p.staleSliceBps, p);
    }

    /// @notice A token amount in the proofs' QTY fixed point (8 decimals).
    /// @param roundUp True for keepers' proofs, false for desks' (always against the prover).
    function marginQuantity(uint256 amount, bool roundUp) external view returns (uint256) {
        return _qty(amount, roundUp);
    }

    // ------------------------------------------------------------------ internals

    /// @dev What every withdrawal checks before its proof: the pause's exit rule, 0 < amount ≤
    ///      escrow, an attested book issued at most maxAttestationAge ago (see `withdraw`), and
    ///      no price-book grace period (fail closed, as liquidations).
    function _openWithdrawal(uint256 amount)
        internal
        view
        returns (AccountState storage a, Policy storage p, uint256 escrow)
    {
        if (_paused) {
            uint256 opensAt = uint256(pausedAt) + MAX_PAUSE_BEFORE_EXIT;
            if (block.timestamp <= opensAt) revert RiskVault__ExitNotYetOpen(opensAt + 1);
        }
        if (amount == 0) revert RiskVault__ZeroAmount();
        a = _accounts[msg.sender];
        if (a.commitment == 0) revert RiskVault__NoCommitment(msg.sender);
        escrow = a.escrow;
        if (amount > escrow) revert RiskVault__InsufficientEscrow(escrow, amount);
        p = _policy;
        uint64 issuedAt = a.bookIssuedAt;
        uint256 maxAge = p.maxAttestationAge;
        if (block.timestamp - issuedAt > maxAge) revert RiskVault__WithdrawOnOldBook(issuedAt, maxAge);
        uint256 grace = priceBook.graceEndsAt();
        if (block.timestamp < grace) revert RiskVault__GracePeriod(grace);
    }

    /// @dev Checks an attestation and records it (commitment, sequence, event).
    function _acceptAttestation(AccountState storage a, BookAttestation calldata att, bytes calldata signature)
        internal
    {
        uint256 c = att.commitment;
        if (c == 0 || c >= K.SNARK_SCALAR_FIELD) revert RiskVault__InvalidCommitment(c);
        uint64 current = a.bookSequence;
        if (att.sequence <= current) revert RiskVault__StaleAttestationSequence(att.account, att.sequence, current);
        if (att.issuedAt > block.timestamp) revert RiskVault__AttestationFromFuture(att.issuedAt);
        uint256 maxAge = _policy.maxAttestationAge;
        if (block.timestamp - att.issuedAt > maxAge) revert RiskVault__AttestationTooOld(att.issuedAt, maxAge);
        address attester = a.attester;
        if (attester == address(0)) revert RiskVault__NoAttester(att.account);
        bytes32 digest = _attestationDigest(att);
        // ECDSA first (no EXTCODESIZE of a cold account), then ERC-1271 for contract attesters.
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (
            (err != ECDSA.RecoverError.NoError || signer != attester)
                && !SignatureChecker.isValidERC1271SignatureNowCalldata(attester, digest, signature)
        ) revert RiskVault__InvalidAttestationSignature(att.account, attester);
        if (att.issuedAt > type(uint32).max) revert RiskVault__IssuedAtTooLarge(att.issuedAt);
        a.commitment = c;
        a.bookSequence = att.sequence;
        // forge-lint: disable-next-line(unsafe-typecast)
        a.bookIssuedAt = uint32(att.issuedAt); // checked just above
        emit BookAttested(att.account, c, att.sequence, att.issuedAt, msg.sender);
    }

    /// @dev Verifies a desk's HF ≥ threshold proof of its stored commitment for `action` and
    ///      consumes the nonce; returns the nonce used and the threshold proven.
    function _acceptHealthProof(
        AccountState storage a,
        Policy storage p,
        Action action,
        uint256 amount,
        uint256 snapshotId,
        uint256 marginAfter,
        uint256[8] calldata proof
    ) internal returns (uint256 nonce, uint16 threshold) {
        IPriceBook.Snapshot memory s = _usableSnapshot(snapshotId, a.lastProofSnapshotId, p);
        threshold = s.degraded ? p.degradedMinHealthBps : p.minHealthBps;
        nonce = a.nonce;
        uint256[5] memory pub = [
            a.commitment,
            s.hash,
            _qty(marginAfter, false),
            uint256(threshold), // mode AT_LEAST = 0
            _binding(msg.sender, action, amount, nonce, snapshotId, msg.sender)
        ];
        if (!verifier.verifyHealth(proof, pub)) revert RiskVault__InvalidProof();
        // forge-lint: disable-next-line(unsafe-typecast)
        a.nonce = uint32(nonce + 1); // 2^32 proof-gated actions per account
        // Ids never go back and snapshots are taken at non-decreasing times: monotone.
        // forge-lint: disable-next-line(unsafe-typecast)
        a.lastProofAt = uint40(s.takenAt); // seconds: fits 40 bits for 34,000 years
        // forge-lint: disable-next-line(unsafe-typecast)
        a.lastProofSnapshotId = uint48(snapshotId); // an existing id (sequential from 1)
    }

    /// @dev A snapshot a proof may use: it exists, is not older than the account's last proof's,
    ///      was taken within the last snapshotWindow seconds and its prices are fresh.
    function _usableSnapshot(uint256 snapshotId, uint256 lastProofSnapshotId, Policy storage p)
        internal
        view
        returns (IPriceBook.Snapshot memory s)
    {
        if (snapshotId < lastProofSnapshotId) {
            revert RiskVault__SnapshotBeforeLastProof(snapshotId, lastProofSnapshotId);
        }
        s = priceBook.snapshot(snapshotId);
        if (s.takenAt == 0) revert RiskVault__UnknownSnapshot(snapshotId);
        if (uint256(s.takenAt) + p.snapshotWindow < block.timestamp) {
            revert RiskVault__SnapshotOutsideWindow(snapshotId, s.takenAt, block.timestamp - p.snapshotWindow);
        }
        if (block.timestamp > uint256(s.oldestPriceAt) + p.maxPriceAge) {
            revert RiskVault__StalePrice(snapshotId, s.oldestPriceAt, p.maxPriceAge);
        }
    }

    /// @dev Common liquidation preconditions; returns the escrow.
    function _requireLiquidatable(address account, AccountState storage a, Policy storage p)
        internal
        view
        returns (uint256 escrow)
    {
        if (a.commitment == 0) revert RiskVault__NoCommitment(account);
        escrow = a.escrow;
        if (escrow == 0) revert RiskVault__NothingToSeize(account);
        uint256 last = a.lastLiquidatedAt;
        uint256 notBefore = last + p.liquidationCooldown;
        if (last != 0 && block.timestamp < notBefore) revert RiskVault__LiquidationCooldown(account, notBefore);
        uint256 grace = priceBook.graceEndsAt();
        if (block.timestamp < grace) revert RiskVault__GracePeriod(grace);
    }

    /// @dev The share of escrow a proof of HF < hfBelowBps allows.
    function _closeBps(uint16 hfBelowBps, Policy storage p) internal view returns (uint256) {
        if (hfBelowBps == LIQUIDATION_HF_BPS) return p.closeFactorBps;
        if (hfBelowBps == FULL_LIQUIDATION_HF_BPS) return K.BPS_SCALE;
        revert RiskVault__UnsupportedHfThreshold(hfBelowBps);
    }

    /// @dev The grace period extends a deadline that falls inside it to its end (the desk could
    ///      not re-prove during the outage) but gives no fresh maxProofAge: an account that had
    ///      stopped proving before the outage is due as soon as the grace ends.
    ///      Re-proof grace: anyone may land the attester's newer book, which voids a desk's
    ///      in-flight re-proof of the old one; a book issued at or before the due moves the due to
    ///      at least issuedAt + snapshotWindow (the time the vault already gives a proof to be
    ///      made and mined). It runs from the attester's signature, so a book held back by a
    ///      griefer gives no more than one landing at once, and it is capped at due +
    ///      snapshotWindow: a stream of new books cannot keep an account that stopped proving
    ///      alive, and a book issued after the due revives nothing.
    ///      Pauses: an unpause restarts the clock (due = provingResumedAt + maxProofAge) only of
    ///      the accounts whose deadline (re-proof grace included, the oracle grace not: it only
    ///      postpones) had not passed when the pause began; an account stale then keeps its
    ///      deadline, so cycling the pause revives nothing. Only checkpoint pauses (see
    ///      PauseCheckpoint) can find an extended account stale, so the account is extended iff
    ///      it was alive at the last one and, on its maxProofAge alone, at the one before
    ///      (older ones follow: its clock was then earlier). Strict in one corner: a desk alive
    ///      at both of two checkpoints under snapshotWindow apart only by re-proof graces is
    ///      not extended. A stale account reports the deadline it had at the last checkpoint,
    ///      or its own lastProofAt + maxProofAge when stale before the one before.
    function _proofDeadline(AccountState storage a, Policy storage p) internal view returns (uint256) {
        uint256 maxAge = p.maxProofAge;
        uint256 last = a.lastProofAt;
        PauseCheckpoint memory c = _checkpoint;
        uint256 due = last + maxAge;
        if (due >= c.previousPausedAt) {
            // Extended by every unpause up to the last checkpoint: its deadline when it began.
            due = _withReproofGrace(a, p, Math.max(last, c.resumedBefore) + maxAge);
            if (due >= c.pausedAt) due = Math.max(last, provingResumedAt) + maxAge;
        }
        return Math.max(_withReproofGrace(a, p, due), priceBook.graceEndsAt());
    }

    /// @dev The re-proof grace of `due` (see _proofDeadline): a book issued at or before it
    ///      moves it to at least issuedAt + snapshotWindow. Idempotent.
    function _withReproofGrace(AccountState storage a, Policy storage p, uint256 due) internal view returns (uint256) {
        uint256 issuedAt = a.bookIssuedAt;
        return issuedAt <= due ? Math.max(due, issuedAt + p.snapshotWindow) : due;
    }

    /// @dev slice = escrow · sliceBps (all of it under minLeftover), split into repay + bonus.
    function _split(uint256 escrow, uint256 sliceBps, Policy storage p)
        internal
        view
        returns (uint256 repay, uint256 bonus, uint256 left)
    {
        uint256 slice = escrow * sliceBps / K.BPS_SCALE;
        if (escrow - slice < p.minLeftover) slice = escrow;
        repay = slice * K.BPS_SCALE / (K.BPS_SCALE + p.liquidationBonusBps);
        bonus = repay * p.liquidationBonusBps / K.BPS_SCALE;
        if (slice == escrow) repay = escrow - bonus; // the rounding remainder: nothing is left
        left = escrow - repay - bonus;
    }

    /// @dev A keeper's HF < hfBelowBps proof of the stored commitment at provenMargin, bound to
    ///      msg.sender and the current nonce.
    function _verifyLiquidationProof(
        address account,
        AccountState storage a,
        Policy storage p,
        uint256 snapshotId,
        uint256 provenMargin,
        uint16 hfBelowBps,
        uint256[8] calldata proof
    ) internal view {
        IPriceBook.Snapshot memory s = _usableSnapshot(snapshotId, a.lastProofSnapshotId, p);
        uint256[5] memory pub = [
            a.commitment,
            s.hash,
            provenMargin,
            uint256(hfBelowBps) | (K.MODE_BELOW << K.BPS_BITS),
            _binding(account, Action.LIQUIDATE, 0, a.nonce, snapshotId, msg.sender)
        ];
        if (!verifier.verifyHealth(proof, pub)) revert RiskVault__InvalidProof();
    }

    /// @dev The effects (escrow, nonce, cooldown, the beneficiary's credit, events); returns the
    ///      keeper's bonus, which the caller then transfers to msg.sender, the one transfer (pull
    ///      payment for the beneficiary).
    function _seize(
        address account,
        AccountState storage a,
        Policy storage p,
        uint256 sliceBps,
        uint256 snapshotId,
        uint16 hfBelowBps,
        LiquidationPath path
    ) internal returns (uint256 bonus) {
        uint256 nonce = a.nonce;
        uint256 repay;
        uint256 left;
        (repay, bonus, left) = _split(a.escrow, sliceBps, p);
        if (repay == 0) revert RiskVault__NothingToSeize(account);
        // forge-lint: disable-next-line(unsafe-typecast)
        a.escrow = uint96(left); // < escrow
        // forge-lint: disable-next-line(unsafe-typecast)
        a.nonce = uint32(nonce + 1);
        // forge-lint: disable-next-line(unsafe-typecast)
        a.lastLiquidatedAt = uint40(block.timestamp);
        address payee = beneficiary;
        uint256 total = owed[payee] + repay;
        owed[payee] = total;
        emit Liquidated(account, path, msg.sender, snapshotId, hfBelowBps, repay, bonus, left, nonce);
        emit OwedCredited(payee, account, repay, total);
    }

    /// @dev The keeper's bonus to msg.sender: a liquidation's one transfer, after its effects.
    function _payBonus(uint256 bonus) internal {
        if (bonus != 0) marginToken.safeTransfer(msg.sender, bonus);
    }

    function _attestationDigest(BookAttestation calldata att) internal view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(BOOK_ATTESTATION_TYPEHASH, att.account, att.commitment, att.sequence, att.issuedAt))
        );
    }

    /// @dev keccak256(abi.encode(chainId, vault, account, action, amount, nonce, snapshotId,
    ///      submitter)) mod 2^BINDING_BITS (< r; Health range-checks the binding to BINDING_BITS).
    function _binding(
        address account,
        Action action,
        uint256 amount,
        uint256 nonce,
        uint256 snapshotId,
        address submitter
    ) internal view returns (uint256) {
        bytes32 h = keccak256(
            abi.encode(block.chainid, address(this), account, action, amount, nonce, snapshotId, submitter)
        );
        return uint256(h) % (1 << K.BINDING_BITS);
    }

    function _qty(uint256 amount, bool roundUp) internal view returns (uint256) {
        uint256 scaled = amount * _qtyMul;
        return roundUp ? Math.ceilDiv(scaled, _qtyDiv) : scaled / _qtyDiv;
    }

    function _setPolicy(Policy memory p) internal {
        _bound(p.minHealthBps, 10_000, 30_000, "minHealthBps");
        _bound(p.degradedMinHealthBps, p.minHealthBps, 40_000, "degradedMinHealthBps");
        _bound(p.closeFactorBps, 2_000, 5_000, "closeFactorBps");
        _bound(p.liquidationBonusBps, 0, 1_500, "liquidationBonusBps");
        _bound(p.staleSliceBps, 100, 2_500, "staleSliceBps");
        _bound(p.liquidationCooldown, 300, 7 days, "liquidationCooldown");
        _bound(p.maxProofAge, 1 hours, 30 days, "maxProofAge");
        _bound(p.maxPriceAge, 60, 2 days, "maxPriceAge");
        _bound(p.snapshotWindow, 60, 3600, "snapshotWindow");
        _bound(p.maxAttestationAge, 60, 30 days, "maxAttestationAge");
        _bound(p.minLeftover, 0, maxMinLeftover, "minLeftover");
        emit PolicyChanged(_policy, p);
        _policy = p;
    }

    function _bound(uint256 value, uint256 min, uint256 max, string memory what) internal pure {
        if (value < min || value > max) revert RiskVault__InvalidPolicy(what);
    }

    function _setBeneficiary(address beneficiary_) internal {
        if (beneficiary_ == address(0)) revert RiskVault__ZeroAddress();
        emit BeneficiaryChanged(beneficiary, beneficiary_);
        beneficiary = beneficiary_;
    }
}
