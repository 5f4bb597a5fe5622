//! Name lookups under a deadline with a bounded number of threads. The system resolver has no
//! timeout of its own, so each lookup runs on a helper thread that the caller stops waiting for
//! at its deadline; the helper lives on until the resolver returns. At most
//! `MAX_LOOKUP_THREADS` helpers exist at once, however many lookups a run asks for (a DERP map
//! can name thousands of hosts): a caller waits for a free helper, within its deadline.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{mpsc, Condvar, Mutex};
use std::time::Instant;

/// Helper threads alive at once, across the whole process.
pub const MAX_LOOKUP_THREADS: usize = 32;

static BUSY: Mutex<usize> = Mutex::new(0);
static FREED: Condvar = Condvar::new();

#[derive(Debug)]
pub enum LookupFailure {
    /// The deadline passed (waiting for a helper, or for the resolver).
    TimedOut,
    Failed(io::Error),
}

/// Resolves `name:port` before `deadline`; IP literals (bracketed or not) need no lookup.
pub fn lookup(name: &str, port: u16, deadline: Instant) -> Result<Vec<SocketAddr>, LookupFailure> {
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    if Instant::now() >= deadline {
        return Err(LookupFailure::TimedOut);
    }
    acquire(deadline)?;
    let (tx, rx) = mpsc::channel();
    let owned = bare.to_string();
    let spawned = std::thread::Builder::new()
        .name("dns".to_string())
        .spawn(move || {
            let result = (owned.as_str(), port).to_socket_addrs().map(Vec::from_iter);
            release();
            let _ = tx.send(result);
        });
    if let Err(e) = spawned {
        release();
        return Err(LookupFailure::Failed(e));
    }
    let left = deadline.saturating_duration_since(Instant::now());
    match rx.recv_timeout(left) {
        Ok(result) => result.map_err(LookupFailure::Failed),
        Err(_) => Err(LookupFailure::TimedOut),
    }
}

/// Takes a helper slot, waiting for one until `deadline`.
fn acquire(deadline: Instant) -> Result<(), LookupFailure> {
    let mut busy = BUSY.lock().unwrap_or_else(|e| e.into_inner());
    while *busy >= MAX_LOOKUP_THREADS {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(LookupFailure::TimedOut);
        }
        busy = FREED
            .wait_timeout(busy, left)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
    *busy += 1;
    Ok(())
}

fn release() {
    let mut busy = BUSY.lock().unwrap_or_else(|e| e.into_inner());
    *busy = busy.saturating_sub(1);
    FREED.notify_one();
}

/// Helpers alive now.
pub fn busy() -> usize {
    *BUSY.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn many_lookups_use_a_bounded_number_of_threads() {
        let deadline = Instant::now() + Duration::from_secs(5);
        let peak = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..200 {
                scope.spawn(|| {
                    let addrs = lookup("localhost", 80, deadline).unwrap();
                    assert!(!addrs.is_empty());
                    peak.fetch_max(busy(), std::sync::atomic::Ordering::Relaxed);
                });
            }
        });
        assert!(peak.into_inner() <= MAX_LOOKUP_THREADS);
    }

    #[test]
    fn ip_literals_need_no_lookup_and_no_time_left_is_a_timeout() {
        let addrs = lookup("[::1]", 443, Instant::now()).unwrap();
        assert_eq!(addrs, vec!["[::1]:443".parse().unwrap()]);
        assert!(matches!(
            lookup("localhost", 80, Instant::now()),
            Err(LookupFailure::TimedOut)
        ));
    }
}
