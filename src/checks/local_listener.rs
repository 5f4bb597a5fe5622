//! coderd's own listener: one `GET /healthz` straight to the address coderd listens on
//! (`CODER_HTTP_ADDRESS` / `CODER_TLS_ADDRESS`), never through a proxy and without following
//! redirects, to tell "coderd is down" from "the path to it is broken". The TLS listener's
//! certificate is not verified: it is issued for the access URL's name, not for loopback.

use std::io::{Read, Write};
use std::time::Instant;

use crate::net::conn::{self, DialError, LookupError};
use crate::report::access_url::LocalListener;
use crate::report::{Evidence, Phase};
use crate::settings::Listener;

/// `/healthz` answers two bytes; anything past this is not read.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// What answered on the listener.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    /// The `X-Coder-Build-Version` header, which every coderd response carries.
    pub coder_version: Option<String>,
    pub server: Option<String>,
}

impl Answer {
    /// coderd's own answer: 200 `OK`, anything with coderd's version header, or the redirect
    /// coderd's HTTP listener gives when TLS is on.
    pub fn is_coderd(&self) -> bool {
        (self.status == 200 && self.body.trim() == "OK")
            || self.coder_version.is_some()
            || (300..400).contains(&self.status)
    }
}

pub fn probe(listener: &Listener, deadline: Instant) -> (LocalListener, Result<Answer, String>) {
    let mut report = LocalListener {
        address: listener.healthz_url(),
        ..LocalListener::default()
    };
    let answer = match get(listener, deadline) {
        Ok(a) => {
            report.reachable = true;
            report.status_code = a.status;
            Ok(a)
        }
        Err((why, evidence)) => {
            report.error = Some(why.clone());
            report.evidence = evidence;
            Err(why)
        }
    };
    (report, answer)
}

/// Why the listener gave no answer: words, and what was observed.
type Failed = (String, Option<Evidence>);

fn get(listener: &Listener, deadline: Instant) -> Result<Answer, Failed> {
    let tls = listener.tls.then(crate::net::tls::unverified_config);
    let address = format!("{}:{}", listener.host, listener.port);
    let io_failed = |doing: &str, e: &std::io::Error| {
        (
            io_words(doing, e),
            conn::io_evidence(&address, e, Phase::Answer),
        )
    };
    let mut stream = conn::dial(&listener.host, listener.port, tls, deadline)
        .map_err(|e| (describe(&e), e.evidence(&listener.host, listener.port)))?;
    let host = if listener.host.contains(':') {
        format!("[{}]:{}", listener.host, listener.port)
    } else {
        format!("{}:{}", listener.host, listener.port)
    };
    let request = format!(
        "GET /healthz HTTP/1.1\r\nHost: {host}\r\nUser-Agent: healthcheck/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    stream
        .write_all(request.as_bytes())
        .and_then(|_| stream.flush())
        .map_err(|e| io_failed("sending the request", &e))?;
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                bytes.extend_from_slice(&chunk[..n]);
                if bytes.len() >= MAX_RESPONSE_BYTES || complete(&bytes) {
                    break;
                }
            }
            // A TLS peer that closes without close_notify still said what it had to say.
            Err(e) if !bytes.is_empty() && e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(io_failed("reading the answer", &e)),
        }
    }
    parse(&bytes).map_err(|why| (why, None))
}

/// Whether a response head plus its Content-Length worth of body has arrived.
fn complete(bytes: &[u8]) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let Ok(httparse::Status::Complete(head)) = response.parse(bytes) else {
        return false;
    };
    let length = response
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| {
            std::str::from_utf8(h.value)
                .ok()?
                .trim()
                .parse::<usize>()
                .ok()
        });
    length.is_some_and(|n| bytes.len() >= head + n)
}

fn parse(bytes: &[u8]) -> Result<Answer, String> {
    if bytes.is_empty() {
        return Err("the connection was closed without an answer".to_string());
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let head = match response.parse(bytes) {
        Ok(httparse::Status::Complete(head)) => head,
        _ => return Err("the answer is not HTTP".to_string()),
    };
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).into_owned())
    };
    Ok(Answer {
        status: response.code.unwrap_or(0),
        body: String::from_utf8_lossy(&bytes[head..]).into_owned(),
        coder_version: header("X-Coder-Build-Version"),
        server: header("Server"),
    })
}

fn describe(e: &DialError) -> String {
    match e {
        DialError::Lookup(LookupError::TimedOut) => "name lookup timed out".to_string(),
        DialError::Lookup(LookupError::NoAddresses) => "the name has no addresses".to_string(),
        DialError::Lookup(LookupError::Failed(e)) => format!("name lookup failed: {e}"),
        DialError::Deadline => "no time left before the deadline".to_string(),
        DialError::Connect(addr, e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            format!("connect to {addr}: connection refused (nothing is listening there)")
        }
        DialError::Connect(addr, e) if conn::is_timeout(e) => {
            format!("connect to {addr}: timed out")
        }
        DialError::Connect(addr, e) => format!("connect to {addr}: {e}"),
        DialError::TlsName(e) => format!("not a TLS server name: {e}"),
        DialError::Tls(e) => io_words("TLS handshake", e),
        DialError::Proxy(e) => e.message.clone(),
    }
}

fn io_words(doing: &str, e: &std::io::Error) -> String {
    if conn::is_timeout(e) {
        format!("{doing}: timed out")
    } else {
        format!("{doing}: {e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_coderds_answer() {
        let a = parse(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Coder-Build-Version: v2.18.1\r\n\r\nOK",
        )
        .unwrap();
        assert_eq!(a.status, 200);
        assert_eq!(a.body, "OK");
        assert_eq!(a.coder_version.as_deref(), Some("v2.18.1"));
        assert!(a.is_coderd());
        let other = parse(b"HTTP/1.1 200 OK\r\nServer: nginx\r\n\r\nWelcome").unwrap();
        assert!(!other.is_coderd());
        assert!(parse(b"SSH-2.0-OpenSSH\r\n").is_err());
        assert!(complete(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"));
        assert!(!complete(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nO"));
    }
}
