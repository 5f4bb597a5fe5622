//! The probable root causes, most explaining first (filled after the report is complete, by
//! `crate::diagnosis`).

use serde::Serialize;

use super::{Code, SectionId, Severity};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    /// The finding that names the cause (EACS03, EDB01, ELST01, ESTUN01, ...); null when the
    /// cause has no code of its own (several DERP relays failing alike).
    pub code: Option<Code>,
    /// The cause in the operator's terms, where it is and what to do; a cause that leaves the
    /// deployment working (warnings only) starts with "degraded: ".
    pub message: String,
    /// The codes this cause accounts for (besides `code`).
    pub explains: Vec<Code>,
    /// Additive: the sections whose failures it accounts for, by CLI name (some failures, a DERP
    /// node's, carry no code).
    pub sections: Vec<&'static str>,
    /// The kinds of evidence it rests on (`timeout`, `tls_untrusted`, `pg_sqlstate`, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<&'static str>,
    /// Error when it explains an error, else warning (for ordering and "degraded: ").
    #[serde(skip)]
    pub severity: Severity,
    /// The section of `code`, so a section it accounts for is not diagnosed twice.
    #[serde(skip)]
    pub origin: Option<SectionId>,
}
