pragma circom 2.1.6;

include "CommittedBook.circom";
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
// Risk arrays are PUBLIC inputs, not bound by a hash. Hashing them in the circuit (36 Poseidon(16)
// for N = 16, S = 32) cost ~22,000 of margin16x32's 32,351 constraints and a 2^15 domain, and
// kept the proof at ~2.2 s; public, the circuit is 10,466 constraints + 531 public signals
// (a 2^14 domain). Public inputs cost the verifier one ecMul each (~6,200 gas, ~3.3 M gas for
// 528), but the arrays change once per epoch while proofs come per withdrawal, so the on-chain
// verifier (zkrisk.prover.folded_verifier: contracts/src/generated/<Name>ArraysVerifier.sol)
// folds them into the verification key once per publication, P = Σ x_i·IC_i over the array
// inputs, range-checking every entry; a withdrawal then pays for its 3 per-proof inputs only.
// Each row is riskArrays[i] = [m_i, u_i[0..S−1]]: the short-option minimum m_i ∈ [0, 2^(PB−1))
// and the P&L entries offset-encoded u = a + 2^(PRICE_BITS−1) ∈ [0, 2^PRICE_BITS) (negative
// P&L needs no field negation). The circuit does not range-check them: they are the verifier's
// own public data, and both of its encoders refuse entries outside those ranges — the contract
// (FoldedVerifier__EntryOutOfRange) and zkrisk.engine.statements.portfolio_margin.array_words.
//
// Bounds: |q_i| < 2^QTY_BITS, |a_i[s]|, m_i < 2^(PRICE_BITS−1), so |loss_s|, SOM
// < N·2^(QTY_BITS+PRICE_BITS−1) ≤ 2^LB with LB = QTY_BITS + PRICE_BITS + log2Ceil(N), and
// marginHeld < 2^VALUE_BITS ≤ 2^LB. Then requirement − c ∈ (−2^(LB+1), 2^(LB+1)) for every
// candidate c, so AssertLessOrEqual(LB + 1) cannot alias (LB + 1 ≤ 252).
//
// Public inputs (in this order): commitment, marginHeld, binding, riskArrays[N][S + 1].
// How each is bounded (tests/circuits/test_public_inputs_bounded.py checks it from the R1CS):
//   commitment    a Poseidon output compared by equality: nothing to wrap
//   riskArrays    range-checked by the verifier that encodes them (see above)
//   marginHeld    range-checked to VALUE_BITS (USD at VALUE scale, what the vault holds)
//   binding       the action binding (chain, vault, account, action, amount, nonce) mod
//                 2^BINDING_BITS, range-checked and so kept in the R1CS, as in Health
// Private inputs: account, salt, long[N], short[N], pick[S + 2].
// Outputs: none. Constraints (snarkjs r1cs info, --O2): see circuits.json budgets.
template PortfolioMargin(N, S) {
    assert(N >= 1);
    assert(S >= 1);
    var QB = QTY_BITS();
    var PB = PRICE_BITS();
    var LB = QB + PB + log2Ceil(N);
    assert(LB + 1 <= 252);
    var C = S + 2;

    signal input commitment;
    signal input marginHeld;
    signal input binding;
    signal input riskArrays[N][S + 1];

    signal input account;
    signal input salt;
    signal input long[N];
    signal input short[N];
    signal input pick[C];

    component book = CommittedBook(N);
    book.account <== account;
    book.salt <== salt;
    book.long <== long;
    book.short <== short;
    commitment === book.commitment;
    _ <== book.magnitude;  // SPAN prices the signed net; the magnitudes are the Health gate's

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
        charge[i] <== short[i] * riskArrays[i][0];
        som += charge[i];
    }
    candidate[1] <== som;
    for (var s = 0; s < S; s++) {
        var gain = 0;
        for (var i = 0; i < N; i++) {
            term[s][i] <== book.net[i] * riskArrays[i][1 + s];
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
