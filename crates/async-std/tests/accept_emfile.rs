//! AnyEvent B31: EMFILE on accept backs off and is reported, never a busy loop (async-io accept loop).
//! Its own test binary (its own process) because it lowers the file descriptor limit.

use std::fs::File;
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anysock_async_std::Bind;
use anysock_core::{Family, SockType};

fn fd_limit() -> libc::rlimit {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into a valid struct.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    assert_eq!(rc, 0, "getrlimit: {}", std::io::Error::last_os_error());
    lim
}

/// Sets the soft limit, keeping the hard limit.
fn set_fd_limit(n: u64) {
    let lim = libc::rlimit {
        rlim_cur: n,
        rlim_max: fd_limit().rlim_max,
    };
    // SAFETY: setrlimit reads a valid, initialised struct.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    assert_eq!(rc, 0, "setrlimit: {}", std::io::Error::last_os_error());
}

fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").unwrap().count() as u64
}

/// Waits for `cond` with a generous bound; the bound only keeps a broken build from hanging.
fn wait_for(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..500 {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn emfile_backs_off_and_is_reported() {
    let reported = Arc::new(Mutex::new(Vec::new()));
    let r2 = Arc::clone(&reported);
    let kept = Arc::new(Mutex::new(Vec::new()));
    let k2 = Arc::clone(&kept);
    let server = Bind::new(Some("127.0.0.1"), "0")
        .on_accept_error(move |e| r2.lock().unwrap().push(e.raw_os_error()))
        .serve(move |s, _| k2.lock().unwrap().push(s))
        .unwrap();
    let port = server.local_addr().as_inet().unwrap().port();
    let original = fd_limit().rlim_cur;

    // Three clients connect while descriptors are available...
    let clients: Vec<_> = (0..3)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    assert!(wait_for(|| server.accepted() == 3));

    // ...then the process runs out of descriptors and three more connect (the kernel queues them).
    // Their sockets are made first; they connect only once no descriptor is left for the server.
    let more: Vec<_> = (0..3)
        .map(|_| anysock_sys::new_socket(Family::V4, SockType::Stream, 6).unwrap())
        .collect();
    set_fd_limit(open_fds());
    let mut filler = Vec::new();
    while let Ok(f) = File::open("/dev/null") {
        filler.push(f);
    }
    let target = server.local_addr();
    for s in &more {
        anysock_sys::start_connect(s, &target).unwrap();
    }
    assert!(wait_for(|| server.accept_errors() >= 1));
    let errors_at_start = server.accept_errors();
    // Half a second of EMFILE: a busy loop would fail thousands of times; the backoff (10 ms doubling
    // to 1 s) allows a handful.
    std::thread::sleep(Duration::from_millis(500));
    let errors = server.accept_errors() - errors_at_start;
    assert!(
        errors <= 8,
        "{errors} accept errors in 0.5 s: not backing off"
    );
    assert_eq!(server.accepted(), 3);
    assert!(
        reported
            .lock()
            .unwrap()
            .iter()
            .all(|e| *e == Some(libc::EMFILE)),
        "{:?}",
        reported.lock().unwrap()
    );

    // Descriptors come back: the queued clients are accepted.
    drop(filler);
    set_fd_limit(original);
    assert!(
        wait_for(|| server.accepted() == 6),
        "accepted {}",
        server.accepted()
    );
    drop((clients, more));
}
