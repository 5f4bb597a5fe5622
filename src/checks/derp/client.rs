//! One DERP client connection: the HTTP upgrade (or DERP over WebSocket), the handshake, and
//! frame reads and writes under a deadline.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Instant;

use rustls::ClientConfig;
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::HandshakeError;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message as WsMessage, WebSocket};

use super::protocol::{self as p, Identity, Key};
use super::transport::{is_timeout, Transport};
use crate::net::tls::Tls;
use crate::report::derp::ServerInfo;
use crate::report::{Evidence, Phase};

/// Most bytes we accept before the end of the HTTP response head.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Largest WebSocket message/frame accepted: DERP frames are at most 64 KiB, so more is a
/// misbehaving relay (tungstenite's defaults are 64 MiB / 16 MiB).
const MAX_WS_MESSAGE_BYTES: usize = 1 << 20;

fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_WS_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_WS_MESSAGE_BYTES))
}

/// Why a connection attempt or a read failed.
#[derive(Debug)]
pub enum ConnError {
    /// The relay refused `Upgrade: DERP` with this 4xx status: Coder's cue to use WebSocket.
    Refused4xx(String, Evidence),
    /// Another answer than 101 to an upgrade (a 5xx, a redirect).
    Refused(String, Evidence),
    /// No connection: the name, the connect, TLS or the proxy failed.
    Dial(String, Option<Evidence>),
    /// No answer before the deadline.
    Timeout(String),
    /// The relay closed (or reset) the connection.
    Closed(String),
    /// The relay took the upgrade and sent a valid ServerKey, then closed on or ignored our
    /// ClientInfo: another dialect (or a relay that admits only known clients). Retrying only
    /// repeats it.
    Rejected(String),
    Other(String),
}

impl std::fmt::Display for ConnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnError::Refused4xx(s, _)
            | ConnError::Refused(s, _)
            | ConnError::Dial(s, _)
            | ConnError::Timeout(s)
            | ConnError::Closed(s)
            | ConnError::Rejected(s)
            | ConnError::Other(s) => f.write_str(s),
        }
    }
}

impl ConnError {
    /// What was observed, for a relay at `address` (`host:port`).
    pub fn evidence(&self, address: &str) -> Option<Evidence> {
        match self {
            ConnError::Refused4xx(_, evidence) | ConnError::Refused(_, evidence) => {
                Some(evidence.clone())
            }
            ConnError::Dial(_, evidence) => evidence.clone(),
            ConnError::Timeout(_) => Some(Evidence::Timeout {
                address: address.to_string(),
                phase: Phase::Answer,
            }),
            ConnError::Closed(_) | ConnError::Rejected(_) | ConnError::Other(_) => None,
        }
    }
}

fn io_err(what: &str, e: io::Error) -> ConnError {
    if is_timeout(&e) {
        ConnError::Timeout(format!("{what}: timed out before the deadline"))
    } else if e.kind() == io::ErrorKind::UnexpectedEof {
        ConnError::Closed(format!("{what}: the relay closed the connection"))
    } else if matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    ) {
        ConnError::Closed(format!("{what}: {e}"))
    } else {
        ConnError::Other(format!("{what}: {e}"))
    }
}

enum Io {
    Raw(Transport),
    Ws(Box<WebSocket<Transport>>),
}

/// A connected, handshaken DERP client.
pub struct DerpConn {
    io: Io,
    /// Bytes received but not yet consumed as frames.
    buf: Vec<u8>,
    pub identity: Identity,
    pub server_key: Key,
    pub server_info: ServerInfo,
    /// Frames seen worth reporting (Health text etc.), capped: see `note`.
    notes: Vec<String>,
    /// Notes not kept because of the cap (or repeats of one kept).
    dropped_notes: usize,
}

/// A relay may send any number of Health or PeerGone frames: keep a few, each short, so a flood
/// costs no memory (each frame can be 1 MiB).
const MAX_NOTES: usize = 8;
const MAX_NOTE_CHARS: usize = 300;
/// Of a Health frame's text, only this much is decoded before the note is cut.
const MAX_HEALTH_BYTES: usize = 4 * 1024;

