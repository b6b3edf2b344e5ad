//! EMFILE in the accept loop: reported to the hook and backed off (no busy loop); accepting resumes
//! once descriptors are free. One test in this binary (it lowers the process's descriptor limit).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

fn set_fd_limit(n: u64) -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to an rlimit.
    #[allow(unsafe_code)]
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut r), 0);
        let old = r.rlim_cur;
        r.rlim_cur = n;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &r), 0);
        old
    }
}

#[tokio::test(flavor = "current_thread")]
async fn emfile_backs_off_and_is_reported() {
    let hook_calls = Arc::new(AtomicU64::new(0));
    let h = Arc::clone(&hook_calls);
    let server = anysock_tokio::Bind::new(Some("127.0.0.1"), "0")
        .on_accept_error(move |e| {
            assert_eq!(e.raw_os_error(), Some(libc::EMFILE));
            h.fetch_add(1, Ordering::SeqCst);
        })
        .serve(|_, _| async {})
        .unwrap();
    // The client socket is made first; it connects only once no descriptor is left for the server.
    let client =
        anysock_sys::new_socket(anysock_core::Family::V4, anysock_core::SockType::Stream, 6)
            .unwrap();
    let old = set_fd_limit(common::open_fds() as u64);
    let mut filler = Vec::new();
    while let Ok(f) = std::fs::File::open("/dev/null") {
        filler.push(f);
    }
    let _ = anysock_sys::start_connect(&client, &server.local_addr());
    // 300 ms with a full table: with a 10 ms doubling back-off that is a handful of errors, not
    // thousands.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let errors = server.accept_errors();
    drop(filler);
    set_fd_limit(old);
    assert!(errors >= 2, "errors: {errors}");
    assert!(errors <= 10, "busy loop: {errors} accept errors in 300 ms");
    assert_eq!(hook_calls.load(Ordering::SeqCst), errors);
    // Descriptors free again: the pending connection is accepted (after the current back-off).
    for _ in 0..100 {
        if server.accepted() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.accepted(), 1);
    drop(client);
}
