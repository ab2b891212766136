pragma circom 2.1.6;

// log2Ceil(n): the number of bits that holds any value 0..n-1 plus carry room for sums of n terms.
// A compile-time function (no signals, no constraints).
function log2Ceil(n) {
    var bits = 0;
    var v = 1;
    while (v < n) {
        v = v * 2;
        bits++;
    }
    return bits;
}
