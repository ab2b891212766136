pragma circom 2.1.6;

include "CommittedBook.circom";
include "BookLimits.circom";

// Limits(N): a committed private book keeps per-asset notional caps, concentration and
// leverage at public prices (see BookLimits for the rules). Verified on- or off-chain.
//
// Public inputs (in this order): commitment, margin, price[N], notionalCap[N],
//   concentrationBps, leverageBps.
// Private inputs: account, salt, long[N], short[N].
// Outputs: none (the verdict is the proof's validity).
// Every public input but the commitment (a Poseidon output compared by equality) is
// range-checked in BookLimits; tests/circuits/test_public_inputs_bounded.py checks it.
// Constraints (snarkjs r1cs info, --O2): Limits(4) = 3,148; Limits(16) = 10,541.
template Limits(N) {
    signal input commitment;
    signal input margin;
    signal input price[N];
    signal input notionalCap[N];
    signal input concentrationBps;
    signal input leverageBps;

    signal input account;
    signal input salt;
    signal input long[N];
    signal input short[N];

    component book = CommittedBook(N);
    book.account <== account;
    book.salt <== salt;
    book.long <== long;
    book.short <== short;
    commitment === book.commitment;

    component limits = BookLimits(N);
    limits.net <== book.net;
    limits.magnitude <== book.magnitude;
    limits.margin <== margin;
    limits.price <== price;
    limits.notionalCap <== notionalCap;
    limits.concentrationBps <== concentrationBps;
    limits.leverageBps <== leverageBps;
    _ <== limits.value;
}
