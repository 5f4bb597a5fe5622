//! A value computed once on a thread of its own, which several sections wait for under their
//! deadline: the database connection, the server's build info, the dismissed list.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Instant;

pub struct Eventually<T> {
    value: OnceLock<T>,
    done: Mutex<bool>,
    ready: Condvar,
}

impl<T: Send + Sync + 'static> Eventually<T> {
    /// Starts `compute` on a thread named `check-<name>` (its panics are not printed: they
    /// become `on_panic`'s value).
    pub fn spawn(
        name: &str,
        compute: impl FnOnce() -> T + Send + 'static,
        on_panic: impl FnOnce(String) -> T + Send + 'static,
    ) -> Arc<Eventually<T>> {
        let cell = Arc::new(Eventually {
            value: OnceLock::new(),
            done: Mutex::new(false),
            ready: Condvar::new(),
        });
        let filler = cell.clone();
        let started = std::thread::Builder::new()
            .name(format!("check-{name}"))
            .spawn(move || {
                let value = match catch_unwind(AssertUnwindSafe(compute)) {
                    Ok(value) => value,
                    Err(panic) => on_panic(panic_text(&*panic)),
                };
                filler.set(value);
            });
        if started.is_err() {
            // No thread, no value: waiters return at once with nothing.
            cell.mark_done();
        }
        cell
    }

    fn set(&self, value: T) {
        let _ = self.value.set(value);
        self.mark_done();
    }

    fn mark_done(&self) {
        *self.done.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.ready.notify_all();
    }

    /// The value, once it is there; `None` if it is not there by `until`.
    pub fn wait(&self, until: Instant) -> Option<&T> {
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        while !*done {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            done = self
                .ready
                .wait_timeout(done, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        self.value.get()
    }
}

/// The text of a panic payload.
pub fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn waiters_get_the_value_or_give_up_at_their_deadline() {
        let quick = Eventually::spawn("quick", || 7, |_| 0);
        assert_eq!(
            quick.wait(Instant::now() + Duration::from_secs(5)),
            Some(&7)
        );
        let slow = Eventually::spawn(
            "slow",
            || {
                std::thread::sleep(Duration::from_secs(3));
                1
            },
            |_| 0,
        );
        let started = Instant::now();
        assert_eq!(slow.wait(started + Duration::from_millis(100)), None);
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn a_panic_becomes_the_fallback_value() {
        let broken = Eventually::spawn(
            "broken",
            || -> Result<u8, String> { panic!("boom") },
            |why| Err(format!("lookup failed: {why}")),
        );
        let got = broken.wait(Instant::now() + Duration::from_secs(5));
        assert_eq!(got, Some(&Err("lookup failed: boom".to_string())));
    }
}
