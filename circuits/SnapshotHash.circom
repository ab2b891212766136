pragma circom 2.1.6;

include "generated/Constants.circom";
include "PoseidonChain.circom";

// SnapshotHash(N): one field element naming a price snapshot and the liquidation thresholds it
// is used with, so that a proof needs one public input instead of 2N.
//   slot_i = price_i + lt_i · 2^PRICE_BITS               (PRICE_BITS + BPS_BITS = 80 bits)
//   word_j = slot_{3j} + slot_{3j+1} · 2^80 + slot_{3j+2} · 2^160   (240 bits < p)
//   out    = PoseidonChain(seed = snapshotId, word[ceil(N/3)])
// Callers range-check price_i and lt_i; packing is then injective. Mirrors
// zkrisk.engine.statements.snapshot. Inputs: snapshotId, price[N], lt[N]. Output: out.
template SnapshotHash(N) {
    assert(N > 0);
    var SLOT_BITS = PRICE_BITS() + BPS_BITS();
    var PER_WORD = 3;
    assert(SLOT_BITS * PER_WORD <= 252);
    var WORDS = (N + PER_WORD - 1) \ PER_WORD;

    signal input snapshotId;
    signal input price[N];
    signal input lt[N];
    signal output out;

    var words[WORDS];
    for (var j = 0; j < WORDS; j++) {
        words[j] = 0;
    }
    for (var i = 0; i < N; i++) {
        words[i \ PER_WORD] += (price[i] + lt[i] * (1 << PRICE_BITS())) * (1 << (SLOT_BITS * (i % PER_WORD)));
    }

    component chain = PoseidonChain(WORDS);
    chain.seed <== snapshotId;
    for (var j = 0; j < WORDS; j++) {
        chain.in[j] <== words[j];
    }
    out <== chain.out;
}
