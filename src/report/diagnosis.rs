//! The probable root causes: a few findings explained by one cause (filled after the report is
//! complete, by `crate::diagnosis`).

use serde::Serialize;

use super::Code;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    /// The finding that names the cause (EACS03, EDB01, ELST01, ESTUN01, ...); null when the
    /// cause has no code of its own (several DERP relays failing alike).
    pub code: Option<Code>,
    pub message: String,
    /// The codes this cause accounts for (besides `code`).
    pub explains: Vec<Code>,
    /// Additive: the sections whose failures it accounts for, by CLI name (some failures, a DERP
    /// node's, carry no code).
    pub sections: Vec<&'static str>,
}
