//! Websocket section. With a session token: Coder's own echo test on `/api/v2/debug/ws`. Without
//! one: a token-free WebSocket upgrade on the embedded DERP relay (`/derp`, subprotocol `derp`),
//! which proves the proxy path passes upgrades and carries data, and is labelled as such.

mod dial;
mod probe;
pub(crate) mod upgrade;

use crate::checks::Context;
use crate::report::websocket::{Probe, WebsocketReport};
use crate::settings::{AccessUrl, CheckSettings};
use crate::text::snippet;

pub use upgrade::Refusal;

/// What the Websocket section is given.
pub struct Options {
    pub access_url: Option<AccessUrl>,
    /// Trimmed at resolution.
    pub token: Option<String>,
    /// Whether the embedded relay (the token-free endpoint) is there.
    pub derp_server_enable: bool,
}

impl From<&CheckSettings> for Options {
    fn from(settings: &CheckSettings) -> Options {
        Options {
            access_url: settings.access_url.clone(),
            token: settings.token.clone(),
            derp_server_enable: settings.derp.server_enable,
        }
    }
}

pub fn run(options: &Options, ctx: &Context) -> WebsocketReport {
    let mut report = WebsocketReport::default();
    let Some(access_url) = &options.access_url else {
        report.base.skip("no access URL configured");
        return report;
    };
    let Ok(access_url) = access_url.parsed() else {
        report.base.skip("access URL is invalid (see Access URL)");
        return report;
    };
    match options.token.as_deref().filter(|t| !t.is_empty()) {
        Some(token) => probe::echo(ctx, access_url, token, &mut report),
        None if options.derp_server_enable => probe::derp_key(ctx, access_url, &mut report),
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
    report.base.fail_uncoded(message);
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
    use crate::render::present::Present;

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
