//! Websocket section. Placeholder until the websocket issue lands: the section reports that it
//! was not run, never OK.

use serde::Serialize;

use crate::checks::Context;
use crate::report::{BaseReport, SectionReport};

#[derive(Debug, Default, Serialize)]
pub struct WebsocketReport {
    pub healthy: bool,
    #[serde(flatten)]
    pub base: BaseReport,
    pub body: String,
    pub code: u16,
}

impl SectionReport for WebsocketReport {
    fn base(&self) -> &BaseReport {
        &self.base
    }
    fn base_mut(&mut self) -> &mut BaseReport {
        &mut self.base
    }
    fn summary(&self) -> String {
        format!("echo over WebSocket succeeded (HTTP {})", self.code)
    }
}

pub fn run(_ctx: &Context) -> WebsocketReport {
    let mut report = WebsocketReport::default();
    report
        .base
        .skip("the websocket check is not implemented in this build");
    report
}
