//! `--json`: the report in Coder's shape, indented as Coder writes it (one line per run in watch
//! mode).

use super::{RenderError, RenderOptions, Renderer};
use crate::report::Report;

pub struct JsonRenderer;

impl Renderer for JsonRenderer {
    fn render(&self, report: &Report, options: &RenderOptions) -> Result<Vec<u8>, RenderError> {
        let text = if options.one_line {
            serde_json::to_string(report)
        } else {
            serde_json::to_string_pretty(report)
        }
        .map_err(|e| RenderError(e.to_string()))?;
        // String values only: a secret that reads like `true` cannot break the document. On the
        // text, not a `Value` tree: for a map of 10,000 nodes that tree is 50 MB.
        let mut bytes = options.secrets.scrub_json_text(&text).into_bytes();
        bytes.push(b'\n');
        Ok(bytes)
    }
}
