//! PostgreSQL connections with libpq's DSN syntax and sslmode meanings. The `postgres` crate
//! rejects `allow`, `verify-ca` and `verify-full` and knows nothing of `sslrootcert`, so we parse
//! the DSN ourselves and build its `Config` and the rustls verifier from it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use postgres::config::SslMode as PgSslMode;
use postgres::{Client, NoTls};
use rustls::RootCertStore;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::net::tls::{
    config_with, describe_tls_error, find_tls_error, read_pem_certs, ClientCert, Verification,
};
use crate::redact::REDACTED;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Result<SslMode, String> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(format!(
                    "invalid sslmode {other:?}: expected disable, allow, prefer, require, verify-ca or verify-full"
                ))
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// A parsed DSN. Its `Display` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Dsn {
    pub hosts: Vec<String>,
    pub ports: Vec<u16>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub dbname: Option<String>,
    pub sslmode: SslMode,
    pub sslrootcert: Option<String>,
    pub sslcert: Option<PathBuf>,
    pub sslkey: Option<PathBuf>,
    pub connect_timeout: Option<Duration>,
    pub application_name: Option<String>,
}

impl fmt::Debug for Dsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Dsn({self})")
    }
}

impl fmt::Display for Dsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "postgres://")?;
        if let Some(user) = &self.user {
            write!(f, "{user}")?;
            if self.password.is_some() {
                write!(f, ":{REDACTED}")?;
            }
            write!(f, "@")?;
        }
        write!(f, "{}", self.endpoint())?;
        if let Some(db) = &self.dbname {
            write!(f, "/{db}")?;
        }
        write!(f, "?sslmode={}", self.sslmode.as_str())
    }
}

impl Default for Dsn {
    fn default() -> Self {
        Dsn {
            hosts: Vec::new(),
            ports: Vec::new(),
            user: None,
            password: None,
            dbname: None,
            sslmode: SslMode::Prefer,
            sslrootcert: None,
            sslcert: None,
            sslkey: None,
            connect_timeout: None,
            application_name: None,
        }
    }
}

/// libpq keywords we accept but do not act on, so valid DSNs are not refused.
const IGNORED_KEYWORDS: &[&str] = &[
    "options",
    "fallback_application_name",
    "client_encoding",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "target_session_attrs",
    "load_balance_hosts",
    "channel_binding",
    "gssencmode",
    "krbsrvname",
    "gsslib",
    "sslcompression",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "sslpassword",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "requirepeer",
    "service",
    "passfile",
    "replication",
    "hostaddr",
    "require_auth",
    "sslcertmode",
];

