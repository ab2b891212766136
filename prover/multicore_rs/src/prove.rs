//! The Groth16 prover, step for step as snarkjs's groth16_prove.js (so its proofs verify under
//! the same key), with the FFTs and multi-scalar multiplications spread over `threads` cores.
//!
//! A(X), B(X) are evaluated on the domain from the key's coefficients and the witness, C = A∘B
//! pointwise; each is interpolated and re-evaluated on the odd coset (inc·w^i, inc² = w), where
//! H = A·B − C is what the key's H points expect. Then
//!   π_A = α + Σ wᵢ·Aᵢ + r·δ,  π_B = β + Σ wᵢ·B2ᵢ + s·δ,  B1 = β + Σ wᵢ·B1ᵢ + s·δ,
//!   π_C = Σ_private wᵢ·Cᵢ + Σ hᵢ·Hᵢ + s·π_A + r·B1 − r·s·δ.

use crate::curve::{Affine, Jacobian};
use crate::fft::{apply_powers, fft, ifft, root_of_unity};
use crate::field::{Fq, Fq2, Fr};
use crate::msm::msm;
use crate::zkey::ProvingKey;
use std::fs::File;
use std::io::Read;
use std::thread;

pub struct Proof {
    pub a: Affine<Fq>,
    pub b: Affine<Fq2>,
    pub c: Affine<Fq>,
}

/// A uniform nonzero scalar below r from the OS's random source.
fn random_scalar() -> std::io::Result<[u64; 4]> {
    let mut source = File::open("/dev/urandom")?;
    loop {
        let mut bytes = [0u8; 32];
        source.read_exact(&mut bytes)?;
        let mut limbs = [0u64; 4];
        for (i, limb) in limbs.iter_mut().enumerate() {
            *limb = u64::from_le_bytes(bytes[8 * i..8 * i + 8].try_into().expect("8 bytes"));
        }
        limbs[3] &= (1u64 << 62) - 1; // 254 bits, then rejection: uniform below r
        if Fr::is_canonical(&limbs) && limbs != [0; 4] {
            return Ok(limbs);
        }
    }
}

/// Evaluations on the domain → evaluations on the coset inc·⟨w⟩.
fn odd_coset(mut values: Vec<Fr>, inc: Fr) -> Vec<Fr> {
    ifft(&mut values);
    apply_powers(&mut values, inc);
    fft(&mut values);
    values
}

/// The odd-coset evaluations of A·B − C, canonical (the H MSM's scalars).
fn quotient_scalars(key: &ProvingKey, witness: &[[u64; 4]], threads: usize) -> Vec<[u64; 4]> {
    let n = key.domain_size;
    let mut a = vec![Fr::ZERO; n];
    let mut b = vec![Fr::ZERO; n];
    for coef in &key.coefficients {
        let term = coef.value.mul(&Fr(witness[coef.signal as usize]));
        let row = if coef.matrix == 0 { &mut a } else { &mut b };
        let slot = &mut row[coef.constraint as usize];
        *slot = slot.add(&term);
    }
    let c: Vec<Fr> = a.iter().zip(&b).map(|(x, y)| x.mul(y)).collect();
    let inc = root_of_unity(n.trailing_zeros() + 1);
    // Three independent interpolate-and-shift chains: one per thread, as far as they go.
    let [a, b, c] = thread::scope(|scope| {
        let mut spawned = Vec::new();
        let mut here = Vec::new();
        for (i, values) in [a, b, c].into_iter().enumerate() {
            if i > 0 && i < threads {
                spawned.push((i, scope.spawn(move || odd_coset(values, inc))));
            } else {
                here.push((i, values));
            }
        }
        let mut out: [Vec<Fr>; 3] = Default::default();
        for (i, values) in here {
            out[i] = odd_coset(values, inc);
        }
        for (i, job) in spawned {
            out[i] = job.join().expect("an FFT thread panicked");
        }
        out
    });
    a.iter()
        .zip(&b)
        .zip(&c)
        .map(|((x, y), z)| x.mul(y).sub(z).to_canonical())
        .collect()
}

pub fn prove(key: &ProvingKey, witness: &[[u64; 4]], threads: usize) -> Result<Proof, String> {
    if witness.len() != key.n_vars {
        return Err(format!(
            "the witness has {} values, the key's circuit {}",
            witness.len(),
            key.n_vars
        ));
    }
    if witness[0] != [1, 0, 0, 0] {
        return Err("the witness's first value (the constant wire) is not 1".into());
    }
    let trace = std::env::var_os("ZKRISK_GROTH16_TRACE").is_some();
    let clock = std::time::Instant::now();
    let lap = |what: &str| {
        if trace {
            eprintln!("{what}: {:.1} ms", clock.elapsed().as_secs_f64() * 1e3);
        }
    };
    let h = quotient_scalars(key, witness, threads);
    lap("quotient");
    let private = &witness[key.n_public + 1..];
    let pi_a = msm(&key.a, witness, threads);
    lap("msm A");
    let b1 = msm(&key.b1, witness, threads);
    lap("msm B1");
    let pi_b = msm(&key.b2, witness, threads);
    lap("msm B2");
    let pi_c = msm(&key.c, private, threads);
    lap("msm C");
    let res_h = msm(&key.h, &h, threads);
    lap("msm H");

    let r = random_scalar().map_err(|e| format!("no randomness from /dev/urandom: {e}"))?;
    let s = random_scalar().map_err(|e| format!("no randomness from /dev/urandom: {e}"))?;
    let delta1 = Jacobian::from_affine(&key.delta1);
    let delta2 = Jacobian::from_affine(&key.delta2);

    let pi_a = pi_a.add_affine(&key.alpha1).add(&delta1.mul_scalar(&r));
    let pi_b = pi_b.add_affine(&key.beta2).add(&delta2.mul_scalar(&s));
    let b1 = b1.add_affine(&key.beta1).add(&delta1.mul_scalar(&s));
    let rs = Fr::from_canonical(r)
        .mul(&Fr::from_canonical(s))
        .neg()
        .to_canonical();
    let pi_c = pi_c
        .add(&res_h)
        .add(&pi_a.mul_scalar(&s))
        .add(&b1.mul_scalar(&r))
        .add(&delta1.mul_scalar(&rs));
    Ok(Proof {
        a: pi_a.to_affine(),
        b: pi_b.to_affine(),
        c: pi_c.to_affine(),
    })
}

fn be_word(limbs: [u64; 4]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for i in 0..4 {
        out[8 * i..8 * i + 8].copy_from_slice(&limbs[3 - i].to_be_bytes());
    }
    out
}

impl Proof {
    /// The Ethereum calldata layout: uint256[8] big-endian, B's Fq2 words swapped (c1, c0), as
    /// the Solidity verifier's `verifyProof(a, b, c, input)` takes them.
    pub fn to_calldata(&self) -> Vec<u8> {
        let words = [
            self.a.x.to_canonical(),
            self.a.y.to_canonical(),
            self.b.x.c1.to_canonical(),
            self.b.x.c0.to_canonical(),
            self.b.y.c1.to_canonical(),
            self.b.y.c0.to_canonical(),
            self.c.x.to_canonical(),
            self.c.y.to_canonical(),
        ];
        words.iter().flat_map(|w| be_word(*w)).collect()
    }
}
