//! What several checks share: one TLS setup, one HTTP client, PostgreSQL connections.

pub mod conn;
pub mod deadline;
pub mod dsn;
pub mod http;
pub mod postgres;
pub mod tls;

/// The network clients a run shares; cheap to clone.
#[derive(Clone)]
pub struct Net {
    pub tls: tls::Tls,
    pub http: http::HttpClient,
}

impl Net {
    pub fn new(extra_ca: &[std::path::PathBuf]) -> Result<Net, String> {
        Net::with_timeout(extra_ca, http::DEFAULT_DNS_TIMEOUT)
    }

    /// `timeout` bounds name lookups (the section deadline bounds everything else).
    pub fn with_timeout(
        extra_ca: &[std::path::PathBuf],
        timeout: std::time::Duration,
    ) -> Result<Net, String> {
        let tls = tls::Tls::new(extra_ca)?;
        let http = http::HttpClient::with_dns_timeout(&tls, timeout);
        Ok(Net { tls, http })
    }
}
