pragma circom 2.1.6;

include "circomlib/circuits/bitify.circom";
include "RangeCheck.circom";

// BoundedLessThan(n): out = 1 if in[0] < in[1] else 0, for inputs that must both be < 2^n.
// Safe comparator (zk-kit style): both inputs are range-checked first, so a field element that
// wraps around (p - 1, p + x) cannot satisfy the comparison by aliasing. The comparison is
// circomlib's LessThan: bit n of in[0] + 2^n - in[1] is set exactly when in[0] >= in[1].
// Inputs: in[2]. Output: out ∈ {0, 1}. Constraints: 3n + 1.
template BoundedLessThan(n) {
    assert(n > 0);
    assert(n <= 252);
    signal input in[2];
    signal output out;

    component range0 = RangeCheck(n);
    range0.in <== in[0];
    component range1 = RangeCheck(n);
    range1.in <== in[1];

    component diff = Num2Bits(n + 1);
    diff.in <== in[0] + (1 << n) - in[1];
    out <== 1 - diff.out[n];
    for (var i = 0; i < n; i++) {
        _ <== diff.out[i];
    }
}
