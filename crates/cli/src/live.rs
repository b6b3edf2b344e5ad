//! `--trace` for the async adapters: their `tracing` events (each DNS query and connection attempt
//! as it starts and ends), printed as they happen with milliseconds since the start.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::span;
use tracing::{Event, Metadata, Subscriber};

use crate::outcome::Trace;

/// A subscriber that prints anysock's events as trace lines and ignores everything else.
#[derive(Debug)]
pub struct LiveTrace {
    trace: Trace,
}

impl LiveTrace {
    /// Installs the subscriber for the whole process. False if another one is installed already.
    pub fn install(trace: Trace) -> bool {
        tracing::subscriber::set_global_default(LiveTrace { trace }).is_ok()
    }
}

/// Debug renderings of outcomes in words: `Some(Failed(ConnectionRefused))` becomes
/// `failed(connection refused)`, `Some(Connected)` becomes `connected`, `None` stays.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("Some(") {
        out.push_str(&rest[..i]);
        rest = &rest[i + 5..];
        // Drop the matching closing parenthesis of `Some(`.
        let mut depth = 1;
        let mut inner_end = rest.len();
        for (j, c) in rest.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        inner_end = j;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.push_str(&words(&rest[..inner_end]));
        rest = rest.get(inner_end + 1..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// `Failed(ConnectionRefused)` as `failed(connection refused)`: CamelCase words in lower case.
fn words(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut prev_lower = false;
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            if prev_lower {
                out.push(' ');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = false;
        } else {
            prev_lower = c.is_ascii_lowercase();
            out.push(c);
        }
    }
    out
}

/// Collects an event's message and fields as text.
#[derive(Default)]
struct Line {
    message: String,
    fields: Vec<String>,
}

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.fields.push(format!("{}={value:?}", field.name()));
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.fields.push(format!("{}={value:.1}", field.name()));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.fields.push(format!("{}={value}", field.name()));
        }
    }
}

impl Subscriber for LiveTrace {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with("anysock")
    }

    fn new_span(&self, _span: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }

    fn record(&self, _span: &span::Id, _values: &span::Record<'_>) {}

    fn record_follows_from(&self, _span: &span::Id, _follows: &span::Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut line = Line::default();
        event.record(&mut line);
        let mut text = tidy(&line.message);
        for f in line.fields {
            text.push(' ');
            text.push_str(&tidy(&f));
        }
        self.trace.line(&text);
    }

    fn enter(&self, _span: &span::Id) {}

    fn exit(&self, _span: &span::Id) {}
}

#[cfg(test)]
mod tests {
    use super::tidy;

    #[test]
    fn outcomes_in_words() {
        assert_eq!(
            tidy("outcome=Some(Failed(ConnectionRefused))"),
            "outcome=failed(connection refused)"
        );
        assert_eq!(tidy("outcome=Some(Connected)"), "outcome=connected");
        assert_eq!(tidy("result=Some(Err(NxDomain))"), "result=err(nx domain)");
        assert_eq!(tidy("result=None"), "result=None");
        assert_eq!(tidy("target=[::1]:80"), "target=[::1]:80");
        assert_eq!(
            tidy("a Some(TimedOut) b Some(Cancelled)"),
            "a timed out b cancelled"
        );
    }
}