impl Dsn {
    pub fn parse(input: &str) -> Result<Dsn, String> {
        let trimmed = input.trim();
        if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
            parse_uri(trimmed)
        } else if trimmed.contains('=') {
            parse_key_values(trimmed)
        } else if trimmed.contains("://") {
            Err("unsupported DSN scheme: expected postgres:// or postgresql://".to_string())
        } else {
            Err("not a PostgreSQL DSN: expected postgres://... or key=value pairs".to_string())
        }
    }

    /// `host:port` of the first host, for messages.
    pub fn endpoint(&self) -> String {
        let host = self.hosts.first().map(String::as_str).unwrap_or("localhost");
        let port = self.ports.first().copied().unwrap_or(5432);
        if host.starts_with('/') {
            format!("{host}/.s.PGSQL.{port}")
        } else if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        }
    }

    fn set(&mut self, key: &str, value: String) -> Result<(), String> {
        match key {
            "host" => {
                self.hosts = value
                    .split(',')
                    .map(|h| h.trim().to_string())
                    .filter(|h| !h.is_empty())
                    .collect()
            }
            "port" => {
                self.ports = value
                    .split(',')
                    .filter(|p| !p.trim().is_empty())
                    .map(|p| {
                        p.trim()
                            .parse::<u16>()
                            .map_err(|_| format!("invalid port {p:?}: expected a number 1-65535"))
                    })
                    .collect::<Result<_, _>>()?
            }
            "user" => self.user = Some(value),
            "password" => self.password = Some(value),
            "dbname" => self.dbname = Some(value),
            "sslmode" => self.sslmode = SslMode::parse(&value)?,
            "sslrootcert" => self.sslrootcert = Some(value),
            "sslcert" => self.sslcert = Some(PathBuf::from(value)),
            "sslkey" => self.sslkey = Some(PathBuf::from(value)),
            "application_name" => self.application_name = Some(value),
            "connect_timeout" => {
                let secs: i64 = value.trim().parse().map_err(|_| {
                    format!("invalid connect_timeout {value:?}: expected whole seconds")
                })?;
                // libpq: zero or negative means wait forever; our section deadline still applies.
                self.connect_timeout = (secs > 0).then(|| Duration::from_secs(secs as u64));
            }
            other if IGNORED_KEYWORDS.contains(&other) => {}
            other => return Err(format!("invalid connection option {other:?}")),
        }
        Ok(())
    }

    /// Connects under the deadline. The returned client has `default_transaction_read_only`
    /// switched on, so even a mistaken write would be refused by the server.
    pub fn connect(&self, deadline: Instant) -> Result<Client, ConnectError> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(ConnectError::Timeout);
        }
        let timeout = self.connect_timeout.map_or(remaining, |t| t.min(remaining));
        let mut config = self.pg_config(timeout);
        let mut client = match self.sslmode {
            SslMode::Disable => connect_plain(&config, PgSslMode::Disable)?,
            SslMode::Allow => match connect_plain(&config, PgSslMode::Disable) {
                Ok(client) => client,
                // libpq retries with TLS when the plain attempt is rejected by the server.
                Err(ConnectError::Postgres(e)) if e.as_db_error().is_some() => {
                    config.connect_timeout(
                        deadline
                            .saturating_duration_since(Instant::now())
                            .max(Duration::from_millis(1)),
                    );
                    self.connect_tls(&mut config, PgSslMode::Require, Verification::None)?
                }
                Err(e) => return Err(e),
            },
            SslMode::Prefer => {
                self.connect_tls(&mut config, PgSslMode::Prefer, Verification::None)?
            }
            // libpq: `require` with a root certificate configured behaves like verify-ca.
            SslMode::Require if self.sslrootcert.is_some() => {
                self.connect_tls(&mut config, PgSslMode::Require, Verification::ChainOnly)?
            }
            SslMode::Require => {
                self.connect_tls(&mut config, PgSslMode::Require, Verification::None)?
            }
            SslMode::VerifyCa => {
                self.connect_tls(&mut config, PgSslMode::Require, Verification::ChainOnly)?
            }
            SslMode::VerifyFull => {
                self.connect_tls(&mut config, PgSslMode::Require, Verification::Full)?
            }
        };
        client
            .batch_execute("SET default_transaction_read_only = on")
            .map_err(ConnectError::Postgres)?;
        Ok(client)
    }

    fn pg_config(&self, timeout: Duration) -> postgres::Config {
        let mut config = postgres::Config::new();
        let hosts = if self.hosts.is_empty() {
            vec!["localhost".to_string()]
        } else {
            self.hosts.clone()
        };
        for host in &hosts {
            if host.starts_with('/') {
                config.host_path(host);
            } else {
                config.host(host);
            }
        }
        for port in &self.ports {
            config.port(*port);
        }
        let user = self
            .user
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "postgres".to_string());
        config.user(&user);
        if let Some(password) = &self.password {
            config.password(password);
        }
        config.dbname(self.dbname.as_deref().unwrap_or(&user));
        config.application_name(self.application_name.as_deref().unwrap_or("healthcheck"));
        config.connect_timeout(timeout);
        config
    }

    fn connect_tls(
        &self,
        config: &mut postgres::Config,
        mode: PgSslMode,
        verification: Verification,
    ) -> Result<Client, ConnectError> {
        config.ssl_mode(mode);
        let roots = self.trust_roots(verification)?;
        let tls_config = config_with(roots, verification, self.client_cert()?)
            .map_err(ConnectError::Config)?;
        config
            .connect(MakeRustlsConnect::new(tls_config))
            .map_err(ConnectError::Postgres)
    }

    fn trust_roots(&self, verification: Verification) -> Result<Arc<RootCertStore>, ConnectError> {
        if verification == Verification::None {
            return Ok(Arc::new(RootCertStore::empty()));
        }
        match self.sslrootcert.as_deref() {
            Some("system") => {
                let mut roots = RootCertStore::empty();
                roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
                Ok(Arc::new(roots))
            }
            Some(path) => crate::net::tls::Tls::roots_from_file(Path::new(path))
                .map_err(|e| ConnectError::Config(format!("sslrootcert {e}"))),
            None => {
                let default = home_postgresql_dir().map(|d| d.join("root.crt"));
                match default.filter(|p| p.exists()) {
                    Some(path) => crate::net::tls::Tls::roots_from_file(&path)
                        .map_err(|e| ConnectError::Config(format!("sslrootcert {e}"))),
                    None => Err(ConnectError::Config(format!(
                        "sslmode={} needs a root certificate: set sslrootcert to the CA file \
                         (the default ~/.postgresql/root.crt does not exist)",
                        self.sslmode.as_str()
                    ))),
                }
            }
        }
    }

    fn client_cert(&self) -> Result<Option<ClientCert>, ConnectError> {
        let (Some(cert_path), Some(key_path)) = (&self.sslcert, &self.sslkey) else {
            return Ok(None);
        };
        use rustls::pki_types::pem::PemObject;
        let certs =
            read_pem_certs(cert_path).map_err(|e| ConnectError::Config(format!("sslcert {e}")))?;
        let key = rustls::pki_types::PrivateKeyDer::from_pem_file(key_path).map_err(|e| {
            ConnectError::Config(format!(
                "sslkey {}: not a PEM private key: {e}",
                key_path.display()
            ))
        })?;
        Ok(Some(ClientCert { certs, key }))
    }
}

