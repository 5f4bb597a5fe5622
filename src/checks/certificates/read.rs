//! Reads the leaf certificate of one endpoint with a handshake of our own (a verifier that
//! accepts anything and keeps the leaf: for reading only), and parses its names and dates.

use std::io::{Read, Write};
use std::time::Instant;

use der::Decode;
use time::OffsetDateTime;
use x509_cert::der;

use super::endpoints::{Endpoint, Kind};
use crate::net::conn::{self, DialError, LookupError};
use crate::net::tls::RecordingVerifier;
use crate::net::Net;

/// PostgreSQL's SSLRequest: length 8, then the code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// What a certificate says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leaf {
    pub subject: String,
    pub issuer: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

/// Why no certificate was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unread {
    /// The endpoint does not use TLS after all (PostgreSQL under `sslmode=prefer` without TLS).
    NoTls,
    Failed(String),
}

pub fn read(endpoint: &Endpoint, net: &Net, deadline: Instant) -> Result<Leaf, Unread> {
    let (config, recorder) = RecordingVerifier::config();
    let handshake = match endpoint.kind {
        Kind::Tls => net
            .dial(
                &format!("certificate of {}", endpoint.address()),
                &endpoint.host,
                endpoint.port,
                Some(config),
                deadline,
            )
            .map(drop),
        Kind::Postgres { required } => postgres_tls(endpoint, config, deadline, required)?,
    };
    // The leaf is kept even when the handshake failed after the certificate arrived.
    match (recorder.leaf(), handshake) {
        (Some(der), _) => parse(der.as_ref()).map_err(Unread::Failed),
        (None, Err(e)) => Err(Unread::Failed(describe(&e))),
        (None, Ok(())) => Err(Unread::Failed("the server sent no certificate".to_string())),
    }
}

/// SSLRequest, the server's one-byte answer, then TLS on the same connection.
fn postgres_tls(
    endpoint: &Endpoint,
    config: std::sync::Arc<rustls::ClientConfig>,
    deadline: Instant,
    required: bool,
) -> Result<Result<(), DialError>, Unread> {
    let mut tcp = conn::connect_tcp(&endpoint.host, endpoint.port, deadline)
        .map_err(|e| Unread::Failed(describe(&e)))?;
    let mut answer = [0u8; 1];
    tcp.write_all(&SSL_REQUEST)
        .and_then(|_| tcp.flush())
        .and_then(|_| tcp.read_exact(&mut answer))
        .map_err(|e| Unread::Failed(format!("PostgreSQL SSLRequest: {e}")))?;
    match answer[0] {
        b'S' => Ok(conn::start_tls(tcp, &endpoint.host, config).map(drop)),
        b'N' if required => Err(Unread::Failed(
            "the PostgreSQL server does not offer TLS, though the DSN's sslmode requires it"
                .to_string(),
        )),
        b'N' => Err(Unread::NoTls),
        other => Err(Unread::Failed(format!(
            "the answer to PostgreSQL's SSLRequest is not S or N (byte {other:#04x})"
        ))),
    }
}

fn describe(e: &DialError) -> String {
    match e {
        DialError::Lookup(LookupError::TimedOut) => "name lookup timed out".to_string(),
        DialError::Lookup(LookupError::NoAddresses) => "name has no addresses".to_string(),
        DialError::Lookup(LookupError::Failed(e)) => format!("name lookup failed: {e}"),
        DialError::Deadline => "no time left before the deadline".to_string(),
        DialError::Connect(addr, e) if conn::is_timeout(e) => {
            format!("connect to {addr}: timed out")
        }
        DialError::Connect(addr, e) => format!("connect to {addr}: {e}"),
        DialError::TlsName(e) => format!("not a TLS server name: {e}"),
        DialError::Tls(e) if conn::is_timeout(e) => "TLS handshake timed out".to_string(),
        DialError::Tls(e) => match crate::net::tls::find_tls_error(e) {
            Some(tls) => crate::net::tls::describe_tls_error(tls),
            None => format!("TLS handshake: {e}"),
        },
        DialError::Proxy(e) => e.message.clone(),
    }
}

/// The subject, issuer and validity of a DER certificate.
pub fn parse(der: &[u8]) -> Result<Leaf, String> {
    let cert = x509_cert::Certificate::from_der(der)
        .map_err(|e| format!("the certificate does not parse: {e}"))?;
    let tbs = &cert.tbs_certificate;
    let when = |t: x509_cert::time::Time| {
        OffsetDateTime::from_unix_timestamp(t.to_unix_duration().as_secs() as i64)
            .map_err(|e| format!("the certificate's date is out of range: {e}"))
    };
    Ok(Leaf {
        subject: tbs.subject.to_string(),
        issuer: tbs.issuer.to_string(),
        not_before: when(tbs.validity.not_before)?,
        not_after: when(tbs.validity.not_after)?,
    })
}
