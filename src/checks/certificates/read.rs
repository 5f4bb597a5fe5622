//! Reads the leaf certificate of one endpoint with a handshake of our own (a verifier that
//! accepts anything and keeps the leaf: for reading only), and parses its names and dates.

use std::io::{Read, Write};
use std::time::Instant;

use time::OffsetDateTime;

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

/// A shown subject or issuer is cut to this many characters (a certificate may carry a
/// name of many kilobytes).
const MAX_NAME_CHARS: usize = 300;

/// The subject, issuer and validity of a DER certificate. The structure is walked by hand:
/// the `der` crate cannot represent a UTCTime before 1970, and RFC 5280 reads UTCTime years
/// 50-99 as 1950-1999 (an expired certificate from then must still be reported).
pub fn parse(der: &[u8]) -> Result<Leaf, String> {
    let bad = |what: &str| format!("the certificate does not parse: {what}");
    let (cert, _) = tlv(der, SEQUENCE).ok_or_else(|| bad("not a DER SEQUENCE"))?;
    let (tbs, _) = tlv(cert, SEQUENCE).ok_or_else(|| bad("no tbsCertificate"))?;
    let mut rest = tbs;
    // [0] EXPLICIT version, when present.
    if rest.first() == Some(&0xa0) {
        rest = tlv(rest, 0xa0).ok_or_else(|| bad("bad version"))?.1;
    }
    let (_serial, rest) = tlv(rest, INTEGER).ok_or_else(|| bad("no serial number"))?;
    let (_algorithm, rest) = tlv(rest, SEQUENCE).ok_or_else(|| bad("no signature algorithm"))?;
    let issuer_at = rest;
    let (_, rest) = tlv(rest, SEQUENCE).ok_or_else(|| bad("no issuer"))?;
    let issuer = &issuer_at[..issuer_at.len() - rest.len()];
    let (validity, rest) = tlv(rest, SEQUENCE).ok_or_else(|| bad("no validity"))?;
    let subject_at = rest;
    let (_, rest) = tlv(rest, SEQUENCE).ok_or_else(|| bad("no subject"))?;
    let subject = &subject_at[..subject_at.len() - rest.len()];
    let (not_before, after) = time_field(validity).map_err(|e| bad(&format!("notBefore: {e}")))?;
    let (not_after, _) = time_field(after).map_err(|e| bad(&format!("notAfter: {e}")))?;
    Ok(Leaf {
        subject: name(subject),
        issuer: name(issuer),
        not_before,
        not_after,
    })
}

