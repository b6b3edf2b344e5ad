//! Seeds from the operating system, for the machines' randomness inputs (DNS transaction ids, RFC 2782
//! weighted choice).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::Read;

/// 64 random bits from the operating system (`/dev/urandom`). If that cannot be read, std's per-process
/// random hash keys (themselves seeded from the OS) are used instead.
pub fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    match std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b)) {
        Ok(()) => u64::from_ne_bytes(b),
        Err(_) => {
            let mut h = RandomState::new().build_hasher();
            h.write_u64(0x5eed);
            h.finish()
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn seeds_differ() {
        let a: Vec<u64> = (0..4).map(|_| super::random_u64()).collect();
        assert!(a.windows(2).any(|w| w[0] != w[1]), "{a:?}");
    }
}
