//! Provisioner daemons section. Placeholder until the provisioner issue lands: the section
//! reports that it was not run, never OK.

use serde::Serialize;

use crate::checks::Context;
use crate::report::{BaseReport, SectionReport};

#[derive(Debug, Default, Serialize)]
pub struct ProvisionerDaemonsReport {
    #[serde(flatten)]
    pub base: BaseReport,
    pub items: Vec<serde_json::Value>,
}

impl SectionReport for ProvisionerDaemonsReport {
    fn base(&self) -> &BaseReport {
        &self.base
    }
    fn base_mut(&mut self) -> &mut BaseReport {
        &mut self.base
    }
    fn summary(&self) -> String {
        format!("{} provisioner daemons seen recently", self.items.len())
    }
}

pub fn run(_ctx: &Context) -> ProvisionerDaemonsReport {
    let mut report = ProvisionerDaemonsReport::default();
    report.base.skip("the provisioner daemon check is not implemented in this build");
    report
}
