pragma circom 2.1.6;

include "circomlib/circuits/poseidon.circom";
include "PoseidonChain.circom";

// PortfolioCommitment(N): the on-chain commitment to a private book.
//   commitment = PoseidonChain(seed = Poseidon2(account, salt), packedPositions[N])
// where packedPositions[i] = collateral_i + debt_i · 2^QTY_BITS (packing and range checks are
// the caller's job). Mirrors zkrisk.engine.statements.commitment.
// Inputs: account, salt, packedPositions[N]. Output: out. Constraints: Poseidon(2) + chain.
template PortfolioCommitment(N) {
    assert(N > 0);
    signal input account;
    signal input salt;
    signal input packedPositions[N];
    signal output out;

    component seed = Poseidon(2);
    seed.inputs[0] <== account;
    seed.inputs[1] <== salt;

    component chain = PoseidonChain(N);
    chain.seed <== seed.out;
    chain.in <== packedPositions;
    out <== chain.out;
}
