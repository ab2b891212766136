//! A snarkjs Groth16 .zkey: the header (sizes and the key's fixed points), the QAP coefficients
//! of A and B, and the A, B1, B2, C and H point sections.

use crate::binfile::{bad, g1_at, g2_at, limbs_at, u32_at, BinFile, FormatError};
use crate::curve::Affine;
use crate::field::{Fq, Fq2, Fr};

pub struct Coefficient {
    pub matrix: u32,
    pub constraint: u32,
    pub signal: u32,
    /// As stored (snarkjs's Montgomery form times R): multiplied by a witness value in
    /// canonical form with a Montgomery product, it gives the product in Montgomery form.
    pub value: Fr,
}

pub struct ProvingKey {
    pub n_vars: usize,
    pub n_public: usize,
    pub domain_size: usize,
    pub alpha1: Affine<Fq>,
    pub beta1: Affine<Fq>,
    pub beta2: Affine<Fq2>,
    pub delta1: Affine<Fq>,
    pub delta2: Affine<Fq2>,
    pub coefficients: Vec<Coefficient>,
    pub a: Vec<Affine<Fq>>,
    pub b1: Vec<Affine<Fq>>,
    pub b2: Vec<Affine<Fq2>>,
    pub c: Vec<Affine<Fq>>,
    pub h: Vec<Affine<Fq>>,
}

const BN254_Q: [u64; 4] = Fq::MODULUS;
const BN254_R: [u64; 4] = Fr::MODULUS;

fn points<P>(
    body: &[u8],
    count: usize,
    size: usize,
    what: &str,
    read: fn(&[u8], usize) -> Result<P, FormatError>,
) -> Result<Vec<P>, FormatError> {
    if body.len() != count * size {
        return bad(format!(
            "the {what} section holds {} bytes, expected {}",
            body.len(),
            count * size
        ));
    }
    (0..count).map(|i| read(body, i * size)).collect()
}

impl ProvingKey {
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let file = BinFile::parse(bytes, b"zkey")?;
        let protocol = file.section(1, "zkey")?;
        if u32_at(protocol, 0)? != 1 {
            return bad("not a Groth16 key (protocol id is not 1)");
        }
        let h = file.section(2, "zkey")?;
        if h.len() < 4 + 32 + 4 + 32 + 12 + 64 * 3 + 128 * 3 {
            return bad("the Groth16 header is truncated");
        }
        if u32_at(h, 0)? != 32
            || limbs_at(h, 4) != BN254_Q
            || u32_at(h, 36)? != 32
            || limbs_at(h, 40) != BN254_R
        {
            return bad("not a BN254 (bn128) key");
        }
        let n_vars = u32_at(h, 72)? as usize;
        let n_public = u32_at(h, 76)? as usize;
        let domain_size = u32_at(h, 80)? as usize;
        if !domain_size.is_power_of_two() || n_public >= n_vars {
            return bad("the header's sizes are inconsistent");
        }
        let at = 84;
        let alpha1 = g1_at(h, at)?;
        let beta1 = g1_at(h, at + 64)?;
        let beta2 = g2_at(h, at + 128)?;
        // gamma2 (at + 256) is the verifier's alone
        let delta1 = g1_at(h, at + 384)?;
        let delta2 = g2_at(h, at + 448)?;

        let coefs = file.section(4, "zkey")?;
        let n = u32_at(coefs, 0)? as usize;
        if coefs.len() != 4 + n * 44 {
            return bad("the coefficient section's length does not match its count");
        }
        let mut coefficients = Vec::with_capacity(n);
        for i in 0..n {
            let o = 4 + i * 44;
            let (matrix, constraint, signal) = (
                u32_at(coefs, o)?,
                u32_at(coefs, o + 4)?,
                u32_at(coefs, o + 8)?,
            );
            let value = limbs_at(coefs, o + 12);
            if matrix > 1
                || constraint as usize >= domain_size
                || signal as usize >= n_vars
                || !Fr::is_canonical(&value)
            {
                return bad(format!("coefficient {i} is out of range"));
            }
            coefficients.push(Coefficient {
                matrix,
                constraint,
                signal,
                value: Fr(value),
            });
        }
        let n_private = n_vars - n_public - 1;
        Ok(ProvingKey {
            n_vars,
            n_public,
            domain_size,
            alpha1,
            beta1,
            beta2,
            delta1,
            delta2,
            coefficients,
            a: points(file.section(5, "zkey")?, n_vars, 64, "A", g1_at)?,
            b1: points(file.section(6, "zkey")?, n_vars, 64, "B1", g1_at)?,
            b2: points(file.section(7, "zkey")?, n_vars, 128, "B2", g2_at)?,
            c: points(file.section(8, "zkey")?, n_private, 64, "C", g1_at)?,
            h: points(file.section(9, "zkey")?, domain_size, 64, "H", g1_at)?,
        })
    }
}

/// A .wtns file's values (canonical little-endian limbs, wire 0 = 1).
pub fn parse_witness(bytes: &[u8]) -> Result<Vec<[u64; 4]>, FormatError> {
    let file = BinFile::parse(bytes, b"wtns")?;
    let header = file.section(1, "wtns")?;
    if header.len() < 40 || u32_at(header, 0)? != 32 || limbs_at(header, 4) != BN254_R {
        return bad("not a BN254 witness (its field is not the scalar field of bn128)");
    }
    let count = u32_at(header, 36)? as usize;
    let values = file.section(2, "wtns")?;
    if values.len() != count * 32 {
        return bad("the value section's length does not match the header's count");
    }
    let out: Vec<[u64; 4]> = (0..count).map(|i| limbs_at(values, i * 32)).collect();
    if out.iter().any(|v| !Fr::is_canonical(v)) {
        return bad("a value is not below the scalar field modulus");
    }
    Ok(out)
}
