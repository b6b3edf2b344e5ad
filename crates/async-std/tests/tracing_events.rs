//! With the `tracing` feature, connects emit events (target `anysock_async_std`): run with
//! `cargo test -p anysock-async-std --features tracing --test tracing_events`.
#![cfg(feature = "tracing")]

use std::fmt;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Collects the messages of the adapter's events.
struct Collect(Arc<Mutex<Vec<String>>>);

struct Message<'a>(&'a mut String);

impl Visit for Message<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            *self.0 = format!("{value:?}");
        }
    }
}

impl Subscriber for Collect {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, e: &Event<'_>) {
        if e.metadata().target() == "anysock_async_std" {
            let mut m = String::new();
            e.record(&mut Message(&mut m));
            self.0.lock().unwrap().push(m);
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn connect_emits_attempt_events() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    tracing::subscriber::with_default(Collect(Arc::clone(&seen)), || {
        async_io::block_on(
            anysock_async_std::Connector::new().connect_addrs([l.local_addr().unwrap()]),
        )
        .unwrap();
        assert!(
            async_io::block_on(anysock_async_std::Connector::new().connect_addrs([dead])).is_err()
        );
    });
    let seen = seen.lock().unwrap();
    let addr = l.local_addr().unwrap().to_string();
    assert!(
        seen.iter()
            .any(|m| m.contains("started") && m.contains(&addr)),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|m| m.starts_with("connected to") && m.contains(&addr)),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|m| m.starts_with("connect failed") && m.contains(&dead.to_string())),
        "{seen:?}"
    );
}
