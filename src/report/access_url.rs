//! The `access_url` section of the report.

use serde::Serialize;

use super::BaseReport;

#[derive(Debug, Default, Serialize)]
pub struct AccessUrlReport {
    #[serde(flatten)]
    pub base: BaseReport,
    pub healthy: bool,
    pub access_url: String,
    pub reachable: bool,
    pub status_code: u16,
    pub healthz_response: String,
    /// Additive: where redirects led, when they did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirected_to: Option<String>,
}
