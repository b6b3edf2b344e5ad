//! Seeds from the operating system, for the machines' randomness inputs (DNS transaction ids, RFC 2782
//! weighted choice).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::Read;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The process's secret: SipHash keys that std draws from the operating system, plus 64 bits read from
/// `/dev/urandom` once.
fn secret() -> &'static (RandomState, u64) {
    static SECRET: OnceLock<(RandomState, u64)> = OnceLock::new();
    SECRET.get_or_init(|| {
        let mut b = [0u8; 8];
        let extra = match std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b))
        {
            Ok(()) => u64::from_ne_bytes(b),
            Err(_) => 0,
        };
        (RandomState::new(), extra)
    })
}

/// 64 unpredictable bits: a keyed hash (SipHash, with keys from the operating system) of a counter, so
/// each call costs no system call after the first. Values do not repeat within a process, and without
/// the process's secret they cannot be predicted from earlier ones.
pub fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let (keys, extra) = secret();
    let mut h = keys.build_hasher();
    h.write_u64(*extra);
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_differ() {
        let mut a: Vec<u64> = (0..1000).map(|_| super::random_u64()).collect();
        a.sort_unstable();
        a.dedup();
        assert_eq!(a.len(), 1000);
        // Both halves of the bits vary.
        assert!(a.iter().any(|v| v >> 63 == 1) && a.iter().any(|v| v >> 63 == 0));
    }
}
