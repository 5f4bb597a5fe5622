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
    /// Additive: the access URL coderd advertises, when it differs from this one (EURL01).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advertised_url: Option<String>,
    /// Additive: coderd's own listener, when its address is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_listener: Option<LocalListener>,
}

/// `GET /healthz` on coderd's own HTTP or TLS listener (`CODER_HTTP_ADDRESS`,
/// `CODER_TLS_ADDRESS`), bypassing whatever sits in front of it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LocalListener {
    /// The URL probed (`0.0.0.0`/`[::]` replaced by loopback).
    pub address: String,
    pub reachable: bool,
    pub status_code: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Additive: what was observed when it gave no answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<super::Evidence>,
}
