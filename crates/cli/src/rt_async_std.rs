//! The command on the async-std adapter (anysock-async-std, on async-io: the same code serves smol).

use std::io;

use anysock_core::FamilyPreference;
use futures_lite::{AsyncReadExt, AsyncWriteExt};

use crate::connect::{ConnectArgs, Connected};
use crate::opts::ResolverArgs;
use crate::outcome::{Failure, Trace, connect_failure, plain_failure, resolve_status};
use crate::serve::{Behaviour, fill_greeting, peer_text};

/// The async-std adapter's resolver with these settings.
pub fn resolver(
    r: &ResolverArgs,
    family: FamilyPreference,
) -> io::Result<anysock_async_std::Resolver> {
    let mut b = anysock_async_std::Resolver::builder()
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

/// Connects with the async-std adapter, inside `async_std::task::block_on`.
pub fn connect(a: &ConnectArgs, trace: Trace) -> Result<Connected, Failure> {
    let fail = |e: &io::Error| failure(&a.host, &a.service, e);
    let resolver =
        resolver(&a.resolver, crate::opts::preference(a.prefer)).map_err(|e| fail(&e))?;
    let mut c = anysock_async_std::Connector::new().resolver(resolver);
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
    let conn = async_std::task::block_on(c.connect(&a.host, &a.service)).map_err(|e| fail(&e))?;
    let peer = conn.peer_addr();
    let stream = match conn.stream {
        s @ anysock_async_std::Stream::Tcp(_) => {
            anysock_blocking::Stream::Tcp(s.into_std_tcp().map_err(|e| fail(&e))?)
        }
        s => anysock_blocking::Stream::Unix(s.into_std_unix().map_err(|e| fail(&e))?),
    };
    stream.set_nonblocking(false).map_err(|e| fail(&e))?;
    Ok(Connected {
        peer,
        attempts: conn.attempts,
        stream,
    })
}

/// The command's failure for an error of the async-std adapter.
fn failure(host: &str, service: &str, e: &io::Error) -> Failure {
    match e
        .get_ref()
        .and_then(|i| i.downcast_ref::<anysock_async_std::Error>())
    {
        Some(anysock_async_std::Error::Connect { error, .. }) => {
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
        Some(anysock_async_std::Error::Resolve { error, .. }) => Failure {
            status: resolve_status(error),
            message: format!("cannot connect to {host} port {service}: {e}"),
            attempts: Vec::new(),
        },
        _ => plain_failure(host, service, e),
    }
}

/// Starts `tcp_server` with the async-std adapter; each connection is served by an async-std task.
pub fn serve(
    host: Option<&str>,
    service: &str,
    behaviour: Behaviour,
) -> io::Result<anysock_async_std::Server> {
    anysock_async_std::tcp_server(host, service, move |mut stream, host, port| {
        let peer = peer_text(&host, port);
        eprintln!("anysock: connection from {peer}");
        let b = behaviour.clone();
        async_std::task::spawn(async move {
            match b {
                Behaviour::Greet(t) => {
                    if let Err(e) = stream
                        .write_all(fill_greeting(&t, &host, port).as_bytes())
                        .await
                    {
                        eprintln!("anysock: cannot greet {peer}: {e}");
                    }
                    let _ = stream.close().await;
                }
                Behaviour::Echo => {
                    let mut buf = vec![0u8; 16 * 1024];
                    let mut total = 0u64;
                    loop {
                        match stream.read(&mut buf).await {
                            Ok(0) => break,
                            Ok(n) => {
                                if let Err(e) = stream.write_all(&buf[..n]).await {
                                    eprintln!("anysock: echo to {peer} failed: {e}");
                                    return;
                                }
                                total += n as u64;
                            }
                            Err(e) => {
                                eprintln!("anysock: echo to {peer} failed: {e}");
                                return;
                            }
                        }
                    }
                    eprintln!("anysock: {peer} closed after {total} bytes echoed");
                }
            }
        });
    })
}
