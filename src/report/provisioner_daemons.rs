//! The `provisioner_daemons` section of the report.

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use std::time::Duration;

use super::{BaseReport, Message};

/// Coder's `provisionerdserver.StaleInterval`: a daemon seen this long ago or less is active.
pub const STALE_INTERVAL: Duration = Duration::from_secs(90);

#[derive(Debug, Default, Serialize)]
pub struct ProvisionerDaemonsReport {
    #[serde(flatten)]
    pub base: BaseReport,
    pub items: Vec<DaemonItem>,
    /// Additive (ours): provisioner jobs waiting to start (EPQ01).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_jobs: Option<PendingJobs>,
    /// What the table and `--verbose` show besides the JSON.
    #[serde(skip)]
    pub view: DaemonsView,
}

#[derive(Debug, Serialize)]
pub struct DaemonItem {
    pub provisioner_daemon: ProvisionerDaemon,
    pub warnings: Vec<Message>,
}

/// codersdk's `ProvisionerDaemon`. `None` in a field an older Coder schema lacks means unknown;
/// the JSON then carries Go's zero value (`""`, the nil UUID), as Coder's clients expect.
#[derive(Debug, Serialize)]
pub struct ProvisionerDaemon {
    pub id: Uuid,
    #[serde(serialize_with = "super::zero_if_unknown")]
    pub organization_id: Option<Uuid>,
    #[serde(serialize_with = "super::zero_if_unknown")]
    pub key_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_seen_at: Option<OffsetDateTime>,
    pub name: String,
    #[serde(serialize_with = "super::zero_if_unknown")]
    pub version: Option<String>,
    #[serde(serialize_with = "super::zero_if_unknown")]
    pub api_version: Option<String>,
    pub provisioners: Vec<String>,
    pub tags: serde_json::Value,
    /// Newer SDK fields; always null in health items.
    pub key_name: Option<String>,
    pub status: Option<String>,
    pub current_job: Option<serde_json::Value>,
    pub previous_job: Option<serde_json::Value>,
}

/// Jobs not started, not canceled, older than `--job-pending-warning`.
#[derive(Debug, Default, Serialize)]
pub struct PendingJobs {
    pub count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_age_seconds: Option<f64>,
    /// Per distinct (organization, provisioner, tags), the largest first.
    pub groups: Vec<JobGroup>,
    /// What this schema did not let us compare, or why the jobs could not be read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct JobGroup {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisioner: Option<String>,
    pub tags: serde_json::Value,
    pub count: i64,
    pub oldest_age_seconds: f64,
    /// Whether a live daemon could take them; null when this schema cannot tell.
    pub matched: Option<bool>,
}

/// Facts for the table and `--verbose`.
#[derive(Debug, Default)]
pub struct DaemonsView {
    pub place: String,
    pub db_now: Option<OffsetDateTime>,
    pub server_version: Option<String>,
    /// Registered but not active: name and age (None = never connected).
    pub inactive: Vec<(String, Option<i64>)>,
    pub missing_columns: Vec<&'static str>,
    pub ages: Vec<Option<i64>>,
    /// What the checks beyond Coder's could not evaluate, and why.
    pub notes: Vec<String>,
}
