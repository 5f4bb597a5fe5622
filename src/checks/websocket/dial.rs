//! Opening a connection for a WebSocket under a deadline: DNS, TCP and TLS (ALPN http/1.1),
//! each failure described in plain words.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tungstenite::client::IntoClientRequest;
use tungstenite::http::Uri;
use tungstenite::ClientRequestBuilder;

use crate::duration::go_string;
use crate::net::conn::{DialError, LookupError};
use crate::net::tls::{describe_tls_error, find_tls_error};
use crate::redact::redact_url;
use crate::report::Evidence;

/// Where to dial: the access URL with its path replaced and its scheme mapped to ws/wss.
#[derive(Clone, Debug)]
pub struct Target {
    pub url: url::Url,
    /// For messages (credentials redacted).
    pub shown: String,
    pub tls: bool,
}

impl Target {
    /// Resolves `path` against the access URL as Coder does (an absolute path replaces the
    /// access URL's own path); `https` becomes `wss`, anything else `ws`.
    pub fn new(access_url: &url::Url, path: &str) -> Result<Target, String> {
        let mut url = access_url.join(path).map_err(|e| e.to_string())?;
        let tls = url.scheme() == "https";
        url.set_scheme(if tls { "wss" } else { "ws" })
            .map_err(|_| format!("cannot use scheme {:?} for a WebSocket", url.scheme()))?;
        // Credentials in the access URL are not a Coder login; never send or show them.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let shown = redact_url(url.as_str());
        Ok(Target { url, shown, tls })
    }

    /// `host:port`, for evidence.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host(), self.port())
    }

    fn host(&self) -> String {
        match self.url.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(host) => host.to_string(),
            None => String::new(),
        }
    }

    fn port(&self) -> u16 {
        self.url
            .port_or_known_default()
            .unwrap_or(if self.tls { 443 } else { 80 })
    }

    /// The upgrade request, with extra headers and an optional subprotocol.
    pub fn request(
        &self,
        headers: &[(&str, &str)],
        subprotocol: Option<&str>,
    ) -> Result<tungstenite::handshake::client::Request, String> {
        let uri: Uri = self
            .url
            .as_str()
            .parse()
            .map_err(|e| format!("{}: {e}", self.shown))?;
        let mut builder = ClientRequestBuilder::new(uri);
        for (name, value) in headers {
            builder = builder.with_header(*name, *value);
        }
        if let Some(protocol) = subprotocol {
            builder = builder.with_sub_protocol(protocol);
        }
        builder
            .into_client_request()
            .map_err(|e| format!("cannot build the upgrade request for {}: {e}", self.shown))
    }
}

pub use crate::net::conn::{is_timeout, Conn};

/// A WebSocket that could not be opened: plain words, and what was observed.
#[derive(Debug)]
pub struct Failure {
    pub why: String,
    pub evidence: Option<Evidence>,
}

impl Failure {
    pub fn new(why: String, evidence: Option<Evidence>) -> Failure {
        Failure { why, evidence }
    }
}

/// DNS, TCP and (for wss) the TLS handshake, all before `deadline`. `timeout` is only for words.
pub fn connect(
    net: &crate::net::Net,
    target: &Target,
    deadline: Instant,
    timeout: Duration,
) -> Result<Conn, Failure> {
    let host = target.host();
    // Only wss reads the trust store (see `Tls`).
    let tls = target.tls.then(|| net.tls.http1_config());
    let what = format!("WebSocket {}", target.shown);
    net.dial(&what, &host, target.port(), tls, deadline)
        .map_err(|e| {
            let evidence = e.evidence(&host, target.port());
            Failure::new(words(e, &host, timeout), evidence)
        })
}

