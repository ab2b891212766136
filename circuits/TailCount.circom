pragma circom 2.1.6;

include "RangeCheck.circom";
include "AssertLessOrEqual.circom";
include "Log2Ceil.circom";

// TailCount(K): m = ⌊(10⁴ − α) · K / 10⁴⌋, how many of K scenario losses may exceed VaR_α,
// for α in bps strictly inside (0, 10⁴). Division by a witness with its constraint:
//   (10⁴ − α) · K = m · 10⁴ + r,  0 ≤ r < 10⁴,  0 ≤ m < 2^log2Ceil(K+1)
// Mirrors zkrisk.engine.risk.metrics.var.tail_count_bps.
// Public input alphaBps: bounded to [1, 9999] by the two 14-bit differences below (no other
// check needed). circheck flags m and remainder ("dataflow does not match its constraints"):
// they are a quotient and remainder computed with <-- and pinned by the division identity with
// both range-checked, which is the intended way to divide in a circuit (not a bug).
// Inputs: alphaBps. Outputs: m. Constraints: 4·14 + log2Ceil(K+1) + 1.
template TailCount(K) {
    assert(K >= 1);
    assert(K < 10000);  // then m + 1 ≤ K for every α ≥ 1 bps
    signal input alphaBps;
    signal output m;
    signal remainder;

    // 1 ≤ α ≤ 9999 (both differences fit 14 bits only when α is in range).
    component low = AssertLessOrEqual(14);
    low.a <== 1;
    low.b <== alphaBps;
    component high = AssertLessOrEqual(14);
    high.a <== alphaBps;
    high.b <== 9999;

    m <-- ((10000 - alphaBps) * K) \ 10000;
    remainder <-- ((10000 - alphaBps) * K) % 10000;
    (10000 - alphaBps) * K === m * 10000 + remainder;
    component mBits = RangeCheck(log2Ceil(K + 1));
    mBits.in <== m;
    component remainderLow = RangeCheck(14);
    remainderLow.in <== remainder;
    component remainderHigh = AssertLessOrEqual(14);
    remainderHigh.a <== remainder;
    remainderHigh.b <== 9999;
}
