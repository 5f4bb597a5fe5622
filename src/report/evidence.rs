//! What a check observed when it made a finding: the kind of failure as data, filled from the
//! network layer's own error kinds (an io error kind, a rustls certificate error, an HTTP status,
//! a SQLSTATE), so the diagnosis and other readers match on it instead of on words. In the JSON it
//! is an object whose `kind` is one of the spellings of cli.md ("dns", "refused", "timeout",
//! "tls_untrusted", ...), beside the fields of that kind.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

/// One observation behind a finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Evidence {
    /// The name did not resolve; `detail` is the resolver's own words.
    Dns { host: String, detail: String },
    /// The connection was refused: nothing listens at `address`.
    Refused { address: String },
    /// No route to the address (host or network unreachable).
    Unreachable { address: String },
    /// No answer within the deadline, in one phase of the exchange.
    Timeout { address: String, phase: Phase },
    /// The TLS handshake with `address` failed, for `problem`.
    Tls {
        address: String,
        problem: TlsProblem,
    },
    /// An HTTP answer with an unexpected status; `body_start` is the first bytes of its body.
    HttpStatus { status: u16, body_start: String },
    /// A WebSocket upgrade answered with something other than 101.
    UpgradeRefused { status: u16, body_start: String },
    /// PostgreSQL answered with an error: its SQLSTATE and message.
    PgSqlstate { code: String, message: String },
    /// The forward proxy (credentials redacted) refused CONNECT, with `status` when it is known
    /// (407: it wants, or rejected, credentials).
    ProxyRefused { proxy: String, status: Option<u16> },
}

/// Which step of an exchange got no answer in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The name lookup.
    Lookup,
    /// The TCP connect: nothing answered the SYN.
    Connect,
    /// The TLS handshake.
    Tls,
    /// Waiting for the answer to a request (HTTP, an upgrade, a query).
    Answer,
}

/// Why a TLS handshake failed, as rustls and the sent chain tell it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsProblem {
    /// The chain leads to no trusted root (the server sent its intermediates, or a self-signed
    /// certificate): a private CA that needs `--ca-cert`. `issuer` is the leaf's issuer.
    Untrusted { issuer: Option<String> },
    /// The server sent only its leaf, not self-signed, whose issuer is no trusted root: most
    /// likely the intermediate is missing from the server's configuration; else `issuer` is a
    /// private CA this host does not trust (the sent chain cannot tell the two apart).
    IncompleteChain { issuer: String },
    /// `not_after` is RFC 3339, when rustls reports it.
    Expired { not_after: Option<String> },
    /// `not_before` is RFC 3339, when rustls reports it.
    NotYetValid { not_before: Option<String> },
    /// The certificate is not issued for the name asked for.
    NameMismatch,
    /// The peer does not speak TLS (an HTTP answer to a ClientHello, garbage).
    NotTls,
    /// Anything else (an alert, a revoked or malformed certificate), in rustls's words.
    Other { detail: String },
}

impl Evidence {
    /// The JSON spelling of this kind (cli.md, "Diagnosis").
    pub fn kind(&self) -> &'static str {
        match self {
            Evidence::Dns { .. } => "dns",
            Evidence::Refused { .. } => "refused",
            Evidence::Unreachable { .. } => "unreachable",
            Evidence::Timeout { .. } => "timeout",
            Evidence::Tls { problem, .. } => problem.kind(),
            Evidence::HttpStatus { .. } => "http_status",
            Evidence::UpgradeRefused { .. } => "upgrade_refused",
            Evidence::PgSqlstate { .. } => "pg_sqlstate",
            Evidence::ProxyRefused { .. } => "proxy_refused",
        }
    }

    /// The TLS problem, when this is TLS evidence.
    pub fn tls(&self) -> Option<&TlsProblem> {
        match self {
            Evidence::Tls { problem, .. } => Some(problem),
            _ => None,
        }
    }
}

impl TlsProblem {
    pub fn kind(&self) -> &'static str {
        match self {
            TlsProblem::Untrusted { .. } => "tls_untrusted",
            TlsProblem::IncompleteChain { .. } => "tls_incomplete_chain",
            TlsProblem::Expired { .. } => "tls_expired",
            TlsProblem::NotYetValid { .. } => "tls_not_yet_valid",
            TlsProblem::NameMismatch => "tls_name_mismatch",
            TlsProblem::NotTls => "tls_not_tls",
            TlsProblem::Other { .. } => "tls_other",
        }
    }
}

