//! BN254's two prime fields in Montgomery form (4 × 64-bit limbs, R = 2^256).
//!
//! The representation is snarkjs's own (its .zkey stores points and coefficients as Montgomery
//! little-endian limbs), so files are read without conversion. Both moduli have a top limb below
//! 2^62, which allows the "no-carry" CIOS multiplication (gnark-crypto's) and a 4-limb sum.

#[inline(always)]
fn mac(acc: u64, a: u64, b: u64, carry: u64) -> (u64, u64) {
    let t = (acc as u128) + (a as u128) * (b as u128) + (carry as u128);
    (t as u64, (t >> 64) as u64)
}

#[inline(always)]
fn lt(a: &[u64; 4], b: &[u64; 4]) -> bool {
    for i in (0..4).rev() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
    }
    false
}

#[inline(always)]
fn sub_limbs(a: &[u64; 4], b: &[u64; 4]) -> ([u64; 4], bool) {
    let mut out = [0u64; 4];
    let mut borrow = false;
    for i in 0..4 {
        let (d, b1) = a[i].overflowing_sub(b[i]);
        let (d, b2) = d.overflowing_sub(borrow as u64);
        out[i] = d;
        borrow = b1 | b2;
    }
    (out, borrow)
}

#[inline(always)]
fn add_limbs(a: &[u64; 4], b: &[u64; 4]) -> [u64; 4] {
    let mut out = [0u64; 4];
    let mut carry = 0u64;
    for i in 0..4 {
        let t = (a[i] as u128) + (b[i] as u128) + (carry as u128);
        out[i] = t as u64;
        carry = (t >> 64) as u64;
    }
    out
}

macro_rules! montgomery_field {
    ($name:ident, $modulus:expr, $r:expr, $r2:expr, $inv:expr) => {
        #[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
        pub struct $name(pub [u64; 4]);

        #[allow(dead_code)] // one macro for both fields: each uses a different part of it
        impl $name {
            pub const MODULUS: [u64; 4] = $modulus;
            pub const ZERO: Self = Self([0; 4]);
            pub const ONE: Self = Self($r);
            const R2: [u64; 4] = $r2;
            const INV: u64 = $inv;

            /// The Montgomery form of a canonical integer (limbs little-endian, < modulus).
            pub fn from_canonical(limbs: [u64; 4]) -> Self {
                Self(limbs).mul(&Self(Self::R2))
            }

            /// The canonical integer this element stands for.
            pub fn to_canonical(&self) -> [u64; 4] {
                self.mul(&Self([1, 0, 0, 0])).0
            }

            pub fn is_canonical(limbs: &[u64; 4]) -> bool {
                lt(limbs, &Self::MODULUS)
            }

            #[inline(always)]
            pub fn is_zero(&self) -> bool {
                self.0 == [0; 4]
            }

            #[inline(always)]
            pub fn add(&self, other: &Self) -> Self {
                let sum = add_limbs(&self.0, &other.0); // < 2^255: no carry out
                let (reduced, borrow) = sub_limbs(&sum, &Self::MODULUS);
                Self(if borrow { sum } else { reduced })
            }

            #[inline(always)]
            pub fn double(&self) -> Self {
                self.add(self)
            }

            #[inline(always)]
            pub fn sub(&self, other: &Self) -> Self {
                let (diff, borrow) = sub_limbs(&self.0, &other.0);
                Self(if borrow {
                    add_limbs(&diff, &Self::MODULUS)
                } else {
                    diff
                })
            }

            #[inline(always)]
            pub fn neg(&self) -> Self {
                if self.is_zero() {
                    *self
                } else {
                    Self(sub_limbs(&Self::MODULUS, &self.0).0)
                }
            }

            /// Montgomery product (CIOS without the final-carry word: top limb < 2^62).
            #[inline(always)]
            pub fn mul(&self, other: &Self) -> Self {
                let (a, b, m) = (&self.0, &other.0, &Self::MODULUS);
                let mut t = [0u64; 4];
                for i in 0..4 {
                    let (t0, mut carry_a) = mac(t[0], a[0], b[i], 0);
                    let k = t0.wrapping_mul(Self::INV);
                    let (_, mut carry_m) = mac(t0, k, m[0], 0);
                    for j in 1..4 {
                        let (tj, ca) = mac(t[j], a[j], b[i], carry_a);
                        carry_a = ca;
                        let (tj, cm) = mac(tj, k, m[j], carry_m);
                        carry_m = cm;
                        t[j - 1] = tj;
                    }
                    t[3] = carry_a.wrapping_add(carry_m);
                }
                let (reduced, borrow) = sub_limbs(&t, m);
                Self(if borrow { t } else { reduced })
            }

            #[inline(always)]
            pub fn square(&self) -> Self {
                self.mul(self)
            }

            pub fn pow(&self, exponent: &[u64; 4]) -> Self {
                let mut acc = Self::ONE;
                for i in (0..256).rev() {
                    acc = acc.square();
                    if (exponent[i / 64] >> (i % 64)) & 1 == 1 {
                        acc = acc.mul(self);
                    }
                }
                acc
            }

            /// The inverse (Fermat); zero maps to zero, callers check.
            pub fn inverse(&self) -> Self {
                let (exp, _) = sub_limbs(&Self::MODULUS, &[2, 0, 0, 0]);
                self.pow(&exp)
            }

            pub fn from_u64(v: u64) -> Self {
                Self::from_canonical([v, 0, 0, 0])
            }
        }
    };
}

