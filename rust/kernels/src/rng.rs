//! Seeded, thread-count-independent random streams.
//!
//! Every random kernel takes a 64-bit `seed`. Work is split into fixed-size chunks (never into
//! "one piece per thread"); chunk `c` of the quantity tagged `domain` draws from its own
//! Xoshiro256++ stream keyed by `(seed, domain, c)`. Which thread runs a chunk is irrelevant, so
//! the output is bit-identical for 1 or N threads. Keys are mixed with SplitMix64, the same
//! construction NumPy's `SeedSequence` uses to spawn independent child streams; the period of
//! each stream (2^256 - 1) makes overlaps between streams negligible.
//!
//! For one long sequential stream (e.g. one online-SGD run) use [`stream`] with a run index in
//! the key, or [`Xoshiro256PlusPlus::jump`] on it to split it further.

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
pub use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use rayon::ThreadPool;

/// Number of consecutive variates drawn from one stream.
pub const CHUNK: usize = 1 << 12;

/// Domain tags: which part of a sample a stream feeds (keeps, e.g., the planted signal and the
/// noise independent even though they share the user's seed).
pub mod domain {
    /// Planted signal / teacher vectors.
    pub const SIGNAL: u64 = 1;
    /// Additive noise matrices.
    pub const NOISE: u64 = 2;
    /// Latent factors (e.g. the Gaussian left factor of a spiked covariance).
    pub const LATENT: u64 = 3;
    /// Initial conditions of iterative algorithms.
    pub const INIT: u64 = 4;
    /// Design matrices / inputs.
    pub const DESIGN: u64 = 5;
    /// First tag free for later modules (they use `FREE + k`).
    pub const FREE: u64 = 64;
}

#[inline]
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The generator keyed by `seed` and the words of `key`.
pub fn stream(seed: u64, key: &[u64]) -> Xoshiro256PlusPlus {
    let mut h = splitmix64(seed ^ 0x6A09_E667_F3BC_C909);
    for &k in key {
        h = splitmix64(h ^ splitmix64(k ^ 0xBB67_AE85_84CA_A73B));
    }
    let mut bytes = [0u8; 32];
    let mut s = h;
    for word in bytes.chunks_exact_mut(8) {
        s = splitmix64(s);
        word.copy_from_slice(&s.to_le_bytes());
    }
    Xoshiro256PlusPlus::from_seed(bytes)
}

/// Fill `out` with i.i.d. N(0, 1) variates (ziggurat), chunk `c` from stream `(seed, domain, c)`.
pub fn fill_standard_normal(pool: &ThreadPool, seed: u64, domain: u64, out: &mut [f64]) {
    fill_chunks(pool, seed, domain, out, |rng, chunk| {
        for v in chunk.iter_mut() {
            *v = StandardNormal.sample(rng);
        }
    });
}

/// Run `fill(rng, chunk)` on every [`CHUNK`]-sized piece of `out`, in parallel, each piece with
/// its own stream `(seed, domain, chunk index)`.
pub fn fill_chunks<T, F>(pool: &ThreadPool, seed: u64, domain: u64, out: &mut [T], fill: F)
where
    T: Send,
    F: Fn(&mut Xoshiro256PlusPlus, &mut [T]) + Sync,
{
    pool.install(|| {
        out.par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(c, chunk)| {
                let mut rng = stream(seed, &[domain, c as u64]);
                fill(&mut rng, chunk);
            })
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threads::pool;

    #[test]
    fn identical_for_any_thread_count() {
        let n = 3 * CHUNK + 17;
        let mut a = vec![0.0; n];
        let mut b = vec![0.0; n];
        fill_standard_normal(&pool(Some(1)).unwrap(), 42, domain::NOISE, &mut a);
        fill_standard_normal(&pool(Some(2)).unwrap(), 42, domain::NOISE, &mut b);
        assert_eq!(a, b);
    }

    #[test]
    fn seeds_and_domains_give_different_streams() {
        let p = pool(Some(2)).unwrap();
        let mut a = vec![0.0; 64];
        let mut b = vec![0.0; 64];
        let mut c = vec![0.0; 64];
        fill_standard_normal(&p, 1, domain::NOISE, &mut a);
        fill_standard_normal(&p, 2, domain::NOISE, &mut b);
        fill_standard_normal(&p, 1, domain::SIGNAL, &mut c);
        assert_ne!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn normals_have_unit_variance() {
        let n = 1 << 20;
        let mut a = vec![0.0; n];
        fill_standard_normal(&pool(None).unwrap(), 7, domain::NOISE, &mut a);
        let mean = a.iter().sum::<f64>() / n as f64;
        let var = a.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        // standard errors: 1/sqrt(n) ~ 1e-3 for the mean, sqrt(2/n) ~ 1.4e-3 for the variance
        assert!(mean.abs() < 5e-3, "mean {mean}");
        assert!((var - 1.0).abs() < 7e-3, "var {var}");
    }
}
