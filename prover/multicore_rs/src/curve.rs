//! Short-Weierstrass points with a = 0 (BN254's G1 over Fq, G2 over Fq2) in Jacobian
//! coordinates: (X, Y, Z) stands for (X/Z², Y/Z³), Z = 0 for the point at infinity.
//! Formulas from the Explicit-Formulas Database (dbl-2009-l, madd-2007-bl, add-2007-bl).

use crate::field::Field;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Affine<F: Field> {
    pub x: F,
    pub y: F,
    pub infinity: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct Jacobian<F: Field> {
    pub x: F,
    pub y: F,
    pub z: F,
}

impl<F: Field> Jacobian<F> {
    pub const INFINITY: Self = Jacobian {
        x: F::ONE,
        y: F::ONE,
        z: F::ZERO,
    };

    #[inline(always)]
    pub fn is_infinity(&self) -> bool {
        self.z.is_zero()
    }

    pub fn from_affine(p: &Affine<F>) -> Self {
        if p.infinity {
            Self::INFINITY
        } else {
            Jacobian {
                x: p.x,
                y: p.y,
                z: F::ONE,
            }
        }
    }

    pub fn to_affine(&self) -> Affine<F> {
        if self.is_infinity() {
            return Affine {
                x: F::ZERO,
                y: F::ZERO,
                infinity: true,
            };
        }
        let z_inv = self.z.inverse();
        let z_inv2 = z_inv.square();
        Affine {
            x: self.x.mul(&z_inv2),
            y: self.y.mul(&z_inv2.mul(&z_inv)),
            infinity: false,
        }
    }

    #[inline]
    pub fn double(&self) -> Self {
        if self.is_infinity() {
            return *self;
        }
        let a = self.x.square();
        let b = self.y.square();
        let c = b.square();
        let d = self.x.add(&b).square().sub(&a).sub(&c).double();
        let e = a.double().add(&a);
        let f = e.square();
        let x3 = f.sub(&d.double());
        let y3 = e.mul(&d.sub(&x3)).sub(&c.double().double().double());
        let z3 = self.y.mul(&self.z).double();
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// self + q for an affine q (a bucket gaining a base point).
    #[inline]
    pub fn add_affine(&self, q: &Affine<F>) -> Self {
        if q.infinity {
            return *self;
        }
        if self.is_infinity() {
            return Jacobian {
                x: q.x,
                y: q.y,
                z: F::ONE,
            };
        }
        let z1z1 = self.z.square();
        let u2 = q.x.mul(&z1z1);
        let s2 = q.y.mul(&self.z).mul(&z1z1);
        let h = u2.sub(&self.x);
        let r = s2.sub(&self.y).double();
        if h.is_zero() {
            return if r.is_zero() {
                Self::from_affine(q).double()
            } else {
                Self::INFINITY
            };
        }
        let hh = h.square();
        let i = hh.double().double();
        let j = h.mul(&i);
        let v = self.x.mul(&i);
        let x3 = r.square().sub(&j).sub(&v.double());
        let y3 = r.mul(&v.sub(&x3)).sub(&self.y.mul(&j).double());
        let z3 = self.z.add(&h).square().sub(&z1z1).sub(&hh);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    #[inline]
    pub fn add(&self, q: &Self) -> Self {
        if q.is_infinity() {
            return *self;
        }
        if self.is_infinity() {
            return *q;
        }
        let z1z1 = self.z.square();
        let z2z2 = q.z.square();
        let u1 = self.x.mul(&z2z2);
        let u2 = q.x.mul(&z1z1);
        let s1 = self.y.mul(&q.z).mul(&z2z2);
        let s2 = q.y.mul(&self.z).mul(&z1z1);
        let h = u2.sub(&u1);
        let r = s2.sub(&s1).double();
        if h.is_zero() {
            return if r.is_zero() {
                self.double()
            } else {
                Self::INFINITY
            };
        }
        let i = h.double().square();
        let j = h.mul(&i);
        let v = u1.mul(&i);
        let x3 = r.square().sub(&j).sub(&v.double());
        let y3 = r.mul(&v.sub(&x3)).sub(&s1.mul(&j).double());
        let z3 = self.z.add(&q.z).square().sub(&z1z1).sub(&z2z2).mul(&h);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// k·self for a canonical scalar k (little-endian limbs), double-and-add.
    pub fn mul_scalar(&self, k: &[u64; 4]) -> Self {
        let mut acc = Self::INFINITY;
        for i in (0..256).rev() {
            acc = acc.double();
            if (k[i / 64] >> (i % 64)) & 1 == 1 {
                acc = acc.add(self);
            }
        }
        acc
    }
}
