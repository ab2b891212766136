pragma circom 2.1.6;

include "RangeCheck.circom";

// AssertLessOrEqual(n): constrains a ≤ b for integers whose difference the caller has bounded,
// |b - a| < 2^n (by range checks on whatever a and b are built from).
// Then b - a is either in [0, 2^n) or, if negative, the field element p - |b - a| ≥ p - 2^n,
// which no n-bit decomposition reaches (n ≤ 252 < 254): the check cannot alias.
// Inputs: a, b. Outputs: none. Constraints: n.
template AssertLessOrEqual(n) {
    assert(n > 0);
    assert(n <= 252);
    signal input a;
    signal input b;
    component diff = RangeCheck(n);
    diff.in <== b - a;
}
