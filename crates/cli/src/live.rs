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
        let mut text = line.message;
        for f in line.fields {
            text.push(' ');
            text.push_str(&f);
        }
        self.trace.line(&text);
    }

    fn enter(&self, _span: &span::Id) {}

    fn exit(&self, _span: &span::Id) {}
}
