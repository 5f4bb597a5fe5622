//! Ctrl-C and SIGTERM. A signal ends the process at once with the exit code of the last run
//! whose output is out (watch mode), but never while output is being written: writing holds
//! `Writing`, and the signal waits for it, so no half line and no temporary file is left.
//! Before any run has finished there is no verdict to give, so the signal ends the process as
//! it would have by default (exit status 128 + N).

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, MutexGuard};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Held while output is written.
static WRITING: Mutex<()> = Mutex::new(());
/// The exit code of the last run whose output was written; -1 before the first.
static LAST: AtomicI32 = AtomicI32::new(-1);

/// Starts the thread that handles SIGINT and SIGTERM.
pub fn install() -> Result<(), String> {
    let mut signals = Signals::new([SIGINT, SIGTERM])
        .map_err(|e| format!("cannot handle SIGINT and SIGTERM: {e}"))?;
    std::thread::Builder::new()
        .name("signals".to_string())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let _writing = writing();
                match LAST.load(Ordering::SeqCst) {
                    code if code >= 0 => std::process::exit(code),
                    _ => {
                        let _ = signal_hook::low_level::emulate_default_handler(signal);
                        std::process::exit(128 + signal);
                    }
                }
            }
        })
        .map(drop)
        .map_err(|e| format!("cannot start the signal thread: {e}"))
}

/// Holds off signals while one run's output is written.
pub fn writing() -> MutexGuard<'static, ()> {
    WRITING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Records a run's exit code; call while holding [`writing`], after the output is out.
pub fn finished(code: u8) {
    LAST.store(i32::from(code), Ordering::SeqCst);
}
