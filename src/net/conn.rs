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
use crate::net::proxy::ProxyUrl;
use crate::report::{Evidence, Phase};

/// A proxy's answer to CONNECT is a status line and a few headers.
const MAX_CONNECT_RESPONSE: usize = 16 * 1024;

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
    /// The forward proxy (named, credentials redacted) could not open the tunnel.
    Proxy(ProxyError),
}

/// Why the forward proxy opened no tunnel: words, and what was observed.
#[derive(Debug)]
pub struct ProxyError {
    pub message: String,
    pub evidence: Option<Evidence>,
}

impl std::fmt::Display for ProxyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl DialError {
    /// What was observed, as data, for a dial of `host:port` (the kind of failure with the
    /// address it concerns).
    pub fn evidence(&self, host: &str, port: u16) -> Option<Evidence> {
        let address = format!("{host}:{port}");
        match self {
            DialError::Lookup(LookupError::TimedOut) => Some(Evidence::Timeout {
                address,
                phase: Phase::Lookup,
            }),
            DialError::Lookup(LookupError::NoAddresses) => Some(Evidence::Dns {
                host: host.to_string(),
                detail: "the name has no addresses".to_string(),
            }),
            DialError::Lookup(LookupError::Failed(e)) => Some(Evidence::Dns {
                host: host.to_string(),
                detail: e.to_string(),
            }),
            DialError::Deadline => None,
            DialError::Connect(addr, e) => io_evidence(&addr.to_string(), e, Phase::Connect),
            DialError::TlsName(_) => None,
            DialError::Tls(e) => io_evidence(&address, e, Phase::Tls),
            DialError::Proxy(e) => e.evidence.clone(),
        }
    }
}

/// The evidence of an I/O failure talking to `address` during `phase`: a TLS problem inside it,
/// a timeout, a refusal, no route.
pub fn io_evidence(address: &str, e: &io::Error, phase: Phase) -> Option<Evidence> {
    let address = address.to_string();
    if let Some(tls) = crate::net::tls::find_tls_error(e) {
        return Some(Evidence::Tls {
            address,
            problem: crate::net::tls::tls_problem(tls),
        });
    }
    if is_timeout(e) {
        return Some(Evidence::Timeout { address, phase });
    }
    match e.kind() {
        io::ErrorKind::ConnectionRefused => Some(Evidence::Refused { address }),
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
            Some(Evidence::Unreachable { address })
        }
        _ => None,
    }
}

/// DNS, TCP and, when `tls` is given, the TLS handshake, all before `deadline`.
pub fn dial(
    host: &str,
    port: u16,
    tls: Option<Arc<ClientConfig>>,
    deadline: Instant,
) -> Result<Conn, DialError> {
    dial_via(host, port, tls, None, deadline)
}

/// As `dial`, through an HTTP CONNECT tunnel when `proxy` is given: the proxy resolves and
/// reaches `host`; TLS runs end to end inside the tunnel.
pub fn dial_via(
    host: &str,
    port: u16,
    tls: Option<Arc<ClientConfig>>,
    proxy: Option<&ProxyUrl>,
    deadline: Instant,
) -> Result<Conn, DialError> {
    let tcp = match proxy {
        None => connect_tcp(host, port, deadline)?,
        Some(proxy) => tunnel(proxy, host, port, deadline)?,
    };
    match tls {
        None => Ok(Conn::Plain(tcp)),
        Some(config) => start_tls(tcp, host, config),
    }
}

/// DNS and TCP, trying each address until one connects.
pub fn connect_tcp(host: &str, port: u16, deadline: Instant) -> Result<DeadlineStream, DialError> {
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
    Ok(DeadlineStream::new(tcp, deadline))
}

