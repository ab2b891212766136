pragma circom 2.1.6;

include "circomlib/circuits/bitify.circom";

// RangeCheck(n): constrains in < 2^n (so it cannot alias through the field modulus).
// Inputs: in. Outputs: none. Constraints: n.
template RangeCheck(n) {
    assert(n > 0);
    assert(n <= 252);
    signal input in;
    component bits = Num2Bits(n);
    bits.in <== in;
    // The bits themselves are not needed: the decomposition is the constraint.
    _ <== bits.out;
}
