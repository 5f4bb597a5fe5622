//! Workspace proxy section. Placeholder until the workspace-proxy issue lands: the section
//! reports that it was not run, never OK.

use serde::Serialize;

use crate::checks::Context;
use crate::report::{BaseReport, SectionReport};

#[derive(Debug, Default, Serialize)]
pub struct WorkspaceProxyReport {
    pub healthy: bool,
    #[serde(flatten)]
    pub base: BaseReport,
    pub workspace_proxies: WorkspaceProxies,
}

#[derive(Debug, Default, Serialize)]
pub struct WorkspaceProxies {
    pub regions: Option<Vec<serde_json::Value>>,
}

impl SectionReport for WorkspaceProxyReport {
    fn base(&self) -> &BaseReport {
        &self.base
    }
    fn base_mut(&mut self) -> &mut BaseReport {
        &mut self.base
    }
    fn summary(&self) -> String {
        "workspace proxies healthy".to_string()
    }
}

pub fn run(_ctx: &Context) -> WorkspaceProxyReport {
    let mut report = WorkspaceProxyReport::default();
    report.base.skip("the workspace proxy check is not implemented in this build");
    report
}