/// Where to connect, split out of the node's URL.
pub struct Target {
    pub url: url::Url,
    pub host: String,
    pub port: u16,
    pub tls: Option<Arc<ClientConfig>>,
    /// The forward proxy to tunnel through (from the environment), if any.
    pub proxy: Option<crate::net::proxy::ProxyUrl>,
}

impl Target {
    pub fn new(
        raw: &str,
        tls: &Tls,
        proxy: Option<crate::net::proxy::ProxyUrl>,
    ) -> Result<Target, String> {
        let url = url::Url::parse(raw).map_err(|e| format!("invalid DERP URL {raw}: {e}"))?;
        let host = url
            .host_str()
            .ok_or_else(|| format!("DERP URL {raw} has no host"))?
            .to_string();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| format!("DERP URL {raw} has no port"))?;
        // Only a relay over TLS reads the trust store (see `Tls`).
        let tls = (url.scheme() == "https").then(|| tls.http1_config());
        Ok(Target {
            url,
            host,
            port,
            tls,
            proxy,
        })
    }

    fn host_header(&self) -> String {
        match self.url.port() {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }
}

fn dial(target: &Target, deadline: Instant) -> Result<Transport, ConnError> {
    super::transport::dial(
        &target.host,
        target.port,
        target.tls.clone(),
        target.proxy.as_ref(),
        deadline,
    )
    .map_err(|(text, evidence)| ConnError::Dial(text, evidence))
}

