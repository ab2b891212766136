pragma circom 2.1.6;

include "RangeCheck.circom";
include "SignedQuantity.circom";
include "PortfolioCommitment.circom";
include "generated/Constants.circom";

// CommittedBook(N): a private book of N signed positions, opened against its commitment.
//   commitment = PortfolioCommitment(account, salt, long_i + short_i · 2^QTY_BITS)
// Every statement (Health, Limits, RiskAttestation) opens the same commitment this way, so
// one on-chain commitment serves all of them. `salt` needs no range check: it only enters
// Poseidon, where any field element is valid (and intended: ≥ 128 random bits).
// Inputs: account (< 2^ACCOUNT_BITS), salt, long[N], short[N].
// Outputs: commitment, net[N] (signed), magnitude[N].
// Constraints: ACCOUNT_BITS + N·(2·QTY_BITS + 1) + PortfolioCommitment(N).
template CommittedBook(N) {
    assert(N >= 1);
    assert(N <= 64);
    signal input account;
    signal input salt;
    signal input long[N];
    signal input short[N];
    signal output commitment;
    signal output net[N];
    signal output magnitude[N];

    component accountBits = RangeCheck(ACCOUNT_BITS());
    accountBits.in <== account;

    component slot[N];
    component book = PortfolioCommitment(N);
    book.account <== account;
    book.salt <== salt;
    for (var i = 0; i < N; i++) {
        slot[i] = SignedQuantity();
        slot[i].long <== long[i];
        slot[i].short <== short[i];
        net[i] <== slot[i].net;
        magnitude[i] <== slot[i].magnitude;
        book.packedPositions[i] <== slot[i].packed;
    }
    commitment <== book.out;
}
