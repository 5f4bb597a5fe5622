//! Byte transports for DERP: TCP or TLS (ALPN http/1.1) from `net::conn`, whose deadline stream
//! bounds every read and write (including each step of TLS and WebSocket loops), with the
//! failures worded the way Coder's DERP client words them.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use rustls::ClientConfig;

use crate::net::conn::{self, DialError, LookupError};
use crate::report::Evidence;

pub use crate::net::conn::{is_timeout, Conn as Transport};

/// Resolves a host under the deadline.
pub fn resolve(host: &str, port: u16, deadline: Instant) -> Result<Vec<SocketAddr>, String> {
    conn::resolve(host, port, deadline).map_err(|e| lookup_text(host, &e))
}

fn lookup_text(host: &str, e: &LookupError) -> String {
    match e {
        LookupError::TimedOut => format!("lookup {host}: timed out"),
        LookupError::NoAddresses => format!("lookup {host}: no addresses"),
        LookupError::Failed(e) => format!("lookup {host}: {e}"),
    }
}

/// TCP (and TLS when `tls` is given) to host:port under the deadline.
pub fn dial(
    host: &str,
    port: u16,
    tls: Option<Arc<ClientConfig>>,
    proxy: Option<&crate::net::proxy::ProxyUrl>,
    deadline: Instant,
) -> Result<Transport, (String, Option<Evidence>)> {
    let mut transport = conn::dial_via(host, port, tls, proxy, deadline).map_err(|e| {
        let evidence = e.evidence(host, port);
        let text = match e {
            DialError::Lookup(e) => lookup_text(host, &e),
            DialError::Deadline => format!("dial {host}:{port}: deadline reached"),
            DialError::Connect(addr, e) if is_timeout(&e) => {
                format!("dial tcp {addr}: i/o timeout")
            }
            DialError::Connect(addr, e) => format!("dial tcp {addr}: {e}"),
            DialError::TlsName(e) => format!("TLS server name {host:?}: {e}"),
            DialError::Tls(e) => tls_error_text(&e),
            DialError::Proxy(e) => e.message,
        };
        (text, evidence)
    })?;
    transport
        .arm(deadline)
        .map_err(|e| (format!("socket setup: {e}"), None))?;
    Ok(transport)
}

fn tls_error_text(e: &io::Error) -> String {
    if is_timeout(e) {
        return "TLS handshake: timed out".to_string();
    }
    match crate::net::tls::find_tls_error(e) {
        Some(tls) => crate::net::tls::describe_tls_error(tls),
        None => format!("TLS handshake: {e}"),
    }
}
