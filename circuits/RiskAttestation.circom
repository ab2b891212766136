pragma circom 2.1.6;

include "CommittedBook.circom";
include "BookLimits.circom";
include "TailCount.circom";
include "TailRisk.circom";
include "Log2Ceil.circom";
include "generated/Constants.circom";

// RiskAttestation(N, K): a committed private book, at public prices and over a public set of K
// historical scenarios, keeps its limits (BookLimits) and
//   VaR_α ≤ varLimit and ES_α ≤ esLimit          (TailRisk; α in bps, limits at LOSS scale)
// with VaR_α the (m+1)-th largest loss, m = ⌊K(1 − α)⌋, and ES_α Acerbi–Tasche:
//   K(1 − α)·ES_α = (sum of the m largest losses) + (K(1 − α) − m)·VaR_α
// where loss_k = −Σ_i value_i · r_ki (value at VALUE scale incl. margin, r at RETURN scale).
// Verified off-chain by a counterparty who knows the scenario set.
//
// Returns are public inputs in offset encoding u = r + 2^(RETURN_BITS−1) ∈ [0, 2^RETURN_BITS),
// so negative returns need no field negation. They are the verifier's own data, encoded by its
// builder (zkrisk.engine.statements.attestation), and are not range-checked here: N·K range
// checks would cost 33·N·K constraints, and soundness needs only that the verifier's values are
// what it believes — which it computes itself. A scenario set bound by a hash instead would need
// the same N·K checks plus the hash (≥ 38 constraints per element), beyond a 2^16 setup.
//
// Public inputs (in this order): commitment, margin, price[N], notionalCap[N],
//   concentrationBps, leverageBps, alphaBps, varLimit, esLimit, returns[K][N].
// How each is bounded (tests/circuits/test_public_inputs_bounded.py checks it from the R1CS):
//   margin, price, notionalCap, concentrationBps, leverageBps   range-checked in BookLimits
//   alphaBps      1 ≤ α ≤ 9999 by TailCount's two 14-bit differences
//   commitment    allow-listed: a Poseidon output compared by equality; no range, no wrap
//   returns       allow-listed: the verifier's own data, argued above
//   varLimit, esLimit  allow-listed: each is only ever the upper side b of a ≤ b, as
//                 varLimit − t ∈ [0, 2^(LB+1)) and K·(10⁴ − α)·esLimit − lhs ∈ [0, 2^ES_BITS)
//                 with 1 ≤ K·(10⁴ − α) and |t|, |lhs| bounded by the range checks (TailRisk).
//                 For a canonical v < p and c ≥ 1, c·v mod p ≤ c·v: a wrapped limit only lowers
//                 the bound, so it proves a stronger statement than the verifier asked, never a
//                 false one. The builder refuses limits ≥ 2^LB. Range checks would cost
//                 2·LB ≈ 360 constraints; attest16x250 has 6 to spare.
// Private inputs: account, salt, long[N], short[N], tail[K], pick[K].
// Outputs: none. Constraints (snarkjs r1cs info, --O2): RiskAttestation(4, 20) = 7,347;
//   RiskAttestation(16, 250) = 61,490 — with its 4,039 public signals the Groth16 domain needs
//   61,490 + 4,039 + 1 = 65,530 ≤ 2^16 rows, so a 2^16 ptau suffices.
template RiskAttestation(N, K) {
    var RB = RETURN_BITS();
    // |value_i| < 2^(QTY+PRICE) for book slots, plus margin·price_0 < 2^(QTY+PRICE) in slot 0:
    // Σ|value| < (N+1)·2^(QTY+PRICE); |r| ≤ 2^(RB−1). So |loss| < 2^LB with
    var LB = QTY_BITS() + PRICE_BITS() + RB - 1 + log2Ceil(N + 1);
    assert(LB + 1 <= 252);

    signal input commitment;
    signal input margin;
    signal input price[N];
    signal input notionalCap[N];
    signal input concentrationBps;
    signal input leverageBps;
    signal input alphaBps;
    signal input varLimit;
    signal input esLimit;
    signal input returns[K][N];

    signal input account;
    signal input salt;
    signal input long[N];
    signal input short[N];
    signal input tail[K];
    signal input pick[K];

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

    // loss_k = −Σ value_i · (u_ki − 2^(RB−1)) = 2^(RB−1) · equity − Σ value_i · u_ki
    var equity = 0;
    for (var i = 0; i < N; i++) {
        equity += limits.value[i];
    }
    signal term[K][N];
    signal loss[K];
    for (var k = 0; k < K; k++) {
        var gain = 0;
        for (var i = 0; i < N; i++) {
            term[k][i] <== limits.value[i] * returns[k][i];
            gain += term[k][i];
        }
        loss[k] <== (1 << (RB - 1)) * equity - gain;
    }

    component count = TailCount(K);
    count.alphaBps <== alphaBps;

    component risk = TailRisk(K, LB);
    risk.loss <== loss;
    risk.m <== count.m;
    risk.alphaBps <== alphaBps;
    risk.varLimit <== varLimit;
    risk.esLimit <== esLimit;
    risk.tail <== tail;
    risk.pick <== pick;
}
