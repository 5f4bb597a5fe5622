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

#[derive(Clone, Debug, Serialize)]
pub struct Holder {
    pub name: String,
    pub count: i64,
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
