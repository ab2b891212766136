//! Radix-2 FFT over Fr on the 2^k-th roots of unity snarkjs uses: ffjavascript takes the first
//! quadratic non-residue from 2 up (5 for BN254's r), w_28 = 5^t (r − 1 = t·2^28) and
//! w_{k−1} = w_k², so a .zkey's evaluation domain is exactly these points, in this order.

use crate::field::Fr;

const TWO_ADICITY: u32 = 28;
/// t = (r − 1) / 2^28.
const T: [u64; 4] = [
    0x9b9709143e1f593f,
    0x181585d2833e8487,
    0x131a029b85045b68,
    0x000000030644e72e,
];

/// The primitive 2^log_n-th root of unity.
pub fn root_of_unity(log_n: u32) -> Fr {
    assert!(
        log_n <= TWO_ADICITY,
        "a domain of 2^{log_n} exceeds BN254's 2^28"
    );
    let mut w = Fr::from_u64(5).pow(&T);
    for _ in log_n..TWO_ADICITY {
        w = w.square();
    }
    w
}

fn bit_reverse(values: &mut [Fr]) {
    let n = values.len();
    let bits = n.trailing_zeros();
    for i in 0..n {
        let j = i.reverse_bits() >> (usize::BITS - bits);
        if i < j {
            values.swap(i, j);
        }
    }
}

/// In place: values[i] ← Σ_j values[j]·w^(ij), w a primitive len-th root.
pub fn fft_with_root(values: &mut [Fr], w: Fr) {
    let n = values.len();
    assert!(n.is_power_of_two());
    bit_reverse(values);
    let mut twiddles = Vec::with_capacity(n / 2);
    let mut t = Fr::ONE;
    for _ in 0..n / 2 {
        twiddles.push(t);
        t = t.mul(&w);
    }
    let mut len = 2;
    while len <= n {
        let half = len / 2;
        let step = n / len;
        for start in (0..n).step_by(len) {
            for j in 0..half {
                let u = values[start + j];
                let v = values[start + j + half].mul(&twiddles[j * step]);
                values[start + j] = u.add(&v);
                values[start + j + half] = u.sub(&v);
            }
        }
        len *= 2;
    }
}

pub fn fft(values: &mut [Fr]) {
    let log_n = values.len().trailing_zeros();
    fft_with_root(values, root_of_unity(log_n));
}

pub fn ifft(values: &mut [Fr]) {
    let n = values.len();
    let log_n = n.trailing_zeros();
    fft_with_root(values, root_of_unity(log_n).inverse());
    let n_inv = Fr::from_u64(n as u64).inverse();
    for v in values.iter_mut() {
        *v = v.mul(&n_inv);
    }
}

/// values[i] ← values[i]·inc^i (the shift onto the coset inc·⟨w⟩).
pub fn apply_powers(values: &mut [Fr], inc: Fr) {
    let mut power = Fr::ONE;
    for v in values.iter_mut() {
        *v = v.mul(&power);
        power = power.mul(&inc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_have_their_order() {
        let w = root_of_unity(4);
        assert_eq!(w.pow(&[16, 0, 0, 0]), Fr::ONE);
        assert_ne!(w.pow(&[8, 0, 0, 0]), Fr::ONE);
    }

    #[test]
    fn ifft_inverts_fft_and_fft_evaluates() {
        let coeffs: Vec<Fr> = (0..8u64).map(|i| Fr::from_u64(i * i + 3)).collect();
        let mut evals = coeffs.clone();
        fft(&mut evals);
        let w = root_of_unity(3);
        let x = w.pow(&[5, 0, 0, 0]);
        let mut direct = Fr::ZERO;
        for c in coeffs.iter().rev() {
            direct = direct.mul(&x).add(c);
        }
        assert_eq!(evals[5], direct);
        ifft(&mut evals);
        assert_eq!(evals, coeffs);
    }
}
