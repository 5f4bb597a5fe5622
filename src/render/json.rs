//! `--json`: the report in Coder's shape, indented as Coder writes it.

use super::{RenderOptions, Renderer};
use crate::report::Report;

pub struct JsonRenderer;

impl Renderer for JsonRenderer {
    fn render(&self, report: &Report, options: &RenderOptions) -> String {
        let mut text = serde_json::to_value(report)
            .map(|mut value| {
                options.secrets.scrub_json(&mut value);
                value
            })
            .and_then(|value| serde_json::to_string_pretty(&value))
            .unwrap_or_else(|e| format!("{{\"error\": \"cannot serialise the report: {e}\"}}"));
        text.push('\n');
        text
    }
}
