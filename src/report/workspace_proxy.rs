//! The `workspace_proxy` section of the report.

use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::BaseReport;

#[derive(Debug, Default, Serialize)]
pub struct WorkspaceProxyReport {
    pub healthy: bool,
    #[serde(flatten)]
    pub base: BaseReport,
    pub workspace_proxies: WorkspaceProxies,
    /// Additive (ours): when the latest Coder license expires (ELIC01); absent without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<License>,
    #[serde(skip)]
    pub view: ProxiesView,
}

#[derive(Clone, Debug, Serialize)]
pub struct License {
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Whole days left (negative once expired), by the database clock.
    pub days_left: i64,
}

#[derive(Debug, Default, Serialize)]
pub struct WorkspaceProxies {
    pub regions: Vec<WorkspaceProxy>,
}

/// codersdk's `WorkspaceProxy`. `None` in `derp_enabled`, `derp_only` or `version` means an older
/// Coder schema has no such column; the JSON then carries Go's zero value.
#[derive(Clone, Debug, Serialize)]
pub struct WorkspaceProxy {
    pub id: Uuid,
    pub name: String,
    pub display_name: String,
    pub icon_url: String,
    pub healthy: bool,
    pub path_app_url: String,
    pub wildcard_hostname: String,
    #[serde(serialize_with = "super::zero_if_unknown")]
    pub derp_enabled: Option<bool>,
    #[serde(serialize_with = "super::zero_if_unknown")]
    pub derp_only: Option<bool>,
    pub status: ProxyStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub deleted: bool,
    #[serde(serialize_with = "super::zero_if_unknown")]
    pub version: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ProxyStatus {
    pub status: ProxyHealth,
    pub report: ProxyHealthReport,
    #[serde(with = "time::serde::rfc3339")]
    pub checked_at: OffsetDateTime,
    /// Additive: what our probe observed when the proxy was not healthy (no answer, a status).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<super::Evidence>,
}

/// Facts for the table and `--verbose`.
#[derive(Debug, Default)]
pub struct ProxiesView {
    pub place: String,
    pub missing_columns: Vec<&'static str>,
    /// How long each region's probe took, by name.
    pub probe_times: Vec<(String, Duration)>,
    /// What the checks beyond Coder's could not evaluate, and why.
    pub notes: Vec<String>,
}

/// The name of Coder's synthetic region for the deployment itself.
pub const PRIMARY: &str = "primary";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyHealth {
    Ok,
    Unreachable,
    Unhealthy,
    Unregistered,
}

impl ProxyHealth {
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyHealth::Ok => "ok",
            ProxyHealth::Unreachable => "unreachable",
            ProxyHealth::Unhealthy => "unhealthy",
            ProxyHealth::Unregistered => "unregistered",
        }
    }
}

/// The proxy's own `/healthz-report` body (codersdk's `ProxyHealthReport`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProxyHealthReport {
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}
