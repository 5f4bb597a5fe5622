//! The `certificates` section (ours, not Coder's): the leaf certificate of every TLS endpoint
//! the run reaches.

use serde::Serialize;

use super::BaseReport;

#[derive(Debug, Default, Serialize)]
pub struct CertificatesReport {
    #[serde(flatten)]
    pub base: BaseReport,
    /// A certificate expiring within this many days is ETLS01.
    pub warning_days: f64,
    pub certificates: Vec<Certificate>,
    /// Endpoints whose certificate could not be read (the owning section reports why it
    /// cannot be reached; this only says the certificate is unknown).
    pub unread: Vec<Unread>,
    /// Remarks for `--verbose`.
    #[serde(skip)]
    pub notes: Vec<String>,
}

/// One endpoint's leaf certificate.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Certificate {
    /// `host:port`.
    pub endpoint: String,
    /// What the run reaches there: "access URL", "DERP node 1a", "workspace proxy eu", ...
    pub used_by: Vec<String>,
    pub subject: String,
    pub issuer: String,
    /// RFC 3339.
    pub not_before: String,
    /// RFC 3339.
    pub not_after: String,
    /// Whole days until `not_after`, negative once it has passed.
    pub days_left: i64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Unread {
    pub endpoint: String,
    pub used_by: Vec<String>,
    pub error: String,
}
