//! The `database` section of the report.

use std::time::Duration;

use serde::Serialize;

use super::BaseReport;

/// Coder's five pings on one connection.
pub const PINGS: usize = 5;

#[derive(Debug, Default, Serialize)]
pub struct DatabaseReport {
    #[serde(flatten)]
    pub base: BaseReport,
    pub healthy: bool,
    pub reachable: bool,
    pub latency: String,
    pub latency_ms: u64,
    pub threshold_ms: u64,
    /// Each ping, for `--verbose`.
    #[serde(skip)]
    pub pings: Vec<Duration>,
    /// Additive: where the DSN came from (never the DSN itself).
    #[serde(
        rename = "dsn_source",
        skip_serializing_if = "Option::is_none",
        serialize_with = "source_name"
    )]
    pub source: Option<DsnSource>,
    #[serde(skip)]
    pub endpoint: String,
    /// The DSN's `sslmode` (libpq's spelling), for the diagnosis: a server that requires TLS
    /// refuses `disable` with the same SQLSTATE as a pg_hba reject.
    #[serde(skip)]
    pub sslmode: Option<&'static str>,
}

fn source_name<S: serde::Serializer>(
    source: &Option<DsnSource>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(source.map(DsnSource::describe).unwrap_or_default())
}

/// Where the database DSN came from; reported, never the DSN itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DsnSource {
    Flag,
    Environment,
    EnvFile,
    Discovered,
}

impl DsnSource {
    pub fn describe(self) -> &'static str {
        match self {
            DsnSource::Flag => "--postgres-url",
            DsnSource::Environment => "CODER_PG_CONNECTION_URL",
            DsnSource::EnvFile => "env file",
            DsnSource::Discovered => "discovered built-in PostgreSQL",
        }
    }
}
