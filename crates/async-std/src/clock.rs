//! The adapter's one clock read.

use std::time::Instant;

/// The current time. Every machine input in this crate gets its `now` from here.
#[allow(clippy::disallowed_methods)]
pub(crate) fn now() -> Instant {
    Instant::now()
}
