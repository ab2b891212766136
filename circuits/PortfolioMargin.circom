pragma circom 2.1.6;

include "CommittedBook.circom";
include "PoseidonChainWide.circom";
include "AssertLessOrEqual.circom";
include "RangeCheck.circom";
include "Log2Ceil.circom";
include "generated/Constants.circom";

// PortfolioMargin(N, S): a committed private book's SPAN requirement over S public scenarios is
// covered by the margin held:
//   loss_s      = −Σ_i q_i · a_i[s]                 (a_i[s]: P&L of one long unit, PRICE scale)
//   SOM         = Σ_i short_i · m_i                 (m_i: short-option minimum per short unit)
//   requirement = max(0, SOM, loss_0, …, loss_{S−1})   (CME SPAN: max(scan risk, SOM))
//   requirement ≤ marginHeld                         (all at VALUE scale = QTY · PRICE)
// Mirrors zkrisk.engine.risk.margin.requirement bit for bit; verified on- or off-chain.
//
// The maximum cannot be forged: the prover picks one candidate (one-hot `pick` over the S + 2
// candidates 0, SOM, loss_0 … loss_{S−1}), the requirement is that candidate, and every
// candidate is constrained ≤ it. A pick of anything but a maximum fails a range check.
//
// Risk arrays are bound by a Poseidon hash, not public. Public arrays would cost no hashing but
// N·(S+1) public inputs (528 for N = 16, S = 32): ~6,200 gas each in the verifier's
// multi-scalar multiplication (~3.3 M gas per verification, beyond what a withdrawal gate can
// pay) against ~22,000 constraints for the hash here (36 Poseidon(16)), which a 2^16 setup holds.
// With the hash the statement keeps 4 public inputs, like Health, so the vault can gate on it.
// The arrays enter as private witness, offset-encoded u = a + 2^(PRICE_BITS−1) ∈ [0, 2^PRICE_BITS)
// (negative P&L needs no field negation), hashed in this order:
//   riskArraysHash = PoseidonChainWide(seed = N · 2^32 + S, [m_0, u_0[0..S−1], m_1, u_1[…], …])
// They need no range checks: Poseidon binds them to the field elements the publisher hashed,
// and its builder (zkrisk.engine.statements.portfolio_margin) refuses entries outside
// [0, 2^PRICE_BITS) and minimums outside [0, 2^(PRICE_BITS−1)).
//
// Bounds: |q_i| < 2^QTY_BITS, |a_i[s]|, m_i < 2^(PRICE_BITS−1), so |loss_s|, SOM
// < N·2^(QTY_BITS+PRICE_BITS−1) ≤ 2^LB with LB = QTY_BITS + PRICE_BITS + log2Ceil(N), and
// marginHeld < 2^VALUE_BITS ≤ 2^LB. Then requirement − c ∈ (−2^(LB+1), 2^(LB+1)) for every
// candidate c, so AssertLessOrEqual(LB + 1) cannot alias (LB + 1 ≤ 252).
//
// Public inputs (in this order): commitment, riskArraysHash, marginHeld, binding.
// How each is bounded (tests/circuits/test_public_inputs_bounded.py checks it from the R1CS):
//   commitment, riskArraysHash  Poseidon outputs compared by equality: nothing to wrap
//   marginHeld    range-checked to VALUE_BITS (USD at VALUE scale, what the vault holds)
//   binding       the action binding (chain, vault, account, action, amount, nonce) mod
//                 2^BINDING_BITS, range-checked and so kept in the R1CS, as in Health
// Private inputs: account, salt, long[N], short[N], arrays[N][S], minimums[N], pick[S + 2].
// Outputs: none. Constraints (snarkjs r1cs info, --O2): see circuits.json budgets.
template PortfolioMargin(N, S) {
    assert(N >= 1);
    assert(S >= 1);
    assert(S < 1 << 32);
    var QB = QTY_BITS();
    var PB = PRICE_BITS();
    var LB = QB + PB + log2Ceil(N);
    assert(LB + 1 <= 252);
    var C = S + 2;

    signal input commitment;
    signal input riskArraysHash;
    signal input marginHeld;
    signal input binding;

    signal input account;
    signal input salt;
    signal input long[N];
    signal input short[N];
    signal input arrays[N][S];
    signal input minimums[N];
    signal input pick[C];

    component book = CommittedBook(N);
    book.account <== account;
    book.salt <== salt;
    book.long <== long;
    book.short <== short;
    commitment === book.commitment;
    _ <== book.magnitude;  // SPAN prices the signed net; the magnitudes are the Health gate's

    component hash = PoseidonChainWide(N * (S + 1));
    hash.seed <== N * (1 << 32) + S;
    for (var i = 0; i < N; i++) {
        hash.in[i * (S + 1)] <== minimums[i];
        for (var s = 0; s < S; s++) {
            hash.in[i * (S + 1) + 1 + s] <== arrays[i][s];
        }
    }
    riskArraysHash === hash.out;

    // loss_s = −Σ q_i · (u_is − 2^(PB−1)) = 2^(PB−1) · Σ q_i − Σ q_i · u_is
    var netSum = 0;
    for (var i = 0; i < N; i++) {
        netSum += book.net[i];
    }
    signal term[S][N];
    signal candidate[C];
    candidate[0] <== 0;
    var som = 0;
    signal charge[N];
    for (var i = 0; i < N; i++) {
        charge[i] <== short[i] * minimums[i];
        som += charge[i];
    }
    candidate[1] <== som;
    for (var s = 0; s < S; s++) {
        var gain = 0;
        for (var i = 0; i < N; i++) {
            term[s][i] <== book.net[i] * arrays[i][s];
            gain += term[s][i];
        }
        candidate[2 + s] <== (1 << (PB - 1)) * netSum - gain;
    }

    // requirement = the picked candidate; every candidate ≤ it
    signal chosen[C];
    var picked = 0;
    var total = 0;
    for (var j = 0; j < C; j++) {
        pick[j] * (pick[j] - 1) === 0;
        chosen[j] <== pick[j] * candidate[j];
        picked += pick[j];
        total += chosen[j];
    }
    picked === 1;
    signal requirement <== total;
    component atMost[C];
    for (var j = 0; j < C; j++) {
        atMost[j] = AssertLessOrEqual(LB + 1);
        atMost[j].a <== candidate[j];
        atMost[j].b <== requirement;
    }

    component held = RangeCheck(QB + PB);  // VALUE_BITS
    held.in <== marginHeld;
    component covered = AssertLessOrEqual(LB + 1);
    covered.a <== requirement;
    covered.b <== marginHeld;

    component bindingBits = RangeCheck(BINDING_BITS());
    bindingBits.in <== binding;
}
