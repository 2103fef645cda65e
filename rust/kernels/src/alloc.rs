//! Checked, fallible allocation of user-sized buffers.
//!
//! Every buffer whose size a caller chooses (a sample of `n x d` entries, Lanczos' `ncv x n`
//! basis, an `n x n` eigenvector matrix, ...) is sized with checked arithmetic ([`count`],
//! [`bytes`]: an overflow of `usize` is [`KernelError::InvalidArgument`] naming the argument),
//! compared with the memory the process can still get ([`ensure_fits`]: the smallest of
//! `MemAvailable`, the cgroup limit and the address-space limit, see [`available`]) and then
//! allocated fallibly ([`zeroed`], [`filled`]), so that a request the check let through still
//! fails as [`KernelError::OutOfMemory`] instead of aborting the process.
//!
//! The environment variable `HDCORE_MEMORY_LIMIT` (bytes, e.g. `2e9`) lowers the limit; tests
//! use it to exercise the refusal path with small requests.

use crate::error::{invalid, KernelError, Result};

/// Requests below this many bytes skip the memory probe (they are still fallible).
pub const PROBE_ABOVE: usize = 1 << 26;

/// Checked product of `dims` (the number of elements of a buffer sized by argument `name`).
pub fn count(name: &'static str, dims: &[usize]) -> Result<usize> {
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| {
            invalid(
                name,
                format!("the size {} overflows the address space", join(dims)),
            )
        })
}

/// Checked size in bytes of a buffer of `T` with the dimensions `dims`.
pub fn bytes<T>(name: &'static str, dims: &[usize]) -> Result<usize> {
    count(name, dims)?
        .checked_mul(std::mem::size_of::<T>())
        .ok_or_else(|| {
            invalid(
                name,
                format!(
                    "{} elements of {} bytes overflow the address space",
                    join(dims),
                    std::mem::size_of::<T>()
                ),
            )
        })
}

/// Checked sum of byte counts (several buffers of one request).
pub fn total(name: &'static str, parts: &[usize]) -> Result<usize> {
    parts
        .iter()
        .try_fold(0usize, |acc, &b| acc.checked_add(b))
        .ok_or_else(|| invalid(name, "the total size overflows the address space"))
}

fn join(dims: &[usize]) -> String {
    dims.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(" x ")
}

/// Fail with [`KernelError::OutOfMemory`] if `needed` bytes exceed what the process can still
/// allocate ([`available`]). Requests below [`PROBE_ABOVE`] are not probed.
pub fn ensure_fits(name: &'static str, needed: usize) -> Result<()> {
    if needed < PROBE_ABOVE {
        return Ok(());
    }
    match available() {
        Some(avail) if needed as u128 > avail as u128 => Err(KernelError::OutOfMemory {
            name,
            needed,
            available: avail,
        }),
        _ => Ok(()),
    }
}

/// [`bytes`] then [`ensure_fits`]: the checked size of the buffer, known to fit.
pub fn reserve<T>(name: &'static str, dims: &[usize]) -> Result<usize> {
    let b = bytes::<T>(name, dims)?;
    ensure_fits(name, b)?;
    Ok(b)
}

/// Bytes the process can still allocate: the smallest of `MemAvailable` (`/proc/meminfo`),
/// the cgroup memory limit minus its usage, the address-space limit (`RLIMIT_AS`) minus the
/// current virtual size, and `HDCORE_MEMORY_LIMIT`. `None` when nothing is known (non-Linux
/// without the variable): the allocation is then only fallible.
pub fn available() -> Option<usize> {
    let mut best: Option<u64> = None;
    let mut take = |v: Option<u64>| {
        if let Some(v) = v {
            best = Some(best.map_or(v, |b| b.min(v)));
        }
    };
    take(env_limit());
    take(meminfo("MemAvailable:"));
    take(cgroup_room());
    take(address_space_room());
    best.map(|b| usize::try_from(b).unwrap_or(usize::MAX))
}

fn env_limit() -> Option<u64> {
    let s = std::env::var("HDCORE_MEMORY_LIMIT").ok()?;
    let v: f64 = s.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v as u64)
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// A `Key: value kB` line of `/proc/meminfo` in bytes.
fn meminfo(key: &str) -> Option<u64> {
    let text = read("/proc/meminfo")?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line[key.len()..].split_whitespace().next()?.parse().ok()?;
    kb.checked_mul(1024)
}

fn cgroup_room() -> Option<u64> {
    // cgroup v2 (unified), then v1.
    let v2 = || -> Option<u64> {
        let max: u64 = read("/sys/fs/cgroup/memory.max")?.trim().parse().ok()?;
        let cur: u64 = read("/sys/fs/cgroup/memory.current")?.trim().parse().ok()?;
        Some(max.saturating_sub(cur))
    };
    let v1 = || -> Option<u64> {
        let max: u64 = read("/sys/fs/cgroup/memory/memory.limit_in_bytes")?
            .trim()
            .parse()
            .ok()?;
        let cur: u64 = read("/sys/fs/cgroup/memory/memory.usage_in_bytes")?
            .trim()
            .parse()
            .ok()?;
        // v1 reports "no limit" as a huge page-rounded number.
        (max < 1 << 60).then(|| max.saturating_sub(cur))
    };
    v2().or_else(v1)
}

