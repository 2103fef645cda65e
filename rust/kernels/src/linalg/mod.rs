//! Dense linear algebra: SIMD inner loops, parallel mat-vecs, Lanczos on implicit operators.

pub mod lanczos;
pub mod matvec;
pub mod simd;

pub use lanczos::{top_eigenpairs, Eigenpairs, LanczosOptions};
pub use matvec::{packed_len, packed_offset, Dense, LinearOperator, SymPacked};
pub use simd::Scalar;