montgomery_field!(
    Fq,
    [
        0x3c208c16d87cfd47,
        0x97816a916871ca8d,
        0xb85045b68181585d,
        0x30644e72e131a029
    ],
    [
        0xd35d438dc58f0d9d,
        0x0a78eb28f5c70b3d,
        0x666ea36f7879462c,
        0x0e0a77c19a07df2f
    ],
    [
        0xf32cfc5b538afa89,
        0xb5e71911d44501fb,
        0x47ab1eff0a417ff6,
        0x06d89f71cab8351f
    ],
    0x87d20782e4866389
);

montgomery_field!(
    Fr,
    [
        0x43e1f593f0000001,
        0x2833e84879b97091,
        0xb85045b68181585d,
        0x30644e72e131a029
    ],
    [
        0xac96341c4ffffffb,
        0x36fc76959f60cd29,
        0x666ea36f7879462e,
        0x0e0a77c19a07df2f
    ],
    [
        0x1bb8e645ae216da7,
        0x53fe3ab1e35c59e3,
        0x8c49833d53bb8085,
        0x0216d0b17f4e44a5
    ],
    0xc2e1f593efffffff
);

/// Fq2 = Fq[u] / (u² + 1): the field of G2's coordinates (c0 + c1·u).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Fq2 {
    pub c0: Fq,
    pub c1: Fq,
}

/// What the curve arithmetic needs of a coordinate field.
pub trait Field: Copy + PartialEq + Send + Sync {
    const ZERO: Self;
    const ONE: Self;
    fn is_zero(&self) -> bool;
    fn add(&self, other: &Self) -> Self;
    fn sub(&self, other: &Self) -> Self;
    fn double(&self) -> Self;
    fn mul(&self, other: &Self) -> Self;
    fn square(&self) -> Self;
    fn inverse(&self) -> Self;
}

impl Field for Fq {
    const ZERO: Self = Fq::ZERO;
    const ONE: Self = Fq::ONE;
    #[inline(always)]
    fn is_zero(&self) -> bool {
        Fq::is_zero(self)
    }
    #[inline(always)]
    fn add(&self, o: &Self) -> Self {
        Fq::add(self, o)
    }
    #[inline(always)]
    fn sub(&self, o: &Self) -> Self {
        Fq::sub(self, o)
    }
    #[inline(always)]
    fn double(&self) -> Self {
        Fq::double(self)
    }
    #[inline(always)]
    fn mul(&self, o: &Self) -> Self {
        Fq::mul(self, o)
    }
    #[inline(always)]
    fn square(&self) -> Self {
        Fq::square(self)
    }
    fn inverse(&self) -> Self {
        Fq::inverse(self)
    }
}

impl Field for Fq2 {
    const ZERO: Self = Fq2 {
        c0: Fq::ZERO,
        c1: Fq::ZERO,
    };
    const ONE: Self = Fq2 {
        c0: Fq::ONE,
        c1: Fq::ZERO,
    };
    #[inline(always)]
    fn is_zero(&self) -> bool {
        self.c0.is_zero() && self.c1.is_zero()
    }
    #[inline(always)]
    fn add(&self, o: &Self) -> Self {
        Fq2 {
            c0: self.c0.add(&o.c0),
            c1: self.c1.add(&o.c1),
        }
    }
    #[inline(always)]
    fn sub(&self, o: &Self) -> Self {
        Fq2 {
            c0: self.c0.sub(&o.c0),
            c1: self.c1.sub(&o.c1),
        }
    }
    #[inline(always)]
    fn double(&self) -> Self {
        Fq2 {
            c0: self.c0.double(),
            c1: self.c1.double(),
        }
    }
    /// Karatsuba: (a0 + a1u)(b0 + b1u) = a0b0 − a1b1 + ((a0 + a1)(b0 + b1) − a0b0 − a1b1)u.
    #[inline(always)]
    fn mul(&self, o: &Self) -> Self {
        let v0 = self.c0.mul(&o.c0);
        let v1 = self.c1.mul(&o.c1);
        let cross = self.c0.add(&self.c1).mul(&o.c0.add(&o.c1));
        Fq2 {
            c0: v0.sub(&v1),
            c1: cross.sub(&v0).sub(&v1),
        }
    }
    /// (a0 + a1u)² = (a0 + a1)(a0 − a1) + 2a0a1·u.
    #[inline(always)]
    fn square(&self) -> Self {
        let product = self.c0.mul(&self.c1);
        Fq2 {
            c0: self.c0.add(&self.c1).mul(&self.c0.sub(&self.c1)),
            c1: product.double(),
        }
    }
    fn inverse(&self) -> Self {
        let norm = self.c0.square().add(&self.c1.square()).inverse();
        Fq2 {
            c0: self.c0.mul(&norm),
            c1: self.c1.mul(&norm).neg(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn montgomery_round_trip_and_inverse() {
        let x = Fq::from_u64(123_456_789);
        assert_eq!(x.to_canonical(), [123_456_789, 0, 0, 0]);
        assert_eq!(x.mul(&x.inverse()), Fq::ONE);
        let y = Fr::from_u64(7);
        assert_eq!(y.mul(&y.inverse()), Fr::ONE);
        assert_eq!(
            Fr::from_u64(3).sub(&Fr::from_u64(5)).add(&Fr::from_u64(2)),
            Fr::ZERO
        );
    }

    #[test]
    fn fq2_inverse_and_square() {
        let a = Fq2 {
            c0: Fq::from_u64(5),
            c1: Fq::from_u64(11),
        };
        assert_eq!(a.mul(&a.inverse()), Fq2::ONE);
        assert_eq!(a.square(), a.mul(&a));
    }
}