fn home_postgresql_dir() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".postgresql"))
}

fn connect_plain(config: &postgres::Config, mode: PgSslMode) -> Result<Client, ConnectError> {
    let mut config = config.clone();
    config.ssl_mode(mode);
    config.connect(NoTls).map_err(ConnectError::Postgres)
}

/// Why a connection could not be made.
#[derive(Debug)]
pub enum ConnectError {
    Config(String),
    Timeout,
    Postgres(postgres::Error),
}

impl ConnectError {
    /// A plain-words description naming the kind of failure (auth, refused, DNS, TLS, timeout).
    pub fn describe(&self, dsn: &Dsn) -> String {
        match self {
            ConnectError::Config(msg) => msg.clone(),
            ConnectError::Timeout => format!("timed out connecting to {}", dsn.endpoint()),
            ConnectError::Postgres(e) => describe_pg_error(e, dsn),
        }
    }
}

/// Classifies a `postgres::Error` without ever including the password.
pub fn describe_pg_error(e: &postgres::Error, dsn: &Dsn) -> String {
    let endpoint = dsn.endpoint();
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        let what = match code {
            "28P01" | "28000" => "authentication failed",
            "3D000" => "database does not exist",
            "53300" => "too many connections",
            "57P03" => "the server is starting up or shutting down",
            _ => "the server reported an error",
        };
        return format!("{what}: {} (SQLSTATE {code})", db.message());
    }
    if let Some(tls) = find_tls_error(e) {
        return format!("{} (connecting to {endpoint})", describe_tls_error(tls));
    }
    let text = error_chain(e);
    let lower = text.to_ascii_lowercase();
    if lower.contains("server does not support tls") {
        return format!(
            "the server at {endpoint} does not support TLS, but sslmode={} requires it",
            dsn.sslmode.as_str()
        );
    }
    if lower.contains("connection refused") {
        return format!("connection refused by {endpoint} (is PostgreSQL listening there?)");
    }
    if lower.contains("failed to lookup address")
        || lower.contains("name or service not known")
        || lower.contains("name resolution")
    {
        return format!("DNS lookup failed for {endpoint}: {text}");
    }
    if lower.contains("timeout") || lower.contains("timed out") {
        return format!("timed out connecting to {endpoint}");
    }
    format!("{text} ({endpoint})")
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut current = e.source();
    while let Some(inner) = current {
        let text = inner.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = inner.source();
    }
    parts.join(": ")
}

/// The password in a DSN, if any, without failing on DSNs that do not parse.
pub fn password_of(dsn: &str) -> Option<String> {
    if let Ok(parsed) = Dsn::parse(dsn) {
        return parsed.password;
    }
    // Fall back to the URI userinfo so even a broken DSN's password is scrubbed.
    let rest = dsn.split_once("://")?.1;
    let userinfo = rest.split('@').next().filter(|_| rest.contains('@'))?;
    let password = userinfo.split_once(':')?.1;
    Some(percent_decode(password).unwrap_or_else(|_| password.to_string()))
}

fn percent_decode(s: &str) -> Result<String, String> {
    let decoded: Vec<u8> = url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned().into_bytes())
        .unwrap_or_default();
    String::from_utf8(decoded).map_err(|_| "invalid UTF-8 after percent-decoding".to_string())
}

fn parse_uri(input: &str) -> Result<Dsn, String> {
    let rest = input.split_once("://").map(|(_, r)| r).unwrap_or_default();
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match before_query.find('/') {
        Some(i) => (&before_query[..i], Some(&before_query[i + 1..])),
        None => (before_query, None),
    };
    let mut dsn = Dsn::default();
    let hostlist = match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                dsn.user = Some(percent_decode(user).map_err(|e| format!("user: {e}"))?);
            }
            if let Some(p) = password {
                dsn.password = Some(percent_decode(p).map_err(|e| format!("password: {e}"))?);
            }
            &authority[at + 1..]
        }
        None => authority,
    };
    for entry in hostlist.split(',').filter(|e| !e.is_empty()) {
        let (host, port) = split_host_port(entry)?;
        if !host.is_empty() {
            dsn.hosts.push(percent_decode(&host).map_err(|e| format!("host: {e}"))?);
        }
        if let Some(port) = port {
            dsn.ports.push(port);
        }
    }
    if let Some(db) = path.filter(|p| !p.is_empty()) {
        dsn.dbname = Some(percent_decode(db).map_err(|e| format!("dbname: {e}"))?);
    }
    for pair in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("invalid URI query parameter {pair:?}: expected key=value"))?;
        let value = percent_decode(value).map_err(|e| format!("{key}: {e}"))?;
        dsn.set(key, value)?;
    }
    Ok(dsn)
}