/// The TLS handshake over an open stream, with `host` as the server name.
pub fn start_tls(
    tcp: DeadlineStream,
    host: &str,
    config: Arc<ClientConfig>,
) -> Result<Conn, DialError> {
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

/// Connects to the proxy and asks it for a tunnel to `host:port`.
fn tunnel(
    proxy: &ProxyUrl,
    host: &str,
    port: u16,
    deadline: Instant,
) -> Result<DeadlineStream, DialError> {
    let shown = proxy.shown();
    let mut tcp = connect_tcp(&proxy.host, proxy.port, deadline)
        .map_err(|e| DialError::Proxy(unreachable_proxy(proxy, &e)))?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let authority = if bare.contains(':') {
        format!("[{bare}]:{port}")
    } else {
        format!("{bare}:{port}")
    };
    let mut request = format!(
        "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: healthcheck/{}\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(auth) = proxy.authorization() {
        request.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
    }
    request.push_str("\r\n");
    let proxy_address = proxy.host_port();
    let failed = |doing: &str, e: io::Error| {
        let why = if is_timeout(&e) {
            "timed out".to_string()
        } else {
            e.to_string()
        };
        DialError::Proxy(ProxyError {
            message: format!("proxy {shown}: {doing}: {why}"),
            evidence: io_evidence(&proxy_address, &e, Phase::Answer),
        })
    };
    // The proxy answered, but not with a tunnel.
    let refused = |message: String, status: Option<u16>| {
        DialError::Proxy(ProxyError {
            message,
            evidence: Some(Evidence::ProxyRefused {
                proxy: shown.clone(),
                status,
            }),
        })
    };
    tcp.write_all(request.as_bytes())
        .and_then(|_| tcp.flush())
        .map_err(|e| failed("sending CONNECT", e))?;
    // Byte by byte, so nothing of the tunnel's own traffic is swallowed.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_CONNECT_RESPONSE {
            return Err(refused(
                format!(
                    "proxy {shown}: the answer to CONNECT is longer than {MAX_CONNECT_RESPONSE} bytes"
                ),
                None,
            ));
        }
        match tcp.read(&mut byte) {
            Ok(0) => {
                return Err(refused(
                    format!(
                        "proxy {shown}: closed the connection before answering CONNECT {authority}"
                    ),
                    None,
                ))
            }
            Ok(_) => head.push(byte[0]),
            Err(e) => return Err(failed("waiting for the answer to CONNECT", e)),
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; crate::net::proxy::client::MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let status = match response.parse(&head) {
        Ok(httparse::Status::Complete(_)) => response.code.unwrap_or(0),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(refused(
                format!(
                    "proxy {shown}: the answer to CONNECT has more than {} headers",
                    crate::net::proxy::client::MAX_HEADERS
                ),
                None,
            ))
        }
        _ => {
            return Err(refused(
                format!("proxy {shown}: the answer to CONNECT is not HTTP"),
                None,
            ))
        }
    };
    match status {
        200..=299 => Ok(tcp),
        // 407 is the standard answer; some proxies (tinyproxy) send 401.
        401 | 407 => Err(refused(
            format!(
                "proxy {shown} requires authentication ({status}){}",
                if proxy.authorization().is_some() {
                    ": it rejected the credentials in the proxy URL"
                } else {
                    ": put user:password in the proxy URL"
                }
            ),
            Some(status),
        )),
        other => Err(refused(
            format!(
                "proxy {shown} refused CONNECT {authority}: HTTP {other} {}",
                response.reason.unwrap_or_default()
            ),
            Some(other),
        )),
    }
}

/// Why the proxy itself (which we connect to directly) could not be reached.
pub(crate) fn unreachable_proxy(proxy: &ProxyUrl, e: &DialError) -> ProxyError {
    ProxyError {
        message: format!(
            "cannot reach proxy {}: {}",
            proxy.shown(),
            describe_short(e)
        ),
        evidence: e.evidence(&proxy.host, proxy.port),
    }
}

fn describe_short(e: &DialError) -> String {
    match e {
        DialError::Lookup(LookupError::TimedOut) => "name lookup timed out".to_string(),
        DialError::Lookup(LookupError::NoAddresses) => "name has no addresses".to_string(),
        DialError::Lookup(LookupError::Failed(e)) => format!("name lookup failed: {e}"),
        DialError::Deadline => "no time left before the deadline".to_string(),
        DialError::Connect(addr, e) if is_timeout(e) => format!("connect to {addr}: timed out"),
        DialError::Connect(addr, e) => format!("connect to {addr}: {e}"),
        DialError::TlsName(e) => e.clone(),
        DialError::Proxy(e) => e.message.clone(),
        DialError::Tls(e) => e.to_string(),
    }
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
