//! PostgreSQL connections with libpq's sslmode meanings. The `postgres` crate rejects `allow`,
//! `verify-ca` and `verify-full` and knows nothing of `sslrootcert`, so the DSN is parsed by
//! `net::dsn` and its `Config` and rustls verifier are built here.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use postgres::config::SslMode as PgSslMode;
use postgres::{Client, NoTls};
use rustls::RootCertStore;
use tokio_postgres_rustls::MakeRustlsConnect;

pub use crate::net::dsn::{password_of, Dsn, SslMode};
use crate::net::tls::{
    config_with, describe_tls_error, find_tls_error, read_pem_certs, ClientCert, Verification,
};
use crate::report::{Evidence, Phase};

impl Dsn {
    /// Connects under the deadline. Nothing is set on the session: behind a pooler in
    /// transaction mode a session setting would stay on a server connection that Coder's own
    /// clients get next (a `default_transaction_read_only` there would refuse Coder's writes).
    /// Reads are kept read-only by `CoderDb::read`'s READ ONLY transactions instead.
    ///
    /// The driver's `connect_timeout` covers only the TCP connect, not TLS or the start-up
    /// exchange, so the attempt runs on its own thread and is abandoned at the deadline.
    pub fn connect(&self, deadline: Instant) -> Result<Client, ConnectError> {
        let (done, result) = std::sync::mpsc::channel();
        let dsn = self.clone();
        std::thread::Builder::new()
            .name("postgres-connect".to_string())
            .spawn(move || {
                let _ = done.send(dsn.connect_blocking(deadline));
            })
            .map_err(|e| ConnectError::Config(format!("cannot start a thread: {e}")))?;
        let remaining = deadline.saturating_duration_since(Instant::now());
        // With most of the time gone and no start-up, look at what the server says (below), so
        // the error can tell a silent server from one that speaks another protocol.
        let margin = (remaining / 5).min(SNIFF_MARGIN);
        match result.recv_timeout(remaining - margin) {
            // A connection closed or garbled mid start-up: if the server speaks another
            // protocol, say that instead of the driver's words.
            Ok(Err(ConnectError::Postgres(e)))
                if e.as_db_error().is_none() && find_tls_error(&e).is_none() =>
            {
                let until = deadline.min(Instant::now() + SNIFF_MARGIN);
                return Err(match crate::net::pg_sniff::sniff(self, until) {
                    heard @ crate::net::pg_sniff::Heard::Other(_) => ConnectError::NoStartup(heard),
                    crate::net::pg_sniff::Heard::Unresolved { host, detail } => {
                        ConnectError::Unresolved(e, host, detail)
                    }
                    _ => ConnectError::Postgres(e),
                });
            }
            Ok(outcome) => return outcome,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(ConnectError::Timeout)
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
        // Answer before the deadline itself, so the waiting sections hear this, not a timeout.
        let until = deadline.checked_sub(margin / 4).unwrap_or(deadline);
        let heard = crate::net::pg_sniff::sniff(self, until);
        let left = until.saturating_duration_since(Instant::now());
        result
            .recv_timeout(left)
            .unwrap_or(Err(ConnectError::NoStartup(heard)))
    }

    fn connect_blocking(&self, deadline: Instant) -> Result<Client, ConnectError> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(ConnectError::Timeout);
        }
        let timeout = self.connect_timeout.map_or(remaining, |t| t.min(remaining));
        let mut config = self.pg_config(timeout);
        let client = match self.sslmode {
            SslMode::Disable => connect_plain(&config)?,
            // libpq tries plain first and retries with TLS when the server rejects it.
            SslMode::Allow => match connect_plain(&config) {
                Err(ConnectError::Postgres(e)) if e.as_db_error().is_some() => {
                    config.connect_timeout(self.retry_timeout(deadline));
                    self.connect_tls(&mut config, PgSslMode::Require, Verification::None)?
                }
                other => other?,
            },
            // libpq tries TLS first and falls back to plain when TLS cannot be set up.
            SslMode::Prefer => {
                match self.connect_tls(&mut config, PgSslMode::Prefer, Verification::None) {
                    Err(ConnectError::Postgres(e)) if find_tls_error(&e).is_some() => {
                        config.connect_timeout(self.retry_timeout(deadline));
                        connect_plain(&config)?
                    }
                    other => other?,
                }
            }
            // libpq: `require` with a root certificate available behaves like verify-ca.
            SslMode::Require if self.has_root_cert() => {
                self.connect_tls(&mut config, PgSslMode::Require, Verification::ChainOnly)?
            }
            SslMode::Require => {
                self.connect_tls(&mut config, PgSslMode::Require, Verification::None)?
            }
            SslMode::VerifyCa if self.sslrootcert.as_deref() == Some("system") => {
                return Err(ConnectError::Config(
                    "sslrootcert=system needs sslmode=verify-full (libpq refuses verify-ca with \
                     the system store)"
                        .to_string(),
                ))
            }
            SslMode::VerifyCa => {
                self.connect_tls(&mut config, PgSslMode::Require, Verification::ChainOnly)?
            }
            SslMode::VerifyFull => {
                self.connect_tls(&mut config, PgSslMode::Require, Verification::Full)?
            }
        };
        Ok(client)
    }

    /// The time left for a second attempt, still capped by `connect_timeout`.
    fn retry_timeout(&self, deadline: Instant) -> Duration {
        let remaining = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        self.connect_timeout.map_or(remaining, |t| t.min(remaining))
    }

    fn has_root_cert(&self) -> bool {
        self.sslrootcert.is_some()
            || home_postgresql_dir().is_some_and(|d| d.join("root.crt").exists())
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
        for addr in &self.hostaddrs {
            config.hostaddr(*addr);
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
        let mut options = self.options.clone().unwrap_or_default();
        if let Some(path) = &self.search_path {
            // Spaces in start-up options are escaped with a backslash.
            let path = path.replace('\\', "\\\\").replace(' ', "\\ ");
            options = format!("{options} -c search_path={path}")
                .trim()
                .to_string();
        }
        if !options.is_empty() {
            config.options(&options);
        }
        config.connect_timeout(timeout);
        // If the network drops our packets mid-query, the kernel gives up on the connection
        // after this long instead of retransmitting for minutes.
        config.tcp_user_timeout(timeout);
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
        let tls_config =
            config_with(roots, verification, self.client_cert()?).map_err(ConnectError::Config)?;
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
        // Through `files`: a FIFO or device named as the key must not block or fill memory.
        let key_bytes = crate::files::read_regular_bytes(key_path, MAX_KEY_BYTES).map_err(|e| {
            ConnectError::Config(format!("sslkey {}: cannot read: {e}", key_path.display()))
        })?;
        let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|e| {
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

fn connect_plain(config: &postgres::Config) -> Result<Client, ConnectError> {
    let mut config = config.clone();
    config.ssl_mode(PgSslMode::Disable);
    config.connect(NoTls).map_err(ConnectError::Postgres)
}

/// A PEM private key is a few KiB.
const MAX_KEY_BYTES: u64 = 1024 * 1024;

/// Time at the end of a connect kept for looking at what a server that does not finish the
/// start-up says instead (`net::pg_sniff`).
const SNIFF_MARGIN: Duration = Duration::from_millis(500);

/// Why a connection could not be made.
#[derive(Debug)]
pub enum ConnectError {
    Config(String),
    Timeout,
    /// The start-up did not finish in time; what the server said to an SSLRequest.
    NoStartup(crate::net::pg_sniff::Heard),
    Postgres(postgres::Error),
    /// The driver failed and the host name does not resolve (found out afterwards with our
    /// own resolver): the driver's error, the host and the resolver's words.
    Unresolved(postgres::Error, String, String),
}

impl ConnectError {
    /// A plain-words description naming the kind of failure (auth, refused, DNS, TLS, timeout).
    pub fn describe(&self, dsn: &Dsn) -> String {
        match self {
            ConnectError::Config(msg) => msg.clone(),
            ConnectError::Timeout => format!("timed out connecting to {}", dsn.endpoint()),
            ConnectError::NoStartup(heard) => {
                use crate::net::pg_sniff::Heard;
                let endpoint = dsn.endpoint();
                match heard {
                    Heard::Other(text) => format!(
                        "the server at {endpoint} does not speak the PostgreSQL protocol (to \
                         PostgreSQL's SSL request it answered {text:?})"
                    ),
                    Heard::Nothing => format!(
                        "timed out connecting to {endpoint}: the server accepted the connection \
                         but sent no PostgreSQL answer"
                    ),
                    Heard::Postgres => format!(
                        "timed out connecting to {endpoint}: it answers as PostgreSQL, but the \
                         start-up did not finish within the deadline"
                    ),
                    Heard::NoConnection => format!("timed out connecting to {endpoint}"),
                    Heard::Unresolved { detail, .. } => {
                        format!("DNS lookup failed for {endpoint}: {detail}")
                    }
                }
            }
            ConnectError::Postgres(e) | ConnectError::Unresolved(e, ..) => {
                describe_pg_error(e, dsn)
            }
        }
    }
}

impl ConnectError {
    /// What was observed, as data: the SQLSTATE, the TLS problem, a refusal or timeout at the
    /// endpoint.
    pub fn evidence(&self, dsn: &Dsn) -> Option<Evidence> {
        use crate::net::pg_sniff::Heard;
        let address = dsn.endpoint();
        match self {
            ConnectError::Config(_) | ConnectError::NoStartup(Heard::Other(_)) => None,
            ConnectError::Timeout | ConnectError::NoStartup(Heard::NoConnection) => {
                Some(Evidence::Timeout {
                    address,
                    phase: Phase::Connect,
                })
            }
            ConnectError::NoStartup(Heard::Nothing | Heard::Postgres) => Some(Evidence::Timeout {
                address,
                phase: Phase::Answer,
            }),
            ConnectError::Postgres(e) => pg_evidence(e, &address),
            ConnectError::Unresolved(_, host, detail)
            | ConnectError::NoStartup(Heard::Unresolved { host, detail }) => Some(Evidence::Dns {
                host: host.clone(),
                detail: detail.clone(),
            }),
        }
    }
}

/// What a driver error shows, as data: the server's SQLSTATE and message, the TLS problem, or
/// the I/O failure underneath (refused, timed out, unreachable) at `address`.
pub fn pg_evidence(e: &postgres::Error, address: &str) -> Option<Evidence> {
    if let Some(db) = e.as_db_error() {
        return Some(Evidence::PgSqlstate {
            code: db.code().code().to_string(),
            message: db.message().to_string(),
        });
    }
    if let Some(tls) = find_tls_error(e) {
        return Some(Evidence::Tls {
            address: address.to_string(),
            problem: crate::net::tls::tls_problem(tls),
        });
    }
    // The driver's own error when the server answers PostgreSQL's SSLRequest with "N" and
    // sslmode requires TLS: it has no type of its own, only this fixed text.
    if error_chain(e).contains("server does not support TLS") {
        return Some(Evidence::Tls {
            address: address.to_string(),
            problem: crate::report::TlsProblem::NotTls,
        });
    }
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(inner) = current {
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            return crate::net::conn::io_evidence(address, io, Phase::Connect);
        }
        current = inner.source();
    }
    None
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
    // The driver's words for a peer whose bytes do not frame as PostgreSQL messages.
    if lower.contains("bytes remaining on stream") || lower.contains("unexpected message") {
        return format!("the server at {endpoint} does not speak the PostgreSQL protocol ({text})");
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
