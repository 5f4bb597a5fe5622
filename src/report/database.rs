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
    /// Additive (ours): whether LISTEN/NOTIFY round-trips through this DSN (EPG01).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pubsub: Option<Pubsub>,
    /// Additive (ours): connection slots in use (EPG02).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connections: Option<Connections>,
}

/// `round_trip_ms` when the notification came back, else `error`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Pubsub {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub round_trip_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip)]
    pub round_trip: Option<Duration>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Connections {
    /// Client connections open, this run's own included.
    pub used: i64,
    /// `max_connections`.
    pub max: i64,
    /// Slots only superusers may take.
    pub reserved: i64,
    /// The largest holders, by application name (and user) where this role may read them.
    pub top: Vec<Holder>,
}

impl Connections {
    /// The slots a non-superuser may take.
    pub fn usable(&self) -> i64 {
        usable_slots(self.max, self.reserved)
    }
}

/// `max_connections` less the slots reserved for superusers.
pub fn usable_slots(max_connections: i64, reserved: i64) -> i64 {
    (max_connections - reserved).max(0)
}

#[derive(Clone, Debug, Serialize)]
pub struct Holder {
    pub name: String,
    pub count: i64,
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
