//! Which TLS endpoints a run reaches, each with what uses it: the access URL, the DERP map URL
//! and DERP nodes over TLS, workspace proxies, and PostgreSQL unless `sslmode=disable`.

use crate::checks::derp;
use crate::checks::Context;
use crate::net::dsn::{Dsn, SslMode};
use crate::settings::AccessUrl;

/// How the TLS handshake starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// TLS from the first byte (HTTPS, WSS, DERP).
    Tls,
    /// PostgreSQL's SSLRequest first; `required`: the DSN's sslmode insists on TLS.
    Postgres { required: bool },
}

/// One place to read a certificate from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub kind: Kind,
    pub used_by: String,
}

impl Endpoint {
    /// `host:port`, with brackets for IPv6.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// An https URL as an endpoint (anything else uses no TLS).
pub fn from_url(url: &str, used_by: String) -> Option<Endpoint> {
    let url = url::Url::parse(url).ok()?;
    if !matches!(url.scheme(), "https" | "wss") {
        return None;
    }
    let host = match url.host()? {
        url::Host::Ipv6(ip) => ip.to_string(),
        host => host.to_string(),
    };
    Some(Endpoint {
        host,
        port: url.port_or_known_default().unwrap_or(443),
        kind: Kind::Tls,
        used_by,
    })
}

pub fn access_url(access: Option<&AccessUrl>) -> Vec<Endpoint> {
    access
        .and_then(|a| a.parsed().ok())
        .and_then(|url| from_url(url.as_str(), "access URL".to_string()))
        .into_iter()
        .collect()
}

/// The DERP map URL and every DERP node over TLS (the map as the DERP section builds it).
pub fn derp(options: &derp::Options, ctx: &Context) -> Vec<Endpoint> {
    let mut out = Vec::new();
    if let Some(url) = &options.derp.config_url {
        out.extend(from_url(url, "DERP map URL".to_string()));
    }
    let Ok(regions) = derp::map::build(options, ctx) else {
        return out;
    };
    for region in regions {
        for node in region.nodes.iter().filter(|n| !n.stun_only) {
            out.extend(from_url(
                &node.derp_url(),
                format!("DERP node {}", node.name),
            ));
        }
    }
    out
}

/// Workspace proxies from Coder's database (a failure is the Workspace Proxies section's).
pub fn workspace_proxies(ctx: &Context) -> Result<Vec<Endpoint>, String> {
    let Ok(db) = ctx.db() else {
        return Ok(Vec::new());
    };
    let rows = db
        .snapshot(ctx.deadline)
        .and_then(|snapshot| snapshot.proxies)
        .map_err(|e| format!("workspace proxies not read: {e}"))?;
    Ok(rows
        .rows
        .iter()
        .filter_map(|p| from_url(&p.url, format!("workspace proxy {}", p.name)))
        .collect())
}

/// Each TCP host of the DSN, unless TLS is off (`sslmode=disable`) or the host is a socket.
pub fn postgres(dsn: Option<&str>) -> Vec<Endpoint> {
    let Some(dsn) = dsn.and_then(|d| Dsn::parse(d).ok()) else {
        return Vec::new();
    };
    if dsn.sslmode == SslMode::Disable {
        return Vec::new();
    }
    let required = matches!(
        dsn.sslmode,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
    );
    dsn.hosts
        .iter()
        .enumerate()
        .filter(|(_, h)| !h.starts_with('/') && !h.is_empty())
        .map(|(i, host)| Endpoint {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port: dsn
                .ports
                .get(i)
                .or(dsn.ports.first())
                .copied()
                .unwrap_or(5432),
            kind: Kind::Postgres { required },
            used_by: "PostgreSQL".to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tls_urls_are_endpoints() {
        let e = from_url("https://coder.example.com/x", "a".into()).unwrap();
        assert_eq!(
            (e.address(), e.kind),
            ("coder.example.com:443".into(), Kind::Tls)
        );
        let e = from_url("https://[::1]:8443", "a".into()).unwrap();
        assert_eq!(e.address(), "[::1]:8443");
        assert!(from_url("http://coder.example.com", "a".into()).is_none());
        assert!(from_url("not a url", "a".into()).is_none());
    }

    #[test]
    fn postgres_unless_tls_is_off() {
        let e = postgres(Some(
            "postgres://u:p@db.example:6432,db2.example/coder?sslmode=require",
        ));
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].address(), "db.example:6432");
        assert_eq!(e[0].kind, Kind::Postgres { required: true });
        // libpq's default, prefer, tries TLS too.
        let e = postgres(Some("host=db.example port=5433 user=coder"));
        assert_eq!(e[0].kind, Kind::Postgres { required: false });
        assert_eq!(e[0].address(), "db.example:5433");
        assert!(postgres(Some("postgres://db.example/coder?sslmode=disable")).is_empty());
        assert!(postgres(Some("host=/var/run/postgresql user=coder")).is_empty());
    }
}
