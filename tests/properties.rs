//! Property tests for the DSN parser and redaction: for arbitrary passwords, a parsed and
//! re-displayed DSN never contains the password, `password_of` finds it, and neither the
//! scrubber nor `redact_url` lets it through.

use healthcheck::net::dsn::{password_of, Dsn};
use healthcheck::redact::{redact_url, Secrets};
use proptest::prelude::*;

/// Percent-encodes everything but unreserved characters, as a DSN URI needs.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Quotes a key=value DSN value: single quotes, with `\` and `'` escaped.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Passwords start with `Pw`: no other part of a DSN or its display (lower-case names, the
/// `[REDACTED]` marker) holds a `P`, so "contains the password" cannot be a coincidence.
fn password() -> impl Strategy<Value = String> {
    "\\PC{0,40}".prop_map(|rest| format!("Pw{rest}"))
}

fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,12}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,10}(\\.[a-z]{2,5}){0,2}",
        Just("127.0.0.1".to_string()),
        Just("[::1]".to_string()),
    ]
}

fn sslmode() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "disable",
        "allow",
        "prefer",
        "require",
        "verify-ca",
        "verify-full",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn uri_dsns_never_display_their_password(
        pw in password(), user in name(), host in host(), db in name(),
        port in 1u16.., mode in sslmode(),
    ) {
        let raw = format!("postgres://{user}:{}@{host}:{port}/{db}?sslmode={mode}", encode(&pw));
        let dsn = Dsn::parse(&raw).unwrap();
        prop_assert_eq!(dsn.password.as_deref(), Some(pw.as_str()));
        prop_assert_eq!(password_of(&raw), Some(pw.clone()));
        let shown = dsn.to_string();
        prop_assert!(!shown.contains(&pw), "{shown}");
        prop_assert!(!shown.contains(&encode(&pw)), "{shown}");
        let debug = format!("{:?}", dsn);
        prop_assert!(!debug.contains(&pw), "{}", debug);
    }

    #[test]
    fn key_value_dsns_never_display_their_password(
        pw in password(), user in name(), host in host(), db in name(), mode in sslmode(),
    ) {
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let raw = format!(
            "host={host} user={user} password={} dbname={db} sslmode={mode}",
            quote(&pw)
        );
        let dsn = Dsn::parse(&raw).unwrap();
        prop_assert_eq!(dsn.password.as_deref(), Some(pw.as_str()));
        prop_assert_eq!(password_of(&raw), Some(pw.clone()));
        prop_assert!(!dsn.to_string().contains(&pw), "{dsn}");
    }

    #[test]
    fn broken_dsns_never_quote_their_password(pw in password(), junk in "[a-z =]{0,20}") {
        // Parse errors must not echo values (the password may be one).
        for raw in [
            format!("postgres://u:{}@h:notaport/db", encode(&pw)),
            format!("host=h password={} sslmode=bogus {junk}", quote(&pw)),
            format!("postgres://u:{}@h/db?sslmode=bogus", encode(&pw)),
        ] {
            if let Err(e) = Dsn::parse(&raw) {
                prop_assert!(!e.contains(&pw), "{e}");
                prop_assert!(!e.contains(&encode(&pw)), "{e}");
            }
            prop_assert_eq!(password_of(&raw), Some(pw.clone()), "{}", raw);
        }
    }

    #[test]
    fn the_scrubber_removes_every_spelling(
        pw in password().prop_filter("scrubbed from 4 chars", |p| p.len() >= 4),
        before in "[a-z :/\"]{0,20}", after in "[a-z :/\"]{0,20}",
    ) {
        let secrets = Secrets::collect(Some(&pw), [], []);
        for spelling in [
            pw.clone(),
            encode(&pw),
            serde_json::to_string(&pw).unwrap().trim_matches('"').to_string(),
        ] {
            let text = format!("{before}{spelling}{after}");
            let clean = secrets.scrub(&text);
            prop_assert!(!clean.contains(&pw), "{clean}");
            prop_assert!(!clean.contains(&spelling), "{clean}");
        }
    }

    #[test]
    fn redact_url_never_leaks_the_password(
        pw in password(), user in name(), host in host(),
        scheme in prop::sample::select(vec!["http", "https", "postgres", "x-custom", "ht tp"]),
        path in "(/[a-z0-9]{0,8}){0,3}", query in proptest::option::of("[a-z]=[0-9]{3,10}"),
    ) {
        let query = query.map(|q| format!("?{q}")).unwrap_or_default();
        let raw = format!("{scheme}://{user}:{}@{host}{path}{query}", encode(&pw));
        let shown = redact_url(&raw);
        prop_assert!(!shown.contains(&pw), "{raw} -> {shown}");
        prop_assert!(!shown.contains(&encode(&pw)), "{raw} -> {shown}");
        if !query.is_empty() && scheme != "postgres" {
            // The whole `k=v` (its digits alone may also be in the host).
            prop_assert!(!shown.contains(&query[1..]), "{raw} -> {shown}");
        }
        if !query.is_empty() && scheme == "postgres" {
            // A DSN's settings (sslmode=...) stay readable (issue 22); only passwords go.
            prop_assert!(shown.contains(&query[1..]), "{raw} -> {shown}");
        }
    }
}
