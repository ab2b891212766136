pragma circom 2.1.6;

include "RangeCheck.circom";
include "generated/Constants.circom";

// SignedQuantity(): the explicit encoding of a signed position as two magnitudes.
//   q = long - short,  0 ≤ long, short < 2^QTY_BITS,  long · short = 0
// Exactly one (long, short) pair encodes each q, so a book has exactly one commitment, and the
// range checks keep every later product far below the field modulus.
// Inputs: long, short. Outputs: net = q (signed, |q| < 2^QTY_BITS), magnitude = |q|,
// packed = long + short · 2^QTY_BITS (the commitment's position word).
// Constraints: 2·QTY_BITS + 1.
template SignedQuantity() {
    var QB = QTY_BITS();
    assert(2 * QB <= 252);
    signal input long;
    signal input short;
    signal output net;
    signal output magnitude;
    signal output packed;

    component longBits = RangeCheck(QB);
    longBits.in <== long;
    component shortBits = RangeCheck(QB);
    shortBits.in <== short;
    long * short === 0;

    net <== long - short;
    magnitude <== long + short;
    packed <== long + short * (1 << QB);
}
