//! Websocket section. With a session token: Coder's own echo test on `/api/v2/debug/ws`. Without
//! one: a token-free WebSocket upgrade on the embedded DERP relay (`/derp`, subprotocol `derp`),
//! which proves the proxy path passes upgrades and carries data, and is labelled as such.

mod dial;
mod probe;
mod upgrade;

use std::time::Duration;

use serde::Serialize;

use crate::checks::access_url::parse_access_url;
use crate::checks::Context;
use crate::net::http::snippet;
use crate::report::{BaseReport, SectionReport, Severity};

pub use upgrade::Refusal;

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

impl SectionReport for WebsocketReport {
    fn base(&self) -> &BaseReport {
        &self.base
    }
    fn base_mut(&mut self) -> &mut BaseReport {
        &mut self.base
    }
    fn summary(&self) -> String {
        match self.probe {
            Probe::Echo => format!(
                "echoed {} messages over {} (Coder's echo test)",
                self.echoed, self.url
            ),
            Probe::DerpKey => format!(
                "WebSocket upgrade on {} passed and the DERP relay sent its key; \
                 pass --token for Coder's echo test",
                self.url
            ),
            Probe::None => format!("WebSocket upgrade answered HTTP {}", self.code),
        }
    }
    fn details(&self) -> Vec<String> {
        let mut lines = Vec::new();
        match self.probe {
            Probe::Echo => lines.push(
                "probe: Coder's echo test (text messages \"0\", \"1\", \"2\") with the session token"
                    .to_string(),
            ),
            Probe::DerpKey => lines.push(
                "probe: DERP over WebSocket (subprotocol derp), token-free; not Coder's echo test"
                    .to_string(),
            ),
            Probe::None => {}
        }
        if !self.url.is_empty() {
            lines.push(format!("URL: {}", self.url));
        }
        if self.code != 0 {
            lines.push(format!("upgrade answered HTTP {}", self.code));
        }
        if let Some(took) = self.upgrade_time {
            lines.push(format!(
                "connect + upgrade took {}",
                crate::duration::short(took)
            ));
        }
        if let Some(key) = &self.relay_key {
            lines.push(format!("relay public key: {key}"));
        }
        if !self.body.is_empty() {
            lines.push(format!("body: {}", snippet(&self.body, 200)));
        }
        lines
    }
}

pub fn run(ctx: &Context) -> WebsocketReport {
    let mut report = WebsocketReport::default();
    let Some(raw) = ctx.settings.access_url.as_deref() else {
        report.base.skip("no access URL configured");
        return report;
    };
    let Ok(access_url) = parse_access_url(raw) else {
        report.base.skip("access URL is invalid (see Access URL)");
        return report;
    };
    let token = ctx
        .settings
        .token
        .as_deref()
        // A token read from a file often ends in a newline, which is not part of it.
        .map(str::trim)
        .filter(|t| !t.is_empty());
    match token {
        Some(token) => probe::echo(ctx, &access_url, token, &mut report),
        None if ctx.settings.derp_server_enable => probe::derp_key(ctx, &access_url, &mut report),
        None => report.base.skip(
            "no session token for Coder's echo test (pass --token or set CODER_SESSION_TOKEN), \
             and the embedded DERP relay is disabled (--derp-server-enable=false), so there is no \
             token-free WebSocket endpoint to try",
        ),
    }
    report
}

/// Coder writes a parse failure of the endpoint without a code.
fn fail_uncoded(report: &mut WebsocketReport, message: String) {
    report.base.severity = Severity::Error;
    report.base.error = Some(message);
}

