//! Where each request went: the log `--verbose` prints (proxy credentials redacted).

use std::sync::{Arc, Mutex};

use super::{Direct, ProxyConfig, Route};

/// Which proxy each request used, for `--verbose` (proxy credentials redacted). Only written
/// when a proxy is configured at all.
#[derive(Clone, Debug, Default)]
pub struct RouteLog(Arc<Mutex<Vec<String>>>);

impl RouteLog {
    pub fn note(&self, config: &ProxyConfig, what: &str, route: &Route<'_>) {
        if !config.is_configured() {
            return;
        }
        let line = match route {
            Route::Proxy(p) => format!("{what}: via proxy {} ({})", p.shown(), p.source),
            Route::Direct(Direct::NoProxy) => format!("{what}: direct (no proxy for the scheme)"),
            Route::Direct(Direct::Loopback) => format!("{what}: direct (loopback)"),
            Route::Direct(Direct::Excepted) => format!("{what}: direct (NO_PROXY)"),
        };
        if let Ok(mut lines) = self.0.lock() {
            if !lines.contains(&line) {
                lines.push(line);
            }
        }
    }

    pub fn lines(&self) -> Vec<String> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }
}
