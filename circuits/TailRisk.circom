pragma circom 2.1.6;

include "RangeCheck.circom";
include "AssertLessOrEqual.circom";
include "Log2Ceil.circom";

// TailRisk(K, LB): historical VaR_α ≤ varLimit and ES_α ≤ esLimit over K scenario losses,
// without sorting, from a prover-supplied tail set that the constraints pin down completely.
//   tail[k] ∈ {0,1}, Σ tail = m + 1              the m + 1 scenarios of the tail
//   pick[k] ∈ {0,1}, pick ≤ tail, Σ pick = 1     one tail scenario, its loss t = Σ pick·loss
//   tail[k] = 1 ⇒ loss_k ≥ t,  tail[k] = 0 ⇒ loss_k ≤ t
// So the tail is a top-(m+1) set and t its least member: t is exactly VaR_α, the (m+1)-th
// largest loss (ties may fall either side; the tail sum is the same). Then
//   VaR_α ≤ varLimit  ⇔  t ≤ varLimit  (⇔ at most m losses exceed varLimit)
//   ES_α  ≤ esLimit   ⇔  Σ tail·loss ≤ (m + 1) · esLimit
// Mirrors zkrisk.engine.risk.metrics.var (var_within_limit, es_within_limit).
// Precondition: |loss_k| < 2^LB (the caller's range checks imply it); 0 ≤ m < K.
// Inputs: loss[K], m, varLimit, esLimit, tail[K], pick[K] (the last two private).
// Outputs: none. Constraints: K·(LB + 6) + LB + log2Ceil(K+1) + 4.
template TailRisk(K, LB) {
    assert(K >= 1);
    var SUM_BITS = LB + log2Ceil(K + 1) + 1;
    assert(SUM_BITS <= 252);
    signal input loss[K];
    signal input m;
    signal input varLimit;
    signal input esLimit;
    signal input tail[K];
    signal input pick[K];

    signal pickedLoss[K];
    signal side[K];
    var tailSize = 0;
    var picks = 0;
    var t = 0;
    var lossSum = 0;
    for (var k = 0; k < K; k++) {
        tail[k] * (1 - tail[k]) === 0;
        pick[k] * (1 - pick[k]) === 0;
        pick[k] * (1 - tail[k]) === 0;
        tailSize += tail[k];
        picks += pick[k];
        pickedLoss[k] <== pick[k] * loss[k];
        t += pickedLoss[k];
        lossSum += loss[k];
    }
    tailSize === m + 1;
    picks === 1;
    signal threshold <== t;

    // side_k = loss_k − t inside the tail and t − loss_k outside it; both must be ≥ 0.
    component sideBits[K];
    var sideSum = 0;
    for (var k = 0; k < K; k++) {
        side[k] <== (2 * tail[k] - 1) * (loss[k] - threshold);
        sideBits[k] = RangeCheck(LB + 1);
        sideBits[k].in <== side[k];
        sideSum += side[k];
    }
    // The tail sum without a product per scenario: over the integers
    //   Σ side = Σ_tail loss − Σ_out loss + t · (K − 2(m + 1))  and  Σ loss = Σ_tail + Σ_out,
    // so 2 · Σ_tail loss = Σ side + Σ loss − t · (K − 2m − 2), and halving is exact in the field.
    signal tTimesRest <== threshold * (K - 2 * m - 2);
    var tailSum = (sideSum + lossSum - tTimesRest) / 2;

    component varOk = AssertLessOrEqual(LB + 1);
    varOk.a <== threshold;
    varOk.b <== varLimit;
    signal esBound <== (m + 1) * esLimit;
    component esOk = AssertLessOrEqual(SUM_BITS);
    esOk.a <== tailSum;
    esOk.b <== esBound;
}