/// What a refused upgrade means, for the EWS01 message.
fn explain_refusal(refusal: &Refusal, probe: &Probe) -> String {
    let status = if refusal.reason.is_empty() {
        refusal.status.to_string()
    } else {
        format!("{} {}", refusal.status, refusal.reason)
    };
    // Coder marks every answer with its version header; a Server header names a proxy.
    let who = match (&refusal.server, &refusal.coder_version) {
        (Some(server), Some(version)) => {
            format!(" from Coder {version} via {server:?} (Server header)")
        }
        (None, Some(version)) => format!(" from Coder {version}"),
        (Some(server), None) => format!(" from {server:?} (Server header), not Coder itself"),
        (None, None) => String::new(),
    };
    let meaning = match refusal.status {
        401 | 403 if *probe == Probe::Echo => {
            "the session token is missing, wrong, expired or not an owner's \
             (/api/v2/debug/ws needs an owner's token)"
                .to_string()
        }
        401 | 403 => "/derp needs no session, so something in front of Coder refused the request \
                    (an authenticating proxy?)"
            .to_string(),
        200 => "something in front of Coder answered the upgrade as a plain request, so it \
                does not pass WebSocket upgrades; a reverse proxy must use HTTP/1.1 upstream \
                and forward the Upgrade and Connection headers"
            .to_string(),
        400 | 426 => "the upgrade did not arrive intact: something in front of Coder probably \
                      did not pass the WebSocket upgrade; a reverse proxy must use HTTP/1.1 \
                      upstream and forward the Upgrade and Connection headers"
            .to_string(),
        404 if *probe == Probe::DerpKey => "no DERP relay at /derp: the access URL may not \
                                            point at Coder, or the relay is served elsewhere"
            .to_string(),
        404 => "no such endpoint: the access URL may not point at Coder".to_string(),
        300..=399 => format!(
            "WebSocket dials do not follow redirects (to {}); check the access URL's scheme and host",
            refusal.location.as_deref().unwrap_or("an unnamed location")
        ),
        502..=504 => "a proxy in front of Coder could not get an answer from it".to_string(),
        _ => "the server refused the WebSocket upgrade".to_string(),
    };
    let body = snippet(&refusal.body, 120);
    let body = if body.is_empty() {
        String::new()
    } else {
        format!("; body: {body:?}")
    };
    format!("expected 101 Switching Protocols but got {status}{who}: {meaning}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(status: u16, server: Option<&str>) -> Refusal {
        Refusal {
            status,
            reason: String::new(),
            server: server.map(str::to_string),
            coder_version: None,
            location: None,
            body: "test error".to_string(),
        }
    }

    #[test]
    fn refusals_say_what_they_mean() {
        let auth = explain_refusal(&refusal(401, None), &Probe::Echo);
        assert!(auth.contains("token"), "{auth}");
        let proxy = explain_refusal(&refusal(400, Some("nginx/1.22.1")), &Probe::Echo);
        assert!(
            proxy.contains("did not pass the WebSocket upgrade"),
            "{proxy}"
        );
        let plain = explain_refusal(&refusal(200, None), &Probe::Echo);
        assert!(plain.contains("plain request"), "{plain}");
        assert!(proxy.contains("nginx/1.22.1"), "{proxy}");
        assert!(proxy.contains("\"test error\""), "{proxy}");
        let gateway = explain_refusal(&refusal(502, Some("nginx")), &Probe::DerpKey);
        assert!(gateway.contains("could not get an answer"), "{gateway}");
        let derp_auth = explain_refusal(&refusal(403, None), &Probe::DerpKey);
        assert!(!derp_auth.contains("token"), "{derp_auth}");
    }

    #[test]
    fn summary_names_the_probe() {
        let report = WebsocketReport {
            probe: Probe::DerpKey,
            url: "ws://127.0.0.1:1/derp".into(),
            ..Default::default()
        };
        assert!(report.summary().contains("--token"));
        let echo = WebsocketReport {
            probe: Probe::Echo,
            echoed: 3,
            url: "ws://h/api/v2/debug/ws".into(),
            ..Default::default()
        };
        assert!(echo.summary().starts_with("echoed 3 messages"));
    }

    #[test]
    fn json_key_order_matches_coder() {
        let json = serde_json::to_string(&WebsocketReport::default()).unwrap();
        let keys: Vec<_> = [
            "\"healthy\"",
            "\"severity\"",
            "\"warnings\"",
            "\"dismissed\"",
            "\"body\"",
            "\"code\"",
        ]
        .iter()
        .map(|k| json.find(k).unwrap())
        .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{json}");
        assert!(
            !json.contains("probe") && !json.contains("relay_key"),
            "{json}"
        );
    }
}
