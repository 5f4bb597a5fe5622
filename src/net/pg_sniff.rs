//! What a server that does not finish the PostgreSQL start-up says instead: one short extra
//! connection with PostgreSQL's SSLRequest, to tell "silent" from "speaks another protocol"
//! (an HTTP server, a garbage-speaking peer) in the error. Only used once a connect has taken
//! most of its time, so a healthy database never sees it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use crate::net::deadline::DeadlineStream;
use crate::net::dsn::Dsn;

/// PostgreSQL's SSLRequest: length 8, code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
/// Bytes of the answer kept for the message.
const MAX_HEARD: usize = 64;

/// What the server said to an SSLRequest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Heard {
    /// No connection (or no TCP endpoint to try, e.g. a Unix socket).
    NoConnection,
    /// The host name does not resolve; the resolver's words.
    Unresolved { host: String, detail: String },
    /// Connected; nothing came back before the deadline.
    Nothing,
    /// `S`, `N` or an error message: PostgreSQL's answers.
    Postgres,
    /// Something else, as text for a message.
    Other(String),
}

pub fn sniff(dsn: &Dsn, deadline: Instant) -> Heard {
    let endpoint = dsn.endpoint();
    if endpoint.starts_with('/') {
        return Heard::NoConnection;
    }
    let port = dsn.ports.first().copied().unwrap_or(5432);
    let host = match dsn.hostaddrs.first() {
        Some(addr) => addr.to_string(),
        None => dsn.hosts.first().cloned().unwrap_or("localhost".into()),
    };
    use crate::net::conn::LookupError;
    let addrs = match crate::net::conn::resolve(&host, port, deadline) {
        Ok(addrs) => addrs,
        Err(LookupError::Failed(e)) => {
            return Heard::Unresolved {
                host,
                detail: e.to_string(),
            }
        }
        Err(LookupError::NoAddresses) => {
            return Heard::Unresolved {
                host,
                detail: "the name has no addresses".to_string(),
            }
        }
        Err(LookupError::TimedOut) => return Heard::NoConnection,
    };
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Heard::NoConnection;
    }
    let Ok(tcp) = TcpStream::connect_timeout(&addrs[0], left) else {
        return Heard::NoConnection;
    };
    let mut stream = DeadlineStream::new(tcp, deadline);
    if stream.write_all(&SSL_REQUEST).is_err() {
        return Heard::Nothing;
    }
    let mut buf = [0u8; MAX_HEARD];
    let mut got = 0;
    while got < buf.len() {
        match stream.read(&mut buf[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
        // One byte decides for PostgreSQL; other peers get a little more to be quoted.
        if matches!(buf[0], b'S' | b'N') && got == 1 {
            break;
        }
    }
    judge(&buf[..got])
}

/// PostgreSQL answers an SSLRequest with `S` or `N`, or (very old servers) an `E` message.
pub fn judge(answer: &[u8]) -> Heard {
    match answer.first() {
        None => Heard::Nothing,
        Some(b'S' | b'N') if answer.len() == 1 => Heard::Postgres,
        Some(b'E') if answer.len() >= 5 => Heard::Postgres,
        Some(_) => Heard::Other(crate::text::snippet(&String::from_utf8_lossy(answer), 60)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges_answers() {
        assert_eq!(judge(b""), Heard::Nothing);
        assert_eq!(judge(b"S"), Heard::Postgres);
        assert_eq!(judge(b"N"), Heard::Postgres);
        assert_eq!(
            judge(b"HTTP/1.1 400 Bad Request\r\n"),
            Heard::Other("HTTP/1.1 400 Bad Request".into())
        );
        assert_eq!(
            judge(b"garbage garbage"),
            Heard::Other("garbage garbage".into())
        );
    }
}
