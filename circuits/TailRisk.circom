pragma circom 2.1.6;

include "RangeCheck.circom";
include "AssertLessOrEqual.circom";
include "Log2Ceil.circom";

// TailRisk(K, LB): historical VaR_α ≤ varLimit and Acerbi–Tasche ES_α ≤ esLimit over K scenario
// losses, without sorting, from a prover-supplied tail set that the constraints pin down.
//   tail[k] ∈ {0,1}, Σ tail = m + 1              the m + 1 scenarios of the tail
//   pick[k] ∈ {0,1}, pick ≤ tail, Σ pick = 1     one tail scenario, its loss t = Σ pick·loss
//   tail[k] = 1 ⇒ loss_k ≥ t,  tail[k] = 0 ⇒ loss_k ≤ t
// So the tail is a top-(m+1) set and t its least member: t is exactly VaR_α, the (m+1)-th
// largest loss (ties may fall either side; the tail sum is the same). Then
//   VaR_α ≤ varLimit  ⇔  t ≤ varLimit  (⇔ at most m losses exceed varLimit)
// ES_α is Acerbi–Tasche (2002), the standard historical ES: with w = K(1 − α), m = ⌊w⌋,
//   w · ES_α = (sum of the m largest losses) + (w − m) · VaR_α
// so ES_α = VaR_α when w < 1 (m = 0) and the mean of the m largest losses when w is whole.
// With α in bps, S = Σ tail·loss (the m + 1 largest) and r = K(10⁴ − α) − 10⁴·m ∈ [0, 10⁴):
//   ES_α ≤ esLimit  ⇔  10⁴·(S − t) + r·t ≤ K·(10⁴ − α)·esLimit
// The left side needs no product per scenario and no m: over the integers
//   Σ side = Σ_tail loss − Σ_out loss + t·(K − 2(m + 1))  and  Σ loss = Σ_tail + Σ_out,
// so 2S = Σ side + Σ loss − t·(K − 2m − 2), and substituting S and r (m cancels):
//   10⁴·(S − t) + r·t = 5000·(Σ side + Σ loss) + K·(5000 − α)·t.
// Mirrors zkrisk.engine.risk.metrics.var (var_within_limit, es_within_limit_bps).
// Preconditions: |loss_k| < 2^LB (the caller's range checks imply it); m = ⌊K(10⁴ − α)/10⁴⌋
// with 1 ≤ α ≤ 9999 (TailCount proves both), so 0 ≤ m < K.
// Bit widths: 0 ≤ S − t < m·2^(LB+1) and |r·t| < 10⁴·2^LB; with 0 ≤ esLimit < 2^LB (the
// builder's bound) a true ES statement has 0 ≤ right − left < (K + 1)·10⁴·2^LB
// < 2^(LB + log2Ceil(K+1) + 14) = 2^ES_BITS, and a false one a negative difference of the same
// order, far below p − 2^ES_BITS, so the comparison cannot alias.
// Inputs: loss[K], m, alphaBps, varLimit, esLimit, tail[K], pick[K] (the last two private).
// Outputs: none. Constraints: K·(LB + 6) + 2·LB + log2Ceil(K+1) + 17.
template TailRisk(K, LB) {
    assert(K >= 1);
    var ES_BITS = LB + log2Ceil(K + 1) + 14;
    assert(ES_BITS <= 252);
    signal input loss[K];
    signal input m;
    signal input alphaBps;
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

    component varOk = AssertLessOrEqual(LB + 1);
    varOk.a <== threshold;
    varOk.b <== varLimit;

    // 10⁴·(S − t) + r·t, in the m-free form derived above.
    signal tTimesHalfGap <== threshold * (5000 - alphaBps);
    signal esBound <== (10000 - alphaBps) * esLimit;
    component esOk = AssertLessOrEqual(ES_BITS);
    esOk.a <== 5000 * (sideSum + lossSum) + K * tTimesHalfGap;
    esOk.b <== K * esBound;
}