impl DerpConn {
    /// `GET /derp` with `Upgrade: DERP`, then the DERP handshake.
    pub fn connect_upgrade(target: &Target, deadline: Instant) -> Result<DerpConn, ConnError> {
        let mut t = dial(target, deadline)?;
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: DERP\r\nConnection: Upgrade\r\nUser-Agent: healthcheck/{}\r\n\r\n",
            target.url.path(),
            target.host_header(),
            env!("CARGO_PKG_VERSION")
        );
        t.write_all(request.as_bytes())
            .and_then(|_| t.flush())
            .map_err(|e| io_err("send the upgrade request", e))?;
        let (start, rest) = read_upgrade_response(&mut t, target.host_header(), deadline)?;
        DerpConn::handshake(Io::Raw(t), rest, start, deadline)
    }

    /// DERP over WebSocket (subprotocol `derp`) to the same URL.
    pub fn connect_websocket(target: &Target, deadline: Instant) -> Result<DerpConn, ConnError> {
        let t = dial(target, deadline)?;
        let mut ws_url = target.url.clone();
        let _ = ws_url.set_scheme(if target.tls.is_some() { "wss" } else { "ws" });
        let mut request = ws_url
            .as_str()
            .into_client_request()
            .map_err(|e| ConnError::Other(format!("websocket request: {e}")))?;
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            tungstenite::http::HeaderValue::from_static("derp"),
        );
        let ws = match tungstenite::client::client_with_config(request, t, Some(ws_config())) {
            Ok((ws, _)) => ws,
            Err(HandshakeError::Interrupted(_)) => {
                return Err(ConnError::Timeout(
                    "websocket upgrade: timed out before the deadline".to_string(),
                ))
            }
            Err(HandshakeError::Failure(tungstenite::Error::Http(resp))) => {
                let body = resp.body().as_deref().unwrap_or_default();
                return Err(ConnError::Refused(
                    format!("websocket upgrade refused: HTTP {}", resp.status()),
                    Evidence::UpgradeRefused {
                        status: resp.status().as_u16(),
                        body_start: crate::text::snippet(&String::from_utf8_lossy(body), 120),
                    },
                ));
            }
            Err(HandshakeError::Failure(tungstenite::Error::Io(e))) => {
                return Err(io_err("websocket upgrade", e))
            }
            Err(HandshakeError::Failure(e)) => {
                return Err(ConnError::Other(format!("websocket upgrade: {e}")))
            }
        };
        let start = Handshake {
            relay: target.host_header(),
            announced: None,
            upgrade_hint: None,
        };
        DerpConn::handshake(Io::Ws(Box::new(ws)), Vec::new(), start, deadline)
    }

    fn handshake(
        io: Io,
        rest: Vec<u8>,
        start: Handshake,
        deadline: Instant,
    ) -> Result<DerpConn, ConnError> {
        let mut conn = DerpConn {
            io,
            buf: rest,
            identity: Identity::generate(),
            server_key: [0; p::KEY_LEN],
            server_info: ServerInfo::default(),
            notes: Vec::new(),
            dropped_notes: 0,
        };
        // An Upgrade header other than DERP explains a first frame that is not DERP.
        let hint = |text: String| match &start.upgrade_hint {
            Some(h) => format!("{text} ({h})"),
            None => text,
        };
        let (kind, payload) =
            conn.read_frame(p::MAX_SERVER_KEY_LEN, deadline)
                .map_err(|e| match e {
                    ConnError::Other(s) if s.contains("over the") => {
                        ConnError::Other(hint(format!("not a DERP server: {s}")))
                    }
                    ConnError::Timeout(_) => ConnError::Timeout(hint(
                        "the relay sent no ServerKey frame before the deadline".to_string(),
                    )),
                    ConnError::Closed(s) => ConnError::Closed(hint(format!(
                        "handshake, waiting for the ServerKey: {s}"
                    ))),
                    other => other,
                })?;
        conn.server_key =
            p::parse_server_key(kind, &payload).map_err(|e| ConnError::Other(hint(e)))?;
        if let Some(announced) = &start.announced {
            if !announced.eq_ignore_ascii_case(&p::hex(&conn.server_key)) {
                return Err(ConnError::Other(format!(
                    "the Derp-Public-Key header ({announced}) differs from the ServerKey frame's key"
                )));
            }
        }
        let info = conn
            .identity
            .client_info(&conn.server_key)
            .map_err(ConnError::Other)?;
        conn.write(&p::frame(p::FRAME_CLIENT_INFO, &info), deadline)
            .map_err(|e| start.rejected(e, "as we sent ClientInfo"))?;
        // The server registers our key before it sends ServerInfo, so waiting for it avoids
        // sending to a peer that is not there yet.
        loop {
            let (kind, payload) = conn
                .read_frame(p::MAX_FRAME_LEN, deadline)
                .map_err(|e| start.rejected(e, "before ServerInfo"))?;
            if kind == p::FRAME_SERVER_INFO {
                conn.server_info = conn
                    .identity
                    .open_server_info(&conn.server_key, &payload)
                    .map_err(ConnError::Other)?;
                return Ok(conn);
            }
            conn.note_frame(kind, &payload, deadline)?;
        }
    }

    /// Handles frames other than packets: answers pings, records what the server says.
    pub fn note_frame(
        &mut self,
        kind: u8,
        payload: &[u8],
        deadline: Instant,
    ) -> Result<(), ConnError> {
        match kind {
            p::FRAME_PING if payload.len() >= 8 => {
                let pong = p::frame(p::FRAME_PONG, &payload[..8]);
                self.write(&pong, deadline)?;
            }
            p::FRAME_HEALTH if !payload.is_empty() => {
                let text = &payload[..payload.len().min(MAX_HEALTH_BYTES)];
                self.note(format!(
                    "relay reports a problem: {}",
                    String::from_utf8_lossy(text)
                ))
            }
            p::FRAME_PEER_GONE if payload.len() >= p::KEY_LEN => {
                let reason = match payload.get(p::KEY_LEN) {
                    Some(1) => "not here",
                    _ => "disconnected",
                };
                let mut key = [0u8; p::KEY_LEN];
                key.copy_from_slice(&payload[..p::KEY_LEN]);
                self.note(format!("peer gone ({reason}): {}", p::short_key(&key)));
            }
            p::FRAME_RESTARTING => {
                return Err(ConnError::Other(
                    "the relay announced it is restarting".to_string(),
                ))
            }
            p::FRAME_KEEP_ALIVE => {}
            // PeerPresent, Pong and unknown types: nothing to do.
            _ => {}
        }
        Ok(())
    }

    /// Keeps a note, short, unless it repeats one kept or the cap is reached.
    fn note(&mut self, text: String) {
        let text = crate::text::snippet(&text, MAX_NOTE_CHARS);
        if self.notes.len() >= MAX_NOTES || self.notes.contains(&text) {
            self.dropped_notes += 1;
        } else {
            self.notes.push(text);
        }
    }

    /// The notes kept, and how many more (or repeated) ones the relay sent.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = self.notes.clone();
        if self.dropped_notes > 0 {
            notes.push(format!(
                "{} more (or repeated) notes from the relay not kept",
                self.dropped_notes
            ));
        }
        notes
    }

    pub fn write(&mut self, bytes: &[u8], deadline: Instant) -> Result<(), ConnError> {
        match &mut self.io {
            Io::Raw(t) => {
                t.arm(deadline)
                    .map_err(|e| io_err("write to the relay", e))?;
                t.write_all(bytes)
                    .and_then(|_| t.flush())
                    .map_err(|e| io_err("write to the relay", e))
            }
            Io::Ws(ws) => {
                ws.get_mut()
                    .arm(deadline)
                    .map_err(|e| io_err("write to the relay", e))?;
                ws.send(WsMessage::Binary(bytes.to_vec().into()))
                    .map_err(|e| ws_err("write to the relay", e))
            }
        }
    }

    /// Reads one frame (type, payload), refusing payloads over `cap`.
    pub fn read_frame(
        &mut self,
        cap: usize,
        deadline: Instant,
    ) -> Result<(u8, Vec<u8>), ConnError> {
        self.fill(p::HEADER_LEN, deadline)?;
        let mut header = [0u8; p::HEADER_LEN];
        header.copy_from_slice(&self.buf[..p::HEADER_LEN]);
        let (kind, len) = p::parse_header(&header, cap).map_err(ConnError::Other)?;
        self.fill(p::HEADER_LEN + len, deadline)?;
        let payload = self.buf[p::HEADER_LEN..p::HEADER_LEN + len].to_vec();
        self.buf.drain(..p::HEADER_LEN + len);
        Ok((kind, payload))
    }

    fn fill(&mut self, need: usize, deadline: Instant) -> Result<(), ConnError> {
        while self.buf.len() < need {
            match &mut self.io {
                Io::Raw(t) => {
                    t.arm(deadline)
                        .map_err(|e| io_err("read from the relay", e))?;
                    let mut chunk = [0u8; 16 * 1024];
                    let n = t
                        .read(&mut chunk)
                        .map_err(|e| io_err("read from the relay", e))?;
                    if n == 0 {
                        return Err(ConnError::Closed(
                            "read from the relay: the relay closed the connection".to_string(),
                        ));
                    }
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                Io::Ws(ws) => {
                    ws.get_mut()
                        .arm(deadline)
                        .map_err(|e| io_err("read from the relay", e))?;
                    match ws.read().map_err(|e| ws_err("read from the relay", e))? {
                        WsMessage::Binary(data) => self.buf.extend_from_slice(&data),
                        WsMessage::Text(_) => {
                            return Err(ConnError::Other(
                                "the relay sent a WebSocket text message; DERP uses binary"
                                    .to_string(),
                            ))
                        }
                        WsMessage::Close(_) => {
                            return Err(ConnError::Closed(
                                "the relay closed the WebSocket".to_string(),
                            ))
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }
}

fn ws_err(what: &str, e: tungstenite::Error) -> ConnError {
    match e {
        tungstenite::Error::Io(e) => io_err(what, e),
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            ConnError::Closed(format!("{what}: the relay closed the WebSocket"))
        }
        other => ConnError::Other(format!("{what}: {other}")),
    }
}

/// What the handshake knows from the upgrade, for its messages and checks.
pub(crate) struct Handshake {
    /// host[:port], naming the relay in findings.
    relay: String,
    /// The 101's `Derp-Public-Key`.
    announced: Option<String>,
    /// Set when the 101's `Upgrade` header is not DERP.
    upgrade_hint: Option<String>,
}

impl Handshake {
    /// After a valid ServerKey, a close (`step` says when) or silence is the relay turning our
    /// client handshake down; other errors keep their own words.
    fn rejected(&self, e: ConnError, step: &str) -> ConnError {
        let how = match &e {
            ConnError::Closed(_) => {
                format!("rejected the client handshake (it closed the connection {step})")
            }
            ConnError::Timeout(_) => {
                "never answered the client handshake (no ServerInfo before the deadline)".into()
            }
            _ => return e,
        };
        ConnError::Rejected(format!(
            "the relay at {} accepted the upgrade and sent its ServerKey, but {how}: it may not be \
             a Tailscale-compatible DERP relay, or it admits only known clients",
            self.relay
        ))
    }
}

/// Reads the answer to the upgrade: 101 gives what the handshake checks (the announced key, the
/// `Upgrade` header) and any bytes that already belong to the DERP stream; anything else is a
/// failure, a 4xx one Coder's WebSocket cue.
fn read_upgrade_response(
    t: &mut Transport,
    relay: String,
    deadline: Instant,
) -> Result<(Handshake, Vec<u8>), ConnError> {
    let mut buf = Vec::new();
    loop {
        if let Some((start, head_len)) = parse_upgrade_response(&buf, &relay)? {
            return Ok((start, buf[head_len..].to_vec()));
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Err(ConnError::Other(
                "the HTTP response head to the DERP upgrade is too large".to_string(),
            ));
        }
        t.arm(deadline)
            .map_err(|e| io_err("read the upgrade response", e))?;
        let mut chunk = [0u8; 4096];
        let n = t
            .read(&mut chunk)
            .map_err(|e| io_err("read the upgrade response", e))?;
        if n == 0 {
            return Err(ConnError::Other(if buf.is_empty() {
                "the relay closed the connection without answering the upgrade".to_string()
            } else {
                "the relay closed the connection in the middle of its HTTP response".to_string()
            }));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The upgrade answer in `buf`, if it is all there: `None` while the head is incomplete, the
/// handshake facts and the head's length for a 101, an error for anything else. Pure, so it is
/// fuzzed (`crate::fuzzing`).
pub(crate) fn parse_upgrade_response(
    buf: &[u8],
    relay: &str,
) -> Result<Option<(Handshake, usize)>, ConnError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(buf) {
        Ok(httparse::Status::Complete(head_len)) => {
            let status = response.code.unwrap_or(0);
            let header = |name: &str| {
                response
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case(name))
                    .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
            };
            if status == 101 {
                let upgrade_hint = match header("Upgrade") {
                    Some(u) if u.eq_ignore_ascii_case("derp") => None,
                    Some(u) => Some(format!(
                        "its 101 response names Upgrade: {}, not DERP",
                        crate::text::snippet(&u, 60)
                    )),
                    None => Some("its 101 response has no Upgrade header".to_string()),
                };
                let start = Handshake {
                    relay: relay.to_string(),
                    announced: header("Derp-Public-Key"),
                    upgrade_hint,
                };
                return Ok(Some((start, head_len)));
            }
            let reason = crate::text::snippet(response.reason.unwrap_or(""), 60);
            // Only what already arrived: a body without Content-Length may never end.
            let body = crate::text::snippet(&String::from_utf8_lossy(&buf[head_len..]), 120);
            let mut text = format!("unexpected HTTP response {status} {reason} to Upgrade: DERP");
            if !body.is_empty() {
                text.push_str(&format!(" ({body})"));
            }
            let evidence = Evidence::UpgradeRefused {
                status,
                body_start: body,
            };
            Err(if (400..500).contains(&status) {
                ConnError::Refused4xx(text, evidence)
            } else {
                ConnError::Refused(text, evidence)
            })
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => {
            let start = crate::text::snippet(&String::from_utf8_lossy(buf), 60);
            Err(ConnError::Other(format!(
                "not an HTTP response to the DERP upgrade ({e}): {start:?}"
            )))
        }
    }
}
