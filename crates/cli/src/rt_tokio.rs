//! The command on the tokio adapter (anysock-tokio).

use std::io;

use anysock_core::FamilyPreference;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::connect::{ConnectArgs, Connected};
use crate::opts::ResolverArgs;
use crate::outcome::{Failure, Trace, connect_failure, plain_failure, resolve_status};
use crate::serve::{Behaviour, fill_greeting, peer_text};

/// The tokio adapter's resolver with these settings.
pub fn resolver(r: &ResolverArgs, family: FamilyPreference) -> io::Result<anysock_tokio::Resolver> {
    let mut b = anysock_tokio::Resolver::builder()
        .hosts_policy(r.hosts_policy())
        .family_preference(family);
    if !r.nameservers.is_empty() {
        b = b.nameservers(r.nameservers.iter().copied());
    }
    if let Some(h) = &r.hosts {
        b = b.hosts_file(h);
    }
    b.build()
}

/// A tokio runtime for the command: one thread for a connect, a pool for a server.
pub fn runtime(multi_thread: bool) -> io::Result<tokio::runtime::Runtime> {
    if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
}

/// Connects with the tokio adapter on a current-thread runtime.
pub fn connect(a: &ConnectArgs, trace: Trace) -> Result<Connected, Failure> {
    let fail = |e: &io::Error| failure(&a.host, &a.service, e);
    let rt = runtime(false).map_err(|e| fail(&e))?;
    let resolver =
        resolver(&a.resolver, crate::opts::preference(a.prefer)).map_err(|e| fail(&e))?;
    let mut c = anysock_tokio::Connector::new().resolver(resolver);
    if a.serial {
        c = c.serial();
    }
    if let Some(d) = a.attempt_delay {
        c = c.attempt_delay(d);
    }
    if let Some(t) = a.attempt_timeout {
        c = c.attempt_timeout(t);
    }
    if let Some(t) = a.timeout {
        c = c.timeout(t);
    }
    if trace.on && !crate::live::LiveTrace::install(trace) {
        trace.line("(the live trace could not be installed)");
    }
    let conn = rt
        .block_on(c.connect(&a.host, &a.service))
        .map_err(|e| fail(&e))?;
    let peer = conn.peer_addr();
    let attempts = conn.attempts;
    // Off tokio's reactor (inside the runtime, which owns the registration), then blocking std I/O.
    let stream = rt
        .block_on(async move {
            match conn.stream {
                anysock_tokio::Stream::Tcp(s) => s.into_std().map(anysock_blocking::Stream::Tcp),
                anysock_tokio::Stream::Unix(s) => s.into_std().map(anysock_blocking::Stream::Unix),
                _ => Err(io::Error::other("a stream of an unknown kind")),
            }
        })
        .map_err(|e| fail(&e))?;
    stream.set_nonblocking(false).map_err(|e| fail(&e))?;
    Ok(Connected {
        peer,
        attempts,
        stream,
    })
}

/// The command's failure for an error of the tokio adapter.
fn failure(host: &str, service: &str, e: &io::Error) -> Failure {
    match e
        .get_ref()
        .and_then(|i| i.downcast_ref::<anysock_tokio::Error>())
    {
        Some(anysock_tokio::Error::Connect { error, .. }) => {
            let text = error
                .resolution
                .map(|r| (format!("cannot resolve {host}: {r}"), resolve_status(&r)));
            connect_failure(
                host,
                service,
                &error.connect,
                text.as_ref()
                    .map(|(t, s)| (t as &dyn std::fmt::Display, *s)),
            )
        }
        Some(anysock_tokio::Error::Resolve { error, .. }) => Failure {
            status: resolve_status(error),
            message: format!("cannot connect to {host} port {service}: {e}"),
            attempts: Vec::new(),
        },
        _ => plain_failure(host, service, e),
    }
}

/// Starts `tcp_server` with the tokio adapter on `rt`; each connection is a tokio task.
pub fn serve(
    rt: &tokio::runtime::Runtime,
    host: Option<&str>,
    service: &str,
    behaviour: Behaviour,
) -> io::Result<anysock_tokio::Server> {
    let _guard = rt.enter();
    anysock_tokio::tcp_server(host, service, move |mut stream, peer| {
        let b = behaviour.clone();
        async move {
            let shown = peer_text(&peer.host, peer.port);
            eprintln!("anysock: connection from {shown}");
            match b {
                Behaviour::Greet(t) => {
                    let text = fill_greeting(&t, &peer.host, peer.port);
                    if let Err(e) = stream.write_all(text.as_bytes()).await {
                        eprintln!("anysock: cannot greet {shown}: {e}");
                    }
                    let _ = stream.shutdown().await;
                }
                Behaviour::Echo => {
                    let mut buf = vec![0u8; 16 * 1024];
                    let mut total = 0u64;
                    loop {
                        match stream.read(&mut buf).await {
                            Ok(0) => break,
                            Ok(n) => {
                                if let Err(e) = stream.write_all(&buf[..n]).await {
                                    eprintln!("anysock: echo to {shown} failed: {e}");
                                    return;
                                }
                                total += n as u64;
                            }
                            Err(e) => {
                                eprintln!("anysock: echo to {shown} failed: {e}");
                                return;
                            }
                        }
                    }
                    eprintln!("anysock: {shown} closed after {total} bytes echoed");
                }
            }
        }
    })
}
