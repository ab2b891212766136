pragma circom 2.1.6;

include "circomlib/circuits/poseidon.circom";

// PoseidonChainWide(n): hash a seed and n field elements fifteen at a time with circomlib's
// widest Poseidon (16 inputs, t = 17), the fewest constraints per element (~38 vs ~60 for
// PoseidonChain's Poseidon(5)), for hashing public data such as risk arrays:
//   acc_0 = seed; acc_{k+1} = Poseidon16(acc_k, in[15k..15k+14]) (zero-padded); out = acc_last.
// Mirrors zkrisk.engine.statements.portfolio_margin.poseidon_chain_wide.
// Inputs: seed, in[n]. Output: out. Constraints: ceil(n/15) × Poseidon(16).
template PoseidonChainWide(n) {
    assert(n > 0);
    var ARITY = 15;
    var chunks = (n + ARITY - 1) \ ARITY;
    signal input seed;
    signal input in[n];
    signal output out;

    component hashes[chunks];
    for (var k = 0; k < chunks; k++) {
        hashes[k] = Poseidon(ARITY + 1);
        hashes[k].inputs[0] <== k == 0 ? seed : hashes[k - 1].out;
        for (var j = 0; j < ARITY; j++) {
            var idx = k * ARITY + j;
            if (idx < n) {
                hashes[k].inputs[j + 1] <== in[idx];
            } else {
                hashes[k].inputs[j + 1] <== 0;
            }
        }
    }
    out <== hashes[chunks - 1].out;
}
