//! The HTTP upgrade under a deadline. A refused upgrade keeps its status, headers and the start
//! of its body, because that is what tells an operator which hop broke it.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tungstenite::handshake::client::Response;
use tungstenite::handshake::HandshakeError;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::WebSocket;

use super::dial::{describe_io, describe_ws_error, timed_out_words, Conn, Failure};
use crate::net::conn::io_evidence;
use crate::report::{Evidence, Phase};

/// Largest message and frame we accept: the probes exchange a few bytes, so anything near this
/// is a misbehaving peer, not data worth buffering (tungstenite's defaults are 64 MiB / 16 MiB).
pub const MAX_WS_MESSAGE_BYTES: usize = 1 << 20;

pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_WS_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_WS_MESSAGE_BYTES))
}

/// Coder keeps about this much of a refused upgrade's body; so do we.
pub const MAX_BODY_BYTES: usize = 1024;

/// A refused upgrade: what came back instead of 101.
#[derive(Clone, Debug)]
pub struct Refusal {
    pub status: u16,
    pub reason: String,
    pub server: Option<String>,
    pub coder_version: Option<String>,
    pub location: Option<String>,
    pub body: String,
}

impl Refusal {
    /// What was observed: the status and the start of the body.
    pub fn evidence(&self) -> Evidence {
        Evidence::UpgradeRefused {
            status: self.status,
            body_start: crate::text::snippet(&self.body, EVIDENCE_BODY_CHARS),
        }
    }
}

/// How much of a refused upgrade's body its evidence keeps.
const EVIDENCE_BODY_CHARS: usize = 200;

pub enum DialError {
    /// An HTTP answer other than 101.
    Refused(Box<Refusal>),
    /// No usable answer at all.
    Failed(Failure),
}

/// A connection the WebSocket and this module can both reach: after a refused upgrade,
/// tungstenite drops its stream, and the rest of the refusal's body is still to be read.
#[derive(Clone)]
pub struct Shared(Rc<RefCell<Conn>>);

impl Shared {
    pub fn arm(&self, deadline: Instant) -> io::Result<()> {
        self.0.borrow_mut().arm(deadline)
    }
}

impl Read for Shared {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.borrow_mut().read(buf)
    }
}

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.borrow_mut().flush()
    }
}

/// The HTTP upgrade over an open connection, before `deadline`.
pub fn handshake(
    request: tungstenite::handshake::client::Request,
    conn: Conn,
    deadline: Instant,
    timeout: Duration,
    shown: &str,
    address: &str,
) -> Result<(WebSocket<Shared>, Response), DialError> {
    let shared = Shared(Rc::new(RefCell::new(conn)));
    if let Err(e) = shared.arm(deadline) {
        return Err(DialError::Failed(Failure::new(
            describe_io("upgrade at", shown, &e, timeout),
            io_evidence(address, &e, Phase::Answer),
        )));
    }
    match tungstenite::client::client_with_config(request, shared.clone(), Some(ws_config())) {
        Ok(pair) => Ok(pair),
        Err(HandshakeError::Interrupted(_)) => Err(DialError::Failed(Failure::new(
            format!(
                "upgrade at {shown}: no answer from the server {}",
                timed_out_words(timeout)
            ),
            Some(Evidence::Timeout {
                address: address.to_string(),
                phase: Phase::Answer,
            }),
        ))),
        Err(HandshakeError::Failure(tungstenite::Error::Http(response))) => {
            let mut conn = shared;
            Err(DialError::Refused(Box::new(refusal(
                &response, &mut conn, deadline,
            ))))
        }
        Err(HandshakeError::Failure(e)) => {
            let evidence = match &e {
                tungstenite::Error::Io(io) => io_evidence(address, io, Phase::Answer),
                _ => None,
            };
            Err(DialError::Failed(Failure::new(
                describe_ws_error(&format!("upgrade at {shown}"), &e, timeout),
                evidence,
            )))
        }
    }
}

fn refusal(
    response: &tungstenite::http::Response<Option<Vec<u8>>>,
    conn: &mut Shared,
    deadline: Instant,
) -> Refusal {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let mut raw = response.body().clone().unwrap_or_default();
    let chunked =
        header("Transfer-Encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length: Option<usize> = header("Content-Length").and_then(|v| v.trim().parse().ok());
    // Read what the first packet did not carry, up to our cap, without waiting past the body;
    // a body without a length ends at close, so give that at most a second.
    let status = response.status().as_u16();
    let no_body = status < 200 || status == 204 || status == 304;
    let deadline = deadline.min(Instant::now() + Duration::from_secs(1));
    let mut buf = [0u8; 1024];
    loop {
        let have = if chunked {
            dechunk(&raw).0.len()
        } else {
            raw.len()
        };
        let complete = if chunked {
            dechunk(&raw).1
        } else {
            length.is_some_and(|n| raw.len() >= n)
        };
        if no_body || complete || have >= MAX_BODY_BYTES || conn.arm(deadline).is_err() {
            break;
        }
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
    let mut body = if chunked { dechunk(&raw).0 } else { raw };
    if let Some(n) = length {
        body.truncate(n);
    }
    body.truncate(MAX_BODY_BYTES);
    Refusal {
        status: response.status().as_u16(),
        reason: response
            .status()
            .canonical_reason()
            .unwrap_or("")
            .to_string(),
        server: header("Server"),
        coder_version: header("X-Coder-Build-Version"),
        location: header("Location"),
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// Decodes as much of a chunked body as is there; the flag says whether the last chunk was seen.
pub(crate) fn dechunk(raw: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut rest = raw;
    loop {
        let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") else {
            return (out, false);
        };
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or("").trim().to_string();
        let Ok(size) = usize::from_str_radix(&size_text, 16) else {
            return (out, true);
        };
        if size == 0 {
            return (out, true);
        }
        let data = &rest[line_end + 2..];
        if data.len() < size {
            out.extend_from_slice(data);
            return (out, false);
        }
        out.extend_from_slice(&data[..size]);
        rest = data.get(size + 2..).unwrap_or(&[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dechunk_handles_partial_and_complete_bodies() {
        assert_eq!(
            dechunk(b"4\r\ntest\r\n6\r\n error\r\n0\r\n\r\n"),
            (b"test error".to_vec(), true)
        );
        assert_eq!(
            dechunk(b"4\r\ntest\r\n6\r\n er"),
            (b"test er".to_vec(), false)
        );
        assert_eq!(dechunk(b"4\r\nte"), (b"te".to_vec(), false));
    }
}
