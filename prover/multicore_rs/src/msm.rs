//! Multi-scalar multiplication Σ kᵢ·Pᵢ (Pippenger's bucket method), over every core.
//!
//! A circuit's witness is mostly bits, so scalars 0 and 1 are taken out first (a 1 is one
//! addition, a 0 nothing); the rest go through buckets of `c`-bit windows, the windows shared
//! out among the threads (each window is independent) and joined by c doublings per window.

use crate::curve::{Affine, Jacobian};
use crate::field::Field;
use std::thread;

type Scalar = [u64; 4];
const SCALAR_BITS: usize = 254;

#[inline(always)]
fn digit(k: &Scalar, offset: usize, c: usize) -> usize {
    let limb = offset / 64;
    let shift = offset % 64;
    let mut bits = k[limb] >> shift;
    if shift + c > 64 && limb + 1 < 4 {
        bits |= k[limb + 1] << (64 - shift);
    }
    (bits as usize) & ((1usize << c) - 1)
}

/// The window width minimising additions: per window, one mixed addition per scalar plus
/// ~2·2^c full additions (≈ 1.4 mixed ones) to sum the buckets.
fn window_bits(n: usize) -> usize {
    (2..=16)
        .min_by_key(|&c| {
            let windows = (SCALAR_BITS + c - 1) / c;
            windows * (10 * n + 28 * (1usize << c))
        })
        .unwrap_or(8)
}

fn window_sum<F: Field>(
    bases: &[Affine<F>],
    scalars: &[&Scalar],
    indices: &[u32],
    offset: usize,
    c: usize,
) -> Jacobian<F> {
    let mut buckets = vec![Jacobian::<F>::INFINITY; (1 << c) - 1];
    for &i in indices {
        let d = digit(scalars[i as usize], offset, c);
        if d != 0 {
            buckets[d - 1] = buckets[d - 1].add_affine(&bases[i as usize]);
        }
    }
    let mut running = Jacobian::INFINITY;
    let mut total = Jacobian::INFINITY;
    for bucket in buckets.iter().rev() {
        running = running.add(bucket);
        total = total.add(&running);
    }
    total
}

/// Σ scalars[i]·bases[i] (scalars canonical, < r) on `threads` threads.
pub fn msm<F: Field>(bases: &[Affine<F>], scalars: &[Scalar], threads: usize) -> Jacobian<F> {
    assert!(bases.len() >= scalars.len(), "fewer bases than scalars");
    let refs: Vec<&Scalar> = scalars.iter().collect();
    let mut ones = Jacobian::INFINITY;
    let mut big: Vec<u32> = Vec::with_capacity(scalars.len());
    for (i, k) in scalars.iter().enumerate() {
        if k[1] == 0 && k[2] == 0 && k[3] == 0 && k[0] <= 1 {
            if k[0] == 1 {
                ones = ones.add_affine(&bases[i]);
            }
        } else {
            big.push(i as u32);
        }
    }
    if big.is_empty() {
        return ones;
    }
    let c = window_bits(big.len());
    let windows = (SCALAR_BITS + c - 1) / c;
    let threads = threads.clamp(1, windows);
    let mut sums = vec![Jacobian::<F>::INFINITY; windows];
    thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (refs, big) = (&refs, &big);
                scope.spawn(move || {
                    (t..windows)
                        .step_by(threads)
                        .map(|w| (w, window_sum(bases, refs, big, w * c, c)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for handle in handles {
            for (w, sum) in handle.join().expect("an MSM thread panicked") {
                sums[w] = sum;
            }
        }
    });
    let mut acc = Jacobian::INFINITY;
    for sum in sums.iter().rev() {
        for _ in 0..c {
            acc = acc.double();
        }
        acc = acc.add(sum);
    }
    acc.add(&ones)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::Fq;

    fn generator() -> Affine<Fq> {
        Affine {
            x: Fq::from_u64(1),
            y: Fq::from_u64(2),
            infinity: false,
        }
    }

    #[test]
    fn msm_matches_double_and_add() {
        let g = Jacobian::from_affine(&generator());
        let bases: Vec<Affine<Fq>> = (1..=40u64)
            .map(|i| g.mul_scalar(&[i * 7919, 0, 0, 0]).to_affine())
            .collect();
        let scalars: Vec<Scalar> = (0..40u64)
            .map(|i| match i % 4 {
                0 => [0, 0, 0, 0],
                1 => [1, 0, 0, 0],
                2 => [i.wrapping_mul(0x9E3779B97F4A7C15), i, 0, 1 << 50],
                _ => [u64::MAX, u64::MAX, i, 0x0fff_ffff],
            })
            .collect();
        let mut expected = Jacobian::INFINITY;
        for (b, k) in bases.iter().zip(&scalars) {
            expected = expected.add(&Jacobian::from_affine(b).mul_scalar(k));
        }
        for threads in [1, 2, 3] {
            assert_eq!(
                msm(&bases, &scalars, threads).to_affine(),
                expected.to_affine()
            );
        }
    }
}