const INTEGER: u8 = 0x02;
const SEQUENCE: u8 = 0x30;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// One DER element with tag `tag` at the start of `input`: its contents and what follows.
fn tlv(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&first, rest) = input.split_first()?;
    if first != tag {
        return None;
    }
    let (&len0, rest) = rest.split_first()?;
    let (len, rest) = if len0 < 0x80 {
        (len0 as usize, rest)
    } else {
        let n = (len0 & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// A name as RFC 4514 text (`CN=...,O=...`), cut to a readable length.
fn name(der: &[u8]) -> String {
    use x509_cert::der::Decode;
    match x509_cert::name::Name::from_der(der) {
        Ok(name) => crate::text::snippet(&name.to_string(), MAX_NAME_CHARS),
        Err(e) => format!("(a name that does not parse: {e})"),
    }
}

/// A UTCTime or GeneralizedTime at the start of `input`, and what follows.
fn time_field(input: &[u8]) -> Result<(OffsetDateTime, &[u8]), String> {
    let (tag, digits_from) = match input.first() {
        Some(&UTC_TIME) => (UTC_TIME, 2),
        Some(&GENERALIZED_TIME) => (GENERALIZED_TIME, 4),
        _ => return Err("not a UTCTime or GeneralizedTime".to_string()),
    };
    let (value, rest) = tlv(input, tag).ok_or("a truncated time")?;
    let text = std::str::from_utf8(value).map_err(|_| "a time that is not ASCII")?;
    Ok((parse_time(text, digits_from)?, rest))
}

/// `YYMMDDHHMM[SS]Z` (UTCTime, `year_digits` 2) or `YYYYMMDDHHMM[SS][.f]Z` (GeneralizedTime),
/// also with a `+hhmm`/`-hhmm` offset instead of `Z`, as BER allows.
fn parse_time(text: &str, year_digits: usize) -> Result<OffsetDateTime, String> {
    let bad = || format!("not a valid time: {:?}", crate::text::snippet(text, 40));
    // Both forms are ASCII; checking it first keeps every slice below on a char boundary.
    if !text.is_ascii() {
        return Err(bad());
    }
    let (main, offset) = if let Some(main) = text.strip_suffix('Z') {
        (main, 0i64)
    } else if text.len() > 5 && matches!(text.as_bytes()[text.len() - 5], b'+' | b'-') {
        let (main, zone) = text.split_at(text.len() - 5);
        let hours: i64 = zone[1..3].parse().map_err(|_| bad())?;
        let minutes: i64 = zone[3..].parse().map_err(|_| bad())?;
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        (main, sign * (hours * 3600 + minutes * 60))
    } else {
        return Err(bad());
    };
    // Fractions of a second say nothing about expiry in days.
    let main = main.split(['.', ',']).next().unwrap_or_default();
    if !main.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let digits = |from: usize, len: usize| -> Result<i32, String> {
        main.get(from..from + len)
            .and_then(|d| d.parse().ok())
            .ok_or_else(bad)
    };
    let year = match year_digits {
        // RFC 5280 4.1.2.5.1: 50-99 are 1950-1999, 00-49 are 2000-2049.
        2 => match digits(0, 2)? {
            y @ 50..=99 => 1900 + y,
            y => 2000 + y,
        },
        _ => digits(0, 4)?,
    };
    let at = year_digits;
    let seconds = match main.len() - at {
        8 => 0,
        10 => digits(at + 8, 2)?,
        _ => return Err(bad()),
    };
    let month = time::Month::try_from(digits(at, 2)? as u8).map_err(|_| bad())?;
    let date =
        time::Date::from_calendar_date(year, month, digits(at + 2, 2)? as u8).map_err(|_| bad())?;
    // A leap second (60) is read as the end of that minute.
    let time = time::Time::from_hms(
        digits(at + 4, 2)? as u8,
        digits(at + 6, 2)? as u8,
        seconds.min(59) as u8,
    )
    .map_err(|_| bad())?;
    Ok(date.with_time(time).assume_utc() - time::Duration::seconds(offset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn utc_time_years_follow_rfc_5280() {
        assert_eq!(
            parse_time("500101000000Z", 2).unwrap(),
            datetime!(1950-01-01 0:00 UTC)
        );
        assert_eq!(
            parse_time("691231235959Z", 2).unwrap(),
            datetime!(1969-12-31 23:59:59 UTC)
        );
        assert_eq!(
            parse_time("491231235959Z", 2).unwrap(),
            datetime!(2049-12-31 23:59:59 UTC)
        );
        assert_eq!(
            parse_time("19600615120000Z", 4).unwrap(),
            datetime!(1960-06-15 12:00 UTC)
        );
        assert_eq!(
            parse_time("20300101000000.5Z", 4).unwrap(),
            datetime!(2030-01-01 0:00 UTC)
        );
        assert_eq!(
            parse_time("2501010000+0100", 2).unwrap(),
            datetime!(2024-12-31 23:00 UTC)
        );
        for bad in [
            "",
            "Z",
            "5001010000000Z",
            "501301000000Z",
            "50010100000aZ",
            "500101000000",
        ] {
            assert!(parse_time(bad, 2).is_err(), "{bad}");
        }
    }

    #[test]
    fn mangled_certificates_are_errors_not_panics() {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["coder.example".to_string()]).unwrap();
        let der = params.self_signed(&key).unwrap().der().to_vec();
        let leaf = parse(&der).unwrap();
        assert_eq!(leaf.subject, leaf.issuer);
        assert!(parse_time("+0\u{e9}0", 2).is_err());
        assert!(parse_time("50010100\u{e9}+0\u{e9}0", 2).is_err());
        // Every truncation, and each byte flipped in turn: an answer, never a panic.
        let mut seed = 0x2545_f491_u32;
        for cut in 0..der.len() {
            let _ = parse(&der[..cut]);
            let mut mangled = der.clone();
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            mangled[cut] ^= (seed as u8) | 1;
            let _ = parse(&mangled);
        }
    }

    #[test]
    fn truncated_or_foreign_der_is_an_error_not_a_panic() {
        for der in [
            &b""[..],
            b"\x30",
            b"\x30\x84\xff\xff\xff\xff",
            b"\x30\x03\x30\x01",
        ] {
            assert!(parse(der).is_err());
        }
    }
}