/// `{"kind": "...", <the kind's fields>}`; absent optional fields are left out.
impl Serialize for Evidence {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("kind", self.kind())?;
        match self {
            Evidence::Dns { host, detail } => {
                map.serialize_entry("host", host)?;
                map.serialize_entry("detail", detail)?;
            }
            Evidence::Refused { address } | Evidence::Unreachable { address } => {
                map.serialize_entry("address", address)?;
            }
            Evidence::Timeout { address, phase } => {
                map.serialize_entry("address", address)?;
                map.serialize_entry("phase", phase)?;
            }
            Evidence::Tls { address, problem } => {
                map.serialize_entry("address", address)?;
                match problem {
                    TlsProblem::Expired {
                        not_after: Some(at),
                    } => map.serialize_entry("not_after", at)?,
                    TlsProblem::NotYetValid {
                        not_before: Some(at),
                    } => map.serialize_entry("not_before", at)?,
                    TlsProblem::Other { detail } => map.serialize_entry("detail", detail)?,
                    TlsProblem::Untrusted {
                        issuer: Some(issuer),
                    }
                    | TlsProblem::IncompleteChain { issuer } => {
                        map.serialize_entry("issuer", issuer)?
                    }
                    _ => {}
                }
            }
            Evidence::HttpStatus { status, body_start }
            | Evidence::UpgradeRefused { status, body_start } => {
                map.serialize_entry("status", status)?;
                map.serialize_entry("body_start", body_start)?;
            }
            Evidence::PgSqlstate { code, message } => {
                map.serialize_entry("sqlstate", code)?;
                map.serialize_entry("message", message)?;
            }
            Evidence::ProxyRefused { proxy, status } => {
                map.serialize_entry("proxy", proxy)?;
                if let Some(status) = status {
                    map.serialize_entry("status", status)?;
                }
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_spelled_as_the_spec_says() {
        let tls = |problem| Evidence::Tls {
            address: "a:443".into(),
            problem,
        };
        let cases = [
            (
                Evidence::Dns {
                    host: "h".into(),
                    detail: "no such host".into(),
                },
                "dns",
            ),
            (
                Evidence::Refused {
                    address: "127.0.0.1:1".into(),
                },
                "refused",
            ),
            (
                Evidence::Timeout {
                    address: "a:1".into(),
                    phase: Phase::Connect,
                },
                "timeout",
            ),
            (tls(TlsProblem::Untrusted { issuer: None }), "tls_untrusted"),
            (
                tls(TlsProblem::IncompleteChain {
                    issuer: "CN=R11".into(),
                }),
                "tls_incomplete_chain",
            ),
            (tls(TlsProblem::Expired { not_after: None }), "tls_expired"),
            (
                tls(TlsProblem::NotYetValid { not_before: None }),
                "tls_not_yet_valid",
            ),
            (tls(TlsProblem::NameMismatch), "tls_name_mismatch"),
            (
                Evidence::HttpStatus {
                    status: 502,
                    body_start: "Bad Gateway".into(),
                },
                "http_status",
            ),
            (
                Evidence::UpgradeRefused {
                    status: 400,
                    body_start: String::new(),
                },
                "upgrade_refused",
            ),
            (
                Evidence::PgSqlstate {
                    code: "28P01".into(),
                    message: "password authentication failed".into(),
                },
                "pg_sqlstate",
            ),
            (
                Evidence::ProxyRefused {
                    proxy: "http://proxy:3128".into(),
                    status: Some(403),
                },
                "proxy_refused",
            ),
        ];
        for (evidence, kind) in cases {
            let json = serde_json::to_value(&evidence).unwrap();
            assert_eq!(json["kind"], kind, "{json}");
        }
    }

    #[test]
    fn fields_sit_beside_the_kind() {
        let json = serde_json::to_value(Evidence::Tls {
            address: "coder.example.com:443".into(),
            problem: TlsProblem::Expired {
                not_after: Some("2026-01-01T00:00:00Z".into()),
            },
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "tls_expired", "address": "coder.example.com:443",
                "not_after": "2026-01-01T00:00:00Z"})
        );
        let json = serde_json::to_value(Evidence::Timeout {
            address: "10.0.0.1:443".into(),
            phase: Phase::Connect,
        })
        .unwrap();
        assert_eq!(json["phase"], "connect");
    }
}
