pragma circom 2.1.6;

include "circomlib/circuits/poseidon.circom";

// PoseidonChain(n): hash a seed and n field elements, four at a time:
//   acc_0 = seed; acc_{k+1} = Poseidon5(acc_k, in[4k..4k+3]) (zero-padded); out = acc_last.
// Mirrors zkrisk.prover.hashing.poseidon_chain. Inputs: seed, in[n]. Output: out.
// Constraints: ceil(n/4) × Poseidon(5).
template PoseidonChain(n) {
    assert(n > 0);
    var ARITY = 4;
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
