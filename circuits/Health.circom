pragma circom 2.1.6;

include "circomlib/circuits/bitify.circom";
include "RangeCheck.circom";
include "generated/Constants.circom";
include "Log2Ceil.circom";
include "BoundedLessThan.circom";
include "CommittedBook.circom";
include "SnapshotHash.circom";

// Health(N): the health statement of a committed private book at a committed price snapshot.
//
//   W = margin·price_0·lt_0 + Σ collateral_i·price_i·lt_i   (weighted collateral, value·bps)
//   D = Σ debt_i·price_i                                     (debt, value)
//   mode 0 (withdraw, commitment update): HF ≥ threshold  ⇔  W ≥ threshold·D
//   mode 1 (liquidation):                 HF < threshold  ⇔  W < threshold·D
// Slot 0 is the vault's margin asset: `margin` is the escrowed amount after the action.
//
// Public inputs (in this order; 5 in total to keep on-chain verification cheap):
//   commitment    PortfolioCommitment of (account, salt, positions)
//   snapshotHash  SnapshotHash of (snapshotId, prices, liquidation thresholds)
//   margin        escrowed margin after the action, QTY fixed point, < 2^QTY_BITS
//   thresholdMode threshold_bps + mode · 2^BPS_BITS
//   binding       keccak(chain id, vault, account, action, amount, nonce, snapshot)
//                 mod 2^BINDING_BITS; used by no other constraint, so its range check is what
//                 keeps it in the R1CS, and it makes b the only valid binding: a square alone
//                 would also accept p − b, which is > 2^BINDING_BITS.
// Every public input is range-checked (tests/circuits/test_public_inputs_bounded.py proves it
// from the R1CS) except two hashes: commitment and snapshotHash are Poseidon outputs, any field
// element, compared by equality only, so they have no range to check and nothing to wrap.
//   margin < 2^QTY_BITS, thresholdMode < 2^(BPS_BITS+1) (Num2Bits: the threshold cannot spill
//   into the mode bit in-circuit; the builder refuses a threshold ≥ 2^BPS_BITS), binding <
//   2^BINDING_BITS.
// Private inputs: account, salt, snapshotId, collateral[N], debt[N], price[N], lt[N].
// Outputs: none (the verdict is the proof's validity).
// Slot i holds the signed position collateral_i − debt_i in SignedQuantity's encoding (both
// < 2^QTY_BITS, at most one non-zero), opened against the commitment by CommittedBook.
// Constraints (snarkjs r1cs info, --O2): Health(4) = 2,918; Health(16) = 7,136; Health(64) = 23,990.
template Health(N) {
    assert(N >= 1);
    assert(N <= 64);
    var QB = QTY_BITS();
    var PB = PRICE_BITS();
    var BB = BPS_BITS();
    // Every term is < 2^(QB+PB+BB); N+1 of them sum below 2^(QB+PB+BB+log2Ceil(N+1)).
    var CMP_BITS = QB + PB + BB + log2Ceil(N + 1);
    assert(CMP_BITS <= 252);

    signal input commitment;
    signal input snapshotHash;
    signal input margin;
    signal input thresholdMode;
    signal input binding;

    signal input account;
    signal input salt;
    signal input snapshotId;
    signal input collateral[N];
    signal input debt[N];
    signal input price[N];
    signal input lt[N];

    // Range checks on every private number before any product or comparison (the book's in
    // CommittedBook), and the book is the committed one.
    component book = CommittedBook(N);
    book.account <== account;
    book.salt <== salt;
    book.long <== collateral;
    book.short <== debt;
    commitment === book.commitment;
    _ <== book.net;
    _ <== book.magnitude;

    component snapshotBits = RangeCheck(SNAPSHOT_ID_BITS());
    snapshotBits.in <== snapshotId;
    component marginBits = RangeCheck(QB);
    marginBits.in <== margin;
    component priceBits[N];
    component ltBits[N];
    for (var i = 0; i < N; i++) {
        priceBits[i] = RangeCheck(PB);
        priceBits[i].in <== price[i];
        ltBits[i] = RangeCheck(BB);
        ltBits[i].in <== lt[i];
    }
    component modeBits = Num2Bits(BB + 1);
    modeBits.in <== thresholdMode;
    signal mode <== modeBits.out[BB];
    for (var i = 0; i < BB; i++) {
        _ <== modeBits.out[i];
    }
    var threshold = thresholdMode - mode * (1 << BB);

    // The prices are the snapshot's.
    component prices = SnapshotHash(N);
    prices.snapshotId <== snapshotId;
    prices.price <== price;
    prices.lt <== lt;
    snapshotHash === prices.out;

    // Weighted collateral and debt at the snapshot prices.
    signal collateralValue[N];
    signal weighted[N];
    signal debtValue[N];
    var weightedSum = 0;
    var debtSum = 0;
    for (var i = 0; i < N; i++) {
        collateralValue[i] <== collateral[i] * price[i];
        weighted[i] <== collateralValue[i] * lt[i];
        debtValue[i] <== debt[i] * price[i];
        weightedSum += weighted[i];
        debtSum += debtValue[i];
    }
    signal marginValue <== margin * price[0];
    signal marginWeighted <== marginValue * lt[0];
    signal requiredWeighted <== threshold * debtSum;

    component below = BoundedLessThan(CMP_BITS);
    below.in[0] <== weightedSum + marginWeighted;
    below.in[1] <== requiredWeighted;
    // mode 0 needs below = 0 (HF ≥ threshold); mode 1 needs below = 1 (HF < threshold).
    below.out === mode;

    component bindingBits = RangeCheck(BINDING_BITS());
    bindingBits.in <== binding;
}
