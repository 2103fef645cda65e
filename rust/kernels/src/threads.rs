//! Thread pools. A pool is sized by an explicit `n_threads`, else the `HDCORE_NUM_THREADS`
//! environment variable, else the number of available cores. Pools are cached per size and per
//! process: after a `fork()` the child sees a different process id and builds fresh pools instead
//! of waiting forever on worker threads that were not copied (the fork guard).

use crate::error::{invalid, Result};
pub use rayon::ThreadPool;
use rayon::ThreadPoolBuilder;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Environment variable read when no explicit thread count is given.
pub const ENV_VAR: &str = "HDCORE_NUM_THREADS";

struct Cache {
    pid: u32,
    pools: HashMap<usize, Arc<ThreadPool>>,
}

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(|| {
        Mutex::new(Cache {
            pid: std::process::id(),
            pools: HashMap::new(),
        })
    })
}

/// The most threads one pool may have: a larger request is refused (rayon would otherwise
/// try to start them all, which for 2^62 never finishes).
pub const MAX_THREADS: usize = 1024;

/// Number of threads a kernel will use for the request `n_threads`.
pub fn resolve(n_threads: Option<usize>) -> Result<usize> {
    match n_threads {
        Some(0) => Err(invalid("n_threads", "must be at least 1")),
        Some(n) if n > MAX_THREADS => Err(invalid(
            "n_threads",
            format!("must be at most {MAX_THREADS}, got {n}"),
        )),
        Some(n) => Ok(n),
        None => match std::env::var(ENV_VAR) {
            Ok(s) if !s.trim().is_empty() => match s.trim().parse::<usize>() {
                Ok(n) if (1..=MAX_THREADS).contains(&n) => Ok(n),
                _ => Err(invalid(
                    "n_threads",
                    format!("{ENV_VAR}={s:?} is not an integer in 1..={MAX_THREADS}"),
                )),
            },
            _ => Ok(std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)),
        },
    }
}

/// The cached pool with `resolve(n_threads)` threads.
pub fn pool(n_threads: Option<usize>) -> Result<Arc<ThreadPool>> {
    let n = resolve(n_threads)?;
    let mut guard = cache()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let pid = std::process::id();
    if guard.pid != pid {
        // Forked child: the parent's worker threads do not exist here. Leak the old pools
        // (dropping them would try to join threads that are gone) and start afresh.
        let old = std::mem::take(&mut guard.pools);
        std::mem::forget(old);
        guard.pid = pid;
    }
    if let Some(p) = guard.pools.get(&n) {
        return Ok(Arc::clone(p));
    }
    let p = ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("hdcore-{i}"))
        .build()
        .map_err(|e| invalid("n_threads", format!("cannot start {n} threads: {e}")))?;
    let p = Arc::new(p);
    guard.pools.insert(n, Arc::clone(&p));
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_count_wins_and_zero_is_rejected() {
        assert_eq!(resolve(Some(3)).unwrap(), 3);
        assert!(resolve(Some(0)).is_err());
        assert_eq!(pool(Some(2)).unwrap().current_num_threads(), 2);
    }

    #[test]
    fn pools_are_cached() {
        let a = pool(Some(1)).unwrap();
        let b = pool(Some(1)).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
    }
}
