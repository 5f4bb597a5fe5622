//! Where each request went: the proxy decision turned into ureq's proxy and headers, and the
//! log `--verbose` prints (proxy credentials redacted).

use std::sync::{Arc, Mutex};

use super::{Direct, ProxyConfig, Route};

/// The ureq proxy for one request to `url` (noted in the route log), or `None` to go direct.
pub fn ureq_proxy(config: &ProxyConfig, routes: &RouteLog, url: &str) -> Option<ureq::Proxy> {
    let parsed = url::Url::parse(url).ok()?;
    let route = config.route_for_url(&parsed);
    routes.note(
        config,
        &format!("GET {}", crate::redact::redact_url(url)),
        &route,
    );
    let Route::Proxy(p) = route else {
        return None;
    };
    let auth = match &p.password {
        Some(password) => format!("{}:{password}@", p.username),
        None if !p.username.is_empty() => format!("{}:@", p.username),
        None => String::new(),
    };
    ureq::Proxy::new(format!("http://{auth}{}", p.host_port())).ok()
}

/// `Proxy-Authorization` for a plain-http request sent to an authenticating proxy (ureq adds
/// it only to CONNECT, which it uses for https).
pub fn plain_http_authorization(config: &ProxyConfig, url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    if parsed.scheme() != "http" {
        return None;
    }
    match config.route_for_url(&parsed) {
        Route::Proxy(p) => p.authorization(),
        Route::Direct(_) => None,
    }
}

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
