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
    pub source: Option<SettingSource>,
    #[serde(skip)]
    pub endpoint: String,
    /// The DSN's `sslmode` (libpq's spelling), for the diagnosis: a server that requires TLS
    /// refuses `disable` with the same SQLSTATE as a pg_hba reject.
    #[serde(skip)]
    pub sslmode: Option<&'static str>,
}

fn source_name<S: serde::Serializer>(
    source: &Option<SettingSource>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(source.map(SettingSource::describe).unwrap_or_default())
}

/// Where a setting's value came from (the DSN, the access URL, coderd's listener); reported,
/// never the value itself. Declared in precedence order: a source beats the ones after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SettingSource {
    Flag,
    Environment,
    EnvFile,
    /// `coder login`'s config directory (the access URL and the session token).
    CoderLogin,
    /// Found on the Coder host (the built-in PostgreSQL).
    Discovered,
}

impl SettingSource {
    /// The source of the DSN, as the report names it.
    pub fn describe(self) -> &'static str {
        match self {
            SettingSource::Flag => "--postgres-url",
            SettingSource::Environment => "CODER_PG_CONNECTION_URL",
            SettingSource::EnvFile => "env file",
            SettingSource::CoderLogin => "coder login",
            SettingSource::Discovered => "discovered built-in PostgreSQL",
        }
    }
}
