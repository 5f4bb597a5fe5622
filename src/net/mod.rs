//! What several checks share: one TLS setup, one HTTP client, PostgreSQL connections.

pub mod conn;
pub mod deadline;
pub mod dsn;
pub mod http;
pub mod lookup;
pub mod pg_sniff;
pub mod postgres;
pub mod tls;

/// The network clients a run shares; cheap to clone.
#[derive(Clone)]
pub struct Net {
    pub tls: tls::Tls,
    pub http: http::HttpClient,
}

impl Net {
    /// `extra_ca`: PEM files of trust roots besides the system's.
    pub fn new(extra_ca: &[std::path::PathBuf]) -> Result<Net, String> {
        let tls = tls::Tls::new(extra_ca)?;
        let http = http::HttpClient::new(&tls);
        Ok(Net { tls, http })
    }
}
