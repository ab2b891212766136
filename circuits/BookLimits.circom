pragma circom 2.1.6;

include "RangeCheck.circom";
include "AssertLessOrEqual.circom";
include "Log2Ceil.circom";
include "generated/Constants.circom";

// BookLimits(N): a book's per-asset notional caps, concentration and leverage, at given prices.
//   a_i      = |q_i| · price_i                       notional of slot i (VALUE scale)
//   gross    = Σ a_i                                  the book's gross exposure
//   value_i  = q_i · price_i (+ margin · price_0 for slot 0, the margin asset)
//   equity   = Σ value_i                              signed
//   caps:          a_i ≤ notionalCap_i                 for every slot
//   concentration: a_i · 10⁴ ≤ concentrationBps · gross   for every slot
//   leverage:      gross · 10⁴ ≤ leverageBps · equity  (a book with equity ≤ 0 fails unless flat)
// Mirrors zkrisk.engine.statements.limits. The caller range-checks net/magnitude (< 2^QTY_BITS,
// as CommittedBook does). Every other input is range-checked here, before any product:
//   margin < 2^QTY_BITS, price_i < 2^PRICE_BITS, concentrationBps < 2^BPS_BITS,
//   leverageBps < 2^LEVERAGE_BITS.
// The leverage check is not optional: equity is signed, so without it leverageBps · equity
// wraps mod p for a huge leverageBps and a negative equity, and books with equity far below 0
// pass (e.g. leverageBps = 2^200, an all-short book; wrapped books exist from ≈ 2^107).
// notionalCap_i needs no check of its own: its comparison is one, cap_i − a_i ∈ [0, 2^NOTIONAL)
// with a_i ∈ [0, 2^NOTIONAL) forces cap_i < 2^(NOTIONAL+1) (prover/range_audit.py derives it
// from the R1CS); a cap in [2^NOTIONAL, 2^(NOTIONAL+1)) can only reject books, and the builder
// refuses caps ≥ 2^NOTIONAL. (16 explicit 144-bit checks would not fit attest16x250's budget.)
// Inputs: net[N], magnitude[N], margin, price[N], notionalCap[N], concentrationBps, leverageBps.
// Outputs: value[N] (signed slot values incl. margin, VALUE scale; RiskAttestation reuses them).
// Constraints: N·(PRICE_BITS + 2·VALUE_BITS + BPS_BITS + log2Ceil(N) + 2) + QTY_BITS
//   + VALUE_BITS + log2Ceil(N+1) + 2·LEVERAGE_BITS + BPS_BITS + 3.
template BookLimits(N) {
    assert(N >= 1);
    assert(N <= 64);
    var QB = QTY_BITS();
    var PB = PRICE_BITS();
    var BB = BPS_BITS();
    var NOTIONAL_BITS = QB + PB;                         // a_i, notionalCap_i
    var GROSS_BITS = NOTIONAL_BITS + log2Ceil(N);        // gross: N terms
    var EQUITY_BITS = NOTIONAL_BITS + log2Ceil(N + 1);   // |equity|: N terms plus the margin
    var LEV = LEVERAGE_BITS();
    assert(EQUITY_BITS + LEV + 1 <= 252);

    signal input net[N];
    signal input magnitude[N];
    signal input margin;
    signal input price[N];
    signal input notionalCap[N];
    signal input concentrationBps;
    signal input leverageBps;
    signal output value[N];

    component marginBits = RangeCheck(QB);
    marginBits.in <== margin;
    component concentrationBits = RangeCheck(BB);
    concentrationBits.in <== concentrationBps;
    component leverageBits = RangeCheck(LEV);
    leverageBits.in <== leverageBps;
    component priceBits[N];
    signal notional[N];
    signal netValue[N];
    var gross = 0;
    var equity = 0;
    for (var i = 0; i < N; i++) {
        priceBits[i] = RangeCheck(PB);
        priceBits[i].in <== price[i];
        notional[i] <== magnitude[i] * price[i];
        netValue[i] <== net[i] * price[i];
        gross += notional[i];
    }
    signal marginValue <== margin * price[0];
    for (var i = 0; i < N; i++) {
        value[i] <== netValue[i] + (i == 0 ? marginValue : 0);
        equity += value[i];
    }

    component cap[N];
    component concentration[N];
    signal concentrationBound <== concentrationBps * gross;
    for (var i = 0; i < N; i++) {
        cap[i] = AssertLessOrEqual(NOTIONAL_BITS);
        cap[i].a <== notional[i];
        cap[i].b <== notionalCap[i];
        concentration[i] = AssertLessOrEqual(GROSS_BITS + BB);
        concentration[i].a <== notional[i] * 10000;
        concentration[i].b <== concentrationBound;
    }
    component leverage = AssertLessOrEqual(EQUITY_BITS + LEV + 1);
    leverage.a <== gross * 10000;
    leverage.b <== leverageBps * equity;
}
