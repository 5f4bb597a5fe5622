//! Outgoing TCP and TLS connections under one deadline, for the protocols that speak over a raw
//! stream (WebSocket, DERP). Name lookup, connect and the TLS handshake are each bounded, and the
//! connection sits on a `DeadlineStream`, so later reads and writes are bounded too. Callers turn
//! `DialError` into their own words.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use crate::net::deadline::DeadlineStream;

/// A TCP connection, optionally inside TLS.
pub enum Conn {
    Plain(DeadlineStream),
    Tls(Box<StreamOwned<ClientConnection, DeadlineStream>>),
}

impl Conn {
    fn stream(&mut self) -> &mut DeadlineStream {
        match self {
            Conn::Plain(tcp) => tcp,
            Conn::Tls(tls) => &mut tls.sock,
        }
    }

    /// Bounds all further reads and writes by `deadline`; no time left is a timeout now.
    pub fn arm(&mut self, deadline: Instant) -> io::Result<()> {
        remaining(deadline)?;
        self.stream().set_deadline(deadline);
        Ok(())
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// The time left, or a timeout error when there is none.
pub fn remaining(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(io::Error::new(io::ErrorKind::TimedOut, "deadline reached"))
    } else {
        Ok(left)
    }
}

/// Socket timeouts surface as `WouldBlock` on Unix and `TimedOut` elsewhere.
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

#[derive(Debug)]
pub enum LookupError {
    TimedOut,
    NoAddresses,
    Failed(io::Error),
}

/// Resolves a host under the deadline on a bounded pool of helper threads (`net::lookup`). IP
/// literals, bracketed or not, skip the lookup.
pub fn resolve(host: &str, port: u16, deadline: Instant) -> Result<Vec<SocketAddr>, LookupError> {
    match crate::net::lookup::lookup(host, port, deadline) {
        Ok(addrs) if !addrs.is_empty() => Ok(addrs),
        Ok(_) => Err(LookupError::NoAddresses),
        Err(crate::net::lookup::LookupFailure::Failed(e)) => Err(LookupError::Failed(e)),
        Err(crate::net::lookup::LookupFailure::TimedOut) => Err(LookupError::TimedOut),
    }
}

#[derive(Debug)]
pub enum DialError {
    Lookup(LookupError),
    /// No time was left to try the next address.
    Deadline,
    /// The last address tried, and why it failed.
    Connect(SocketAddr, io::Error),
    /// The host cannot be a TLS server name.
    TlsName(String),
    /// The TLS handshake failed (rustls errors are inside the io error).
    Tls(io::Error),
}

/// DNS, TCP and, when `tls` is given, the TLS handshake, all before `deadline`.
pub fn dial(
    host: &str,
    port: u16,
    tls: Option<Arc<ClientConfig>>,
    deadline: Instant,
) -> Result<Conn, DialError> {
    let addrs = resolve(host, port, deadline).map_err(DialError::Lookup)?;
    let mut last_error = None;
    let mut tcp = None;
    for addr in addrs {
        let Ok(left) = remaining(deadline) else {
            break;
        };
        match TcpStream::connect_timeout(&addr, left) {
            Ok(stream) => {
                tcp = Some(stream);
                break;
            }
            Err(e) => last_error = Some(DialError::Connect(addr, e)),
        }
    }
    let tcp = tcp.ok_or_else(|| last_error.unwrap_or(DialError::Deadline))?;
    let _ = tcp.set_nodelay(true);
    let tcp = DeadlineStream::new(tcp, deadline);
    let Some(config) = tls else {
        return Ok(Conn::Plain(tcp));
    };
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let name = ServerName::try_from(bare).map_err(|e| DialError::TlsName(e.to_string()))?;
    let session = ClientConnection::new(config, name)
        .map_err(|e| DialError::Tls(io::Error::new(io::ErrorKind::InvalidData, e)))?;
    let mut stream = StreamOwned::new(session, tcp);
    // Drive the handshake now, so its failures are told apart from the protocol's.
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .map_err(DialError::Tls)?;
    }
    Ok(Conn::Tls(Box::new(stream)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_is_an_error_once_the_deadline_passed() {
        assert!(remaining(Instant::now()).is_err());
        assert!(remaining(Instant::now() + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn ip_literals_skip_the_lookup() {
        let deadline = Instant::now() + Duration::from_secs(1);
        let addrs = resolve("[::1]", 443, deadline).unwrap();
        assert_eq!(addrs, vec!["[::1]:443".parse().unwrap()]);
    }

    #[test]
    fn refused_connections_name_the_address() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let deadline = Instant::now() + Duration::from_secs(2);
        match dial("127.0.0.1", port, None, deadline) {
            Err(DialError::Connect(addr, e)) => {
                assert_eq!(addr.port(), port);
                assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
            }
            Err(other) => panic!("unexpected error {other:?}"),
            Ok(_) => panic!("connected to a closed port"),
        }
    }
}
