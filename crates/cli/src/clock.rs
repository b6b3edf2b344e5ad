//! The command's one clock reading (the workspace's clippy configuration keeps the core clock-free;
//! the command, like every adapter, reads the clock here).

use std::time::Instant;

/// The current instant.
#[allow(clippy::disallowed_methods)]
pub fn now() -> Instant {
    Instant::now()
}
