//! Runs `healthcheck` as a child and measures it: wall time and the peak resident set size the
//! kernel recorded for that one child (`wait4`'s rusage), for hostile cases that must stay
//! bounded in time and memory.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::Output;

/// What hostile cases must stay under.
pub const MAX_PEAK_KIB: u64 = 100 * 1024;

pub struct Measured {
    pub out: Output,
    /// Peak RSS of the child in KiB.
    pub peak_kib: u64,
}

// Reaped with wait4 (for its rusage), not Child::wait.
#[allow(clippy::zombie_processes)]
pub fn run_measured(mut cmd: Command) -> Measured {
    let started = Instant::now();
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start healthcheck");
    let pid = child.id() as libc::pid_t;
    let mut stdout_pipe = child.stdout.expect("stdout");
    let mut stderr_pipe = child.stderr.expect("stderr");
    let stdout = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout_pipe, &mut s);
        s
    });
    let stderr = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stderr_pipe, &mut s);
        s
    });
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data; wait4 fills it for the child we started and have not reaped.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4 failed");
    let elapsed = started.elapsed();
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -libc::WTERMSIG(status)
    };
    Measured {
        out: Output {
            code,
            stdout: String::from_utf8_lossy(&stdout.join().unwrap()).into_owned(),
            stderr: String::from_utf8_lossy(&stderr.join().unwrap()).into_owned(),
            elapsed,
        },
        peak_kib: usage.ru_maxrss as u64,
    }
}

impl Measured {
    /// The bounds every hostile case keeps: done within `timeout` + 1 s, under 100 MiB, no panic
    /// text, no internal error.
    pub fn assert_bounded(&self, what: &str, timeout: Duration) {
        let all = self.out.all();
        assert!(
            self.out.elapsed < timeout + Duration::from_secs(1),
            "{what}: took {:?} (timeout {timeout:?})\n{all}",
            self.out.elapsed
        );
        assert!(
            self.peak_kib < MAX_PEAK_KIB,
            "{what}: peak RSS {} KiB\n{}",
            self.peak_kib,
            all.chars().take(2000).collect::<String>()
        );
        assert!(!all.contains("panicked"), "{what}: {all}");
        assert!(!all.contains("internal error"), "{what}: {all}");
        assert!(
            self.out.code >= 0,
            "{what}: killed by signal {}",
            -self.out.code
        );
        eprintln!(
            "{what}: {:?}, peak RSS {} KiB, exit {}",
            self.out.elapsed, self.peak_kib, self.out.code
        );
    }
}
