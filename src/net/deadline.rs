//! The run's one deadline, and a TCP stream that enforces it across every read and write.
//! Socket timeouts apply per call, and TLS and WebSocket libraries loop over many calls (a peer
//! sending one byte at a time would reset a per-call timeout forever); the stream recomputes the
//! time left before each call and fails with `TimedOut` once it is gone.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// An instant by which work must be done, and the budget it was set from (for messages such as
/// "did not answer within 5s").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline {
    at: Instant,
    budget: Duration,
}

impl Deadline {
    /// A deadline `budget` from now.
    pub fn after(budget: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + budget,
            budget,
        }
    }

    pub fn at(&self) -> Instant {
        self.at
    }

    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// Time left; zero once the deadline has passed.
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    pub fn is_past(&self) -> bool {
        self.remaining().is_zero()
    }

    /// The same budget, ending `margin` earlier (time kept back to assemble a report).
    pub fn less(&self, margin: Duration) -> Deadline {
        Deadline {
            at: self.at.checked_sub(margin).unwrap_or(self.at),
            budget: self.budget,
        }
    }

    /// This deadline, or `cap` from now if that comes first (a per-request limit within the run).
    pub fn capped(&self, cap: Duration) -> Deadline {
        let other = Deadline::after(cap);
        if other.at < self.at {
            other
        } else {
            *self
        }
    }

    /// The budget in Go's notation, for messages: `5s`, `1.5s`.
    pub fn words(&self) -> String {
        crate::duration::go_string(self.budget)
    }
}

#[derive(Debug)]
pub struct DeadlineStream {
    inner: TcpStream,
    deadline: Instant,
}

impl DeadlineStream {
    pub fn new(inner: TcpStream, deadline: Instant) -> DeadlineStream {
        DeadlineStream { inner, deadline }
    }

    /// Moves the deadline (for a caller with a shorter budget for one step).
    pub fn set_deadline(&mut self, deadline: Instant) {
        self.deadline = deadline;
    }

    fn arm(&self) -> io::Result<()> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline reached"));
        }
        self.inner.set_read_timeout(Some(left))?;
        self.inner.set_write_timeout(Some(left))
    }
}

impl Read for DeadlineStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.arm()?;
        self.inner.read(buf).map_err(normalise)
    }
}

impl Write for DeadlineStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.arm()?;
        self.inner.write(buf).map_err(normalise)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A socket timeout surfaces as `WouldBlock` on Unix; call it what it is.
fn normalise(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::WouldBlock {
        io::Error::new(io::ErrorKind::TimedOut, "deadline reached")
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::time::Duration;

    #[test]
    fn a_trickling_peer_cannot_outlast_the_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut peer, _) = listener.accept().unwrap();
            for _ in 0..50 {
                if peer.write_all(b"x").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let started = Instant::now();
        let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut stream = DeadlineStream::new(tcp, started + Duration::from_millis(300));
        let mut sink = Vec::new();
        let err = stream.read_to_end(&mut sink).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_millis(600));
        assert!(!sink.is_empty());
    }
}
