//! DERP and STUN section. Placeholder until the DERP issue lands: the section reports that it
//! was not run, never OK.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::checks::Context;
use crate::report::{BaseReport, SectionReport};

#[derive(Debug, Default, Serialize)]
pub struct DerpReport {
    #[serde(flatten)]
    pub base: BaseReport,
    pub healthy: bool,
    pub regions: BTreeMap<String, serde_json::Value>,
    pub netcheck_logs: Option<Vec<String>>,
}

impl SectionReport for DerpReport {
    fn base(&self) -> &BaseReport {
        &self.base
    }
    fn base_mut(&mut self) -> &mut BaseReport {
        &mut self.base
    }
    fn summary(&self) -> String {
        format!("{} DERP regions healthy", self.regions.len())
    }
}

pub fn run(_ctx: &Context) -> DerpReport {
    let mut report = DerpReport::default();
    report
        .base
        .skip("the DERP and STUN check is not implemented in this build");
    report
}
