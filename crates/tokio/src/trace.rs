//! Trace events as `tracing` events (with the `tracing` feature); nothing otherwise.

use anysock_core::connect::AttemptRecord;
use anysock_core::resolution::QueryRecord;

/// A DNS query started.
pub(crate) fn query_started(_q: &QueryRecord) {
    #[cfg(feature = "tracing")]
    tracing::debug!(token = %_q.token, name = %_q.name, rtype = ?_q.rtype, "dns query started");
}

/// A DNS query ended.
pub(crate) fn query_finished(_q: &QueryRecord) {
    #[cfg(feature = "tracing")]
    tracing::debug!(
        token = %_q.token,
        name = %_q.name,
        rtype = ?_q.rtype,
        tries = _q.tries,
        elapsed_ms = _q.ended.map(|e| e.saturating_duration_since(_q.started).as_secs_f64() * 1e3),
        result = ?_q.result,
        "dns query finished"
    );
}

/// A connection attempt started.
pub(crate) fn attempt_started(_a: &AttemptRecord) {
    #[cfg(feature = "tracing")]
    tracing::debug!(attempt = %_a.id, target = %_a.target.addr, "connection attempt started");
}

/// A connection attempt ended.
pub(crate) fn attempt_ended(_a: &AttemptRecord) {
    #[cfg(feature = "tracing")]
    tracing::debug!(
        attempt = %_a.id,
        target = %_a.target.addr,
        elapsed_ms = _a.elapsed().map(|d| d.as_secs_f64() * 1e3),
        outcome = ?_a.outcome,
        "connection attempt ended"
    );
}
