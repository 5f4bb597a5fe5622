//! `--json`: the report in Coder's shape, indented as Coder writes it (one line per run in watch
//! mode).

use super::{RenderError, RenderOptions, Renderer};
use crate::report::Report;

pub struct JsonRenderer;

impl Renderer for JsonRenderer {
    fn render(&self, report: &Report, options: &RenderOptions) -> Result<Vec<u8>, RenderError> {
        let mut value = serde_json::to_value(report).map_err(|e| RenderError(e.to_string()))?;
        // String values only: a secret that reads like `true` cannot break the document.
        options.secrets.scrub_json(&mut value);
        let mut bytes = if options.one_line {
            serde_json::to_vec(&value)
        } else {
            serde_json::to_vec_pretty(&value)
        }
        .map_err(|e| RenderError(e.to_string()))?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}