/// Plain words for a failed dial of `host`.
fn words(e: DialError, host: &str, timeout: Duration) -> String {
    match e {
        DialError::Lookup(LookupError::TimedOut) => {
            format!("DNS lookup of {host:?} {}", timed_out_words(timeout))
        }
        DialError::Lookup(LookupError::NoAddresses) => {
            format!("DNS lookup of {host:?} returned no addresses")
        }
        DialError::Lookup(LookupError::Failed(e)) => {
            format!("DNS lookup of {host:?} failed: {e}")
        }
        DialError::Deadline => timed_out("connecting", timeout),
        DialError::Connect(addr, e) => describe_connect_error(&addr, &e, timeout),
        DialError::TlsName(e) => format!("{host:?} cannot be used as a TLS server name: {e}"),
        DialError::Tls(e) => describe_io("TLS handshake with", host, &e, timeout),
        DialError::Proxy(e) => e.message,
    }
}

pub fn timed_out_words(timeout: Duration) -> String {
    format!("did not finish within the {} deadline", go_string(timeout))
}

fn timed_out(doing: &str, timeout: Duration) -> String {
    format!("timed out {doing} ({} deadline)", go_string(timeout))
}

fn describe_connect_error(addr: &SocketAddr, e: &io::Error, timeout: Duration) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => {
            format!("connect to {addr}: connection refused (nothing is listening there)")
        }
        _ if is_timeout(e) => format!("connect to {addr}: {}", timed_out_words(timeout)),
        _ => format!("connect to {addr}: {e}"),
    }
}

/// Plain words for an I/O failure: TLS problems, timeouts, a peer that hung up.
pub fn describe_io(doing: &str, what: &str, e: &io::Error, timeout: Duration) -> String {
    let doing = if what.is_empty() {
        doing.to_string()
    } else {
        format!("{doing} {what}")
    };
    let text = if let Some(tls) = find_tls_error(e) {
        describe_tls_error(tls)
    } else if is_timeout(e) {
        format!("no answer within the {} deadline", go_string(timeout))
    } else {
        match e.kind() {
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe => {
                format!("the server closed the connection ({e})")
            }
            _ => e.to_string(),
        }
    };
    prefixed(&doing, text)
}

/// Plain words for a tungstenite error outside the handshake's HTTP refusal; `doing` (may be
/// empty) prefixes the text.
pub fn describe_ws_error(doing: &str, e: &tungstenite::Error, timeout: Duration) -> String {
    use tungstenite::error::{ProtocolError, SubProtocolError};
    use tungstenite::Error as E;
    let text = match e {
        E::Io(io) => return describe_io(doing, "", io, timeout),
        E::Tls(tls) => format!("TLS error: {tls}"),
        E::ConnectionClosed | E::AlreadyClosed => "the connection is closed".to_string(),
        E::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            "the server closed the connection without a WebSocket close frame".to_string()
        }
        E::Protocol(ProtocolError::HandshakeIncomplete) => {
            "the server closed the connection before answering the upgrade".to_string()
        }
        E::Protocol(ProtocolError::SecWebSocketSubProtocolError(
            SubProtocolError::NoSubProtocol,
        )) => "the server switched protocols but did not agree to the requested subprotocol"
            .to_string(),
        E::Protocol(p) => format!("the answer is not valid WebSocket: {p}"),
        other => other.to_string(),
    };
    prefixed(doing, text)
}

fn prefixed(doing: &str, text: String) -> String {
    if doing.is_empty() {
        text
    } else {
        format!("{doing}: {text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_replaces_path_and_maps_scheme() {
        let access =
            url::Url::parse("https://user:secret@coder.example.com:8443/prefix/?q=1").unwrap();
        let t = Target::new(&access, "/api/v2/debug/ws").unwrap();
        assert_eq!(
            t.url.as_str(),
            "wss://coder.example.com:8443/api/v2/debug/ws"
        );
        assert!(t.tls);
        assert!(!t.shown.contains("secret"));
        let plain = Target::new(&url::Url::parse("http://[::1]:3000").unwrap(), "/derp").unwrap();
        assert_eq!(plain.url.as_str(), "ws://[::1]:3000/derp");
        assert_eq!(plain.host(), "::1");
        assert_eq!(plain.port(), 3000);
        let default_port = Target::new(
            &url::Url::parse("https://coder.example.com").unwrap(),
            "/derp",
        )
        .unwrap();
        assert_eq!(default_port.port(), 443);
    }
}
