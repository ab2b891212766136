//! The iden3 binary container of .zkey and .wtns files: a 4-byte magic, a u32 version, a u32
//! section count, then sections of (u32 type, u64 length, bytes), all little-endian.

use crate::curve::Affine;
use crate::field::{Fq, Fq2};
use std::collections::HashMap;
use std::fmt;

#[derive(Debug)]
pub struct FormatError(pub String);

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn bad<T>(what: impl Into<String>) -> Result<T, FormatError> {
    Err(FormatError(what.into()))
}

pub struct BinFile<'a> {
    sections: HashMap<u32, &'a [u8]>,
}

impl<'a> BinFile<'a> {
    pub fn parse(bytes: &'a [u8], magic: &[u8; 4]) -> Result<Self, FormatError> {
        if bytes.len() < 12 || &bytes[..4] != magic {
            return bad(format!("not a {} file", String::from_utf8_lossy(magic)));
        }
        let count = u32_at(bytes, 8)? as usize;
        let mut sections = HashMap::new();
        let mut at = 12usize;
        for _ in 0..count {
            let kind = u32_at(bytes, at)?;
            let len = u64_at(bytes, at + 4)? as usize;
            let start = at + 12;
            let body = match start.checked_add(len).and_then(|end| bytes.get(start..end)) {
                Some(body) => body,
                None => return bad(format!("section {kind} runs past the end of the file")),
            };
            if sections.insert(kind, body).is_some() {
                return bad(format!("section {kind} appears twice"));
            }
            at = start + len;
        }
        Ok(BinFile { sections })
    }

    pub fn section(&self, kind: u32, name: &str) -> Result<&'a [u8], FormatError> {
        match self.sections.get(&kind) {
            Some(body) => Ok(body),
            None => bad(format!("section {kind} of the {name} file is missing")),
        }
    }
}

pub fn u32_at(bytes: &[u8], at: usize) -> Result<u32, FormatError> {
    match bytes.get(at..at + 4) {
        Some(b) => Ok(u32::from_le_bytes(b.try_into().expect("4 bytes"))),
        None => bad("truncated file"),
    }
}

fn u64_at(bytes: &[u8], at: usize) -> Result<u64, FormatError> {
    match bytes.get(at..at + 8) {
        Some(b) => Ok(u64::from_le_bytes(b.try_into().expect("8 bytes"))),
        None => bad("truncated file"),
    }
}

pub fn limbs_at(bytes: &[u8], at: usize) -> [u64; 4] {
    let mut limbs = [0u64; 4];
    for (i, limb) in limbs.iter_mut().enumerate() {
        let o = at + 8 * i;
        *limb = u64::from_le_bytes(bytes[o..o + 8].try_into().expect("8 bytes"));
    }
    limbs
}

/// A G1 point as snarkjs stores it: x, y Montgomery little-endian; (0, 0) is infinity.
pub fn g1_at(bytes: &[u8], at: usize) -> Result<Affine<Fq>, FormatError> {
    let (x, y) = (limbs_at(bytes, at), limbs_at(bytes, at + 32));
    if !Fq::is_canonical(&x) || !Fq::is_canonical(&y) {
        return bad("a G1 coordinate is not below the base field modulus");
    }
    let infinity = x == [0; 4] && y == [0; 4];
    Ok(Affine {
        x: Fq(x),
        y: Fq(y),
        infinity,
    })
}

/// A G2 point: x.c0, x.c1, y.c0, y.c1 (Montgomery little-endian); all zero is infinity.
pub fn g2_at(bytes: &[u8], at: usize) -> Result<Affine<Fq2>, FormatError> {
    let words: Vec<[u64; 4]> = (0..4).map(|i| limbs_at(bytes, at + 32 * i)).collect();
    if words.iter().any(|w| !Fq::is_canonical(w)) {
        return bad("a G2 coordinate is not below the base field modulus");
    }
    let infinity = words.iter().all(|w| *w == [0; 4]);
    Ok(Affine {
        x: Fq2 {
            c0: Fq(words[0]),
            c1: Fq(words[1]),
        },
        y: Fq2 {
            c0: Fq(words[2]),
            c1: Fq(words[3]),
        },
        infinity,
    })
}