fn address_space_room() -> Option<u64> {
    let limits = read("/proc/self/limits")?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max address space"))?;
    let soft = line["Max address space".len()..]
        .split_whitespace()
        .next()?;
    let limit: u64 = soft.parse().ok()?; // "unlimited" does not parse: no limit
    let status = read("/proc/self/status")?;
    let vm = status.lines().find(|l| l.starts_with("VmSize:"))?;
    let kb: u64 = vm["VmSize:".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(limit.saturating_sub(kb.saturating_mul(1024)))
}

/// Types whose all-zero bit pattern is a valid value (for [`zeroed`]).
///
/// # Safety
/// Implement only for types for which zeroed memory is a valid, initialised value.
pub unsafe trait Zeroable: Copy {}
// SAFETY: zero bits are 0.0 / 0 / false for these types.
unsafe impl Zeroable for f64 {}
unsafe impl Zeroable for f32 {}
unsafe impl Zeroable for half::bf16 {}
unsafe impl Zeroable for u16 {}
unsafe impl Zeroable for u64 {}
unsafe impl Zeroable for usize {}
unsafe impl Zeroable for i64 {}
unsafe impl Zeroable for u8 {}
unsafe impl Zeroable for bool {}

fn oom(name: &'static str, needed: usize) -> KernelError {
    KernelError::OutOfMemory {
        name,
        needed,
        available: available().unwrap_or(0),
    }
}

/// A zero-filled `Vec<T>` of `len` elements for the argument `name`: size checked, memory
/// probed, and allocated fallibly (`calloc`, so untouched pages cost nothing, as `vec![0; n]`).
pub fn zeroed<T: Zeroable>(name: &'static str, len: usize) -> Result<Vec<T>> {
    let needed = reserve::<T>(name, &[len])?;
    if needed == 0 {
        // Zero-sized request (or zero-sized type): no allocation.
        let mut v = Vec::new();
        v.try_reserve_exact(len).map_err(|_| oom(name, needed))?;
        // SAFETY: capacity >= len (no allocation for ZSTs) and zero bits are valid for T.
        unsafe {
            std::ptr::write_bytes(v.as_mut_ptr(), 0, len);
            v.set_len(len);
        }
        return Ok(v);
    }
    let layout = std::alloc::Layout::array::<T>(len)
        .map_err(|_| invalid(name, format!("{len} elements overflow the address space")))?;
    // SAFETY: the layout has non-zero size; the pointer comes from the global allocator with
    // exactly this layout, which is what `Vec` uses for a capacity of `len`; zeroed memory is a
    // valid `T` (`Zeroable`).
    unsafe {
        let ptr = std::alloc::alloc_zeroed(layout) as *mut T;
        if ptr.is_null() {
            return Err(oom(name, needed));
        }
        Ok(Vec::from_raw_parts(ptr, len, len))
    }
}

/// A `Vec<T>` of `len` copies of `value` (checked, probed and fallible like [`zeroed`]).
pub fn filled<T: Clone>(name: &'static str, len: usize, value: T) -> Result<Vec<T>> {
    let needed = reserve::<T>(name, &[len])?;
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| oom(name, needed))?;
    v.resize(len, value);
    Ok(v)
}

/// An empty `Vec<T>` with room for `cap` elements (checked, probed, fallible).
pub fn with_capacity<T>(name: &'static str, cap: usize) -> Result<Vec<T>> {
    let needed = reserve::<T>(name, &[cap])?;
    let mut v = Vec::new();
    v.try_reserve_exact(cap).map_err(|_| oom(name, needed))?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_is_an_invalid_argument_naming_it() {
        let e = count("n", &[usize::MAX, 2]).unwrap_err();
        assert!(
            matches!(e, KernelError::InvalidArgument { name: "n", .. }),
            "{e}"
        );
        let e = bytes::<f64>("d", &[usize::MAX / 4]).unwrap_err();
        assert!(
            matches!(e, KernelError::InvalidArgument { name: "d", .. }),
            "{e}"
        );
        assert!(total("n", &[usize::MAX, 1]).is_err());
        assert_eq!(count("n", &[3, 4, 5]).unwrap(), 60);
        assert_eq!(bytes::<f32>("n", &[3, 4]).unwrap(), 48);
    }

    #[test]
    fn a_request_beyond_memory_is_out_of_memory_not_an_abort() {
        // 2^62 bytes exceeds any machine's MemAvailable (or fails in the allocator).
        let e = zeroed::<f64>("n", 1 << 59).unwrap_err();
        match e {
            KernelError::OutOfMemory { name, needed, .. } => {
                assert_eq!(name, "n");
                assert_eq!(needed, 1 << 62);
            }
            other => panic!("expected OutOfMemory, got {other}"),
        }
        assert!(filled("n", 1 << 59, 1.0f64).is_err());
        assert!(with_capacity::<f64>("n", 1 << 59).is_err());
    }

    #[test]
    fn small_buffers_are_zeroed_and_sized() {
        let v = zeroed::<f64>("n", 1000).unwrap();
        assert_eq!(v.len(), 1000);
        assert!(v.iter().all(|&x| x == 0.0));
        let b = zeroed::<bool>("n", 0).unwrap();
        assert!(b.is_empty());
        let f = filled("n", 5, 2.5f32).unwrap();
        assert_eq!(f, vec![2.5; 5]);
    }

    #[test]
    fn the_probe_reports_some_memory_on_linux() {
        if cfg!(target_os = "linux") {
            let a = available().expect("MemAvailable is readable on Linux");
            assert!(a > 0);
        }
    }
}
