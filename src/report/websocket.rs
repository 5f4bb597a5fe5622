//! The `websocket` section of the report.

use std::time::Duration;

use serde::Serialize;

use super::BaseReport;

/// What the section actually did; not part of the JSON (Coder's shape has no such field).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Probe {
    #[default]
    None,
    /// Coder's echo test with a session token.
    Echo,
    /// DERP over WebSocket at `/derp`, no token.
    DerpKey,
}

#[derive(Debug, Default, Serialize)]
pub struct WebsocketReport {
    pub healthy: bool,
    #[serde(flatten)]
    pub base: BaseReport,
    pub body: String,
    pub code: u16,
    #[serde(skip)]
    pub probe: Probe,
    /// The WebSocket URL dialled (credentials never included).
    #[serde(skip)]
    pub url: String,
    /// Messages echoed (echo test).
    #[serde(skip)]
    pub echoed: usize,
    /// The relay's public key in hex (DERP probe).
    #[serde(skip)]
    pub relay_key: Option<String>,
    #[serde(skip)]
    pub upgrade_time: Option<Duration>,
}