fn split_host_port(entry: &str) -> Result<(String, Option<u16>), String> {
    let bad_port = |p: &str| format!("invalid port {p:?} in DSN: expected a number 1-65535");
    if let Some(rest) = entry.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| "unclosed '[' in DSN host".to_string())?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().map_err(|_| bad_port(p))?),
            None if after.is_empty() => None,
            None => return Err(format!("unexpected {after:?} after IPv6 host in DSN")),
        };
        return Ok((host.to_string(), port));
    }
    match entry.rsplit_once(':') {
        Some((host, p)) => Ok((host.to_string(), Some(p.parse().map_err(|_| bad_port(p))?))),
        None => Ok((entry.to_string(), None)),
    }
}

/// libpq's `key=value` form: values may be single-quoted with `\'` and `\\` escapes.
fn parse_key_values(input: &str) -> Result<Dsn, String> {
    let mut dsn = Dsn::default();
    let mut chars = input.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(format!("missing \"=\" after {key:?} in connection string"));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some(escaped) => value.push(escaped),
                        None => break,
                    },
                    '\'' => {
                        closed = true;
                        break;
                    }
                    other => value.push(other),
                }
            }
            if !closed {
                return Err(format!("unterminated quoted value for {key:?} in connection string"));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                if c == '\\' {
                    if let Some(escaped) = chars.next() {
                        value.push(escaped);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        dsn.set(&key, value)?;
    }
    Ok(dsn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_uri_form() {
        let dsn = Dsn::parse(
            "postgresql://coder:p%40ss@db.example:6432/coderdb?sslmode=verify-full&sslrootcert=/ca.pem&connect_timeout=3",
        )
        .unwrap();
        assert_eq!(dsn.hosts, vec!["db.example"]);
        assert_eq!(dsn.ports, vec![6432]);
        assert_eq!(dsn.user.as_deref(), Some("coder"));
        assert_eq!(dsn.password.as_deref(), Some("p@ss"));
        assert_eq!(dsn.dbname.as_deref(), Some("coderdb"));
        assert_eq!(dsn.sslmode, SslMode::VerifyFull);
        assert_eq!(dsn.sslrootcert.as_deref(), Some("/ca.pem"));
        assert_eq!(dsn.connect_timeout, Some(Duration::from_secs(3)));
        assert!(!dsn.to_string().contains("p@ss"));
    }

    #[test]
    fn parses_ipv6_and_defaults() {
        let dsn = Dsn::parse("postgres://[::1]:5433").unwrap();
        assert_eq!(dsn.hosts, vec!["::1"]);
        assert_eq!(dsn.endpoint(), "[::1]:5433");
        assert_eq!(dsn.sslmode, SslMode::Prefer);
    }

    #[test]
    fn parses_key_value_form() {
        let dsn = Dsn::parse(
            "host=localhost port=5432 user=coder password='it''s' dbname = coder sslmode=allow",
        );
        // libpq escapes quotes with backslash, not doubling: the doubled quote ends the value.
        assert!(dsn.is_err());
        let dsn = Dsn::parse(r"host=localhost password='it\'s secret' sslmode=require").unwrap();
        assert_eq!(dsn.password.as_deref(), Some("it's secret"));
        assert_eq!(dsn.sslmode, SslMode::Require);
    }

    #[test]
    fn rejects_bad_input_clearly() {
        assert!(Dsn::parse("postgres://h/db?sslmode=bogus")
            .unwrap_err()
            .contains("invalid sslmode"));
        assert!(Dsn::parse("host=h frobnicate=1")
            .unwrap_err()
            .contains("frobnicate"));
        assert!(Dsn::parse("mysql://h/db").unwrap_err().contains("scheme"));
        assert!(Dsn::parse("postgres://h:notaport/db")
            .unwrap_err()
            .contains("invalid port"));
    }

    #[test]
    fn password_found_even_in_broken_dsn() {
        assert_eq!(
            password_of("postgres://u:s3cret@h:bad/db").as_deref(),
            Some("s3cret")
        );
    }
}
