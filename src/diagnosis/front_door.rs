//! Causes at the front door: the forward proxy this host must use, the access URL's
//! certificate, coderd itself down, the path to it broken, and a reverse proxy that drops the
//! WebSocket upgrade. The WebSocket check and the embedded DERP relay live at the access URL, so
//! their failures follow from these.

use super::{account, cite, host_port, line, ran, Diagnosis};
use crate::report::{Code, Evidence, Phase, Report, SectionId, Severity, TlsProblem};

/// The access URL as `host:port`, for messages.
fn access_at(report: &Report) -> String {
    host_port(&report.access_url.access_url).unwrap_or_else(|| "the access URL".to_string())
}

fn embedded_relay_failed(report: &Report) -> bool {
    ran(report, SectionId::Derp).is_some()
        && report
            .derp
            .regions
            .values()
            .filter(|r| r.region.embedded_relay)
            .flat_map(|r| &r.node_reports)
            .any(|n| !n.node.stun_only && !n.can_exchange_messages)
}

/// Accounts for the WebSocket and embedded relay failures, and says so in words ("" when
/// neither failed).
fn dependents(report: &Report, d: &mut Diagnosis) -> String {
    let mut names = Vec::new();
    if let Some(ws) = ran(report, SectionId::Websocket).filter(|b| b.has_error()) {
        account(d, SectionId::Websocket, ws.errors.first().map(|f| f.code));
        names.push("WebSocket");
    }
    if embedded_relay_failed(report) {
        account(d, SectionId::Derp, None);
        names.push("embedded DERP relay");
    }
    match names.as_slice() {
        [] => String::new(),
        [one] => format!("; the {one} failure follows from it"),
        [a, b] => format!("; the {a} and {b} failures follow from it"),
        _ => String::new(),
    }
}

/// The access URL's own finding (EACS03, else EACS04) and its evidence.
fn access_failure(report: &Report) -> Option<(Code, Option<&Evidence>)> {
    let base = ran(report, SectionId::AccessUrl)?;
    base.error_coded(Code::Eacs03)
        .or_else(|| base.warning_coded(Code::Eacs04))
        .map(|f| (f.code, f.evidence.as_ref()))
}

/// Which proxy variable a URL's scheme reads (Go's ProxyFromEnvironment).
fn proxy_variable(url: &str) -> &'static str {
    if url.starts_with("https") || url.starts_with("wss") {
        "HTTPS_PROXY"
    } else {
        "HTTP_PROXY"
    }
}

pub fn forward_proxy(report: &Report) -> Option<Diagnosis> {
    let (id, finding) = [SectionId::AccessUrl, SectionId::Websocket]
        .into_iter()
        .find_map(|id| {
            let found = ran(report, id)?
                .all_findings()
                .find(|f| matches!(f.evidence, Some(Evidence::ProxyRefused { .. })))?;
            Some((id, found))
        })?;
    let Some(Evidence::ProxyRefused { proxy, status }) = &finding.evidence else {
        return None;
    };
    let url = &report.access_url.access_url;
    let target = access_at(report);
    let host = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| target.clone());
    let answered = match status {
        Some(407) => " with HTTP 407 (it wants other credentials)".to_string(),
        Some(s) => format!(" with HTTP {s}"),
        None => String::new(),
    };
    let mut d = line(finding.code, id, Severity::Error, String::new());
    cite(&mut d, finding.evidence.as_ref());
    if id != SectionId::AccessUrl {
        if let Some((code, _)) = access_failure(report) {
            account(&mut d, SectionId::AccessUrl, Some(code));
        }
    }
    let follow = dependents(report, &mut d);
    d.message = format!(
        "the forward proxy {proxy} (from {}) refused the CONNECT to {target}{answered}, so this \
         host never reached the deployment: if {host} is reachable directly, add it to NO_PROXY \
         (in coderd's environment too); otherwise allow that port in the proxy{follow}",
        proxy_variable(url)
    );
    Some(d)
}

pub fn certificate(report: &Report) -> Option<Diagnosis> {
    let failed = ran(report, SectionId::AccessUrl)?.error_coded(Code::Eacs03)?;
    let Some(Evidence::Tls { address, problem }) = &failed.evidence else {
        return None;
    };
    let cert = report
        .certificates
        .certificates
        .iter()
        .find(|c| c.endpoint.eq_ignore_ascii_case(address));
    let host = url::Url::parse(&report.access_url.access_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    // A certificate out of its dates is ours (ETLS02) when the Certificates section saw it.
    let etls02 = ran(report, SectionId::Certificates)
        .is_some_and(|b| b.all_findings().any(|f| f.code == Code::Etls02));
    let dated = if etls02 {
        (Code::Etls02, SectionId::Certificates)
    } else {
        (Code::Eacs03, SectionId::AccessUrl)
    };
    let (code, origin, text) = match problem {
        TlsProblem::Untrusted { issuer } => {
            let issuer = issuer
                .clone()
                .or_else(|| cert.map(|c| c.issuer.clone()))
                .map(|i| format!("{i:?}"))
                .unwrap_or_else(|| "a private CA".to_string());
            (
                Code::Eacs03,
                SectionId::AccessUrl,
                format!(
                    "the certificate of {address} is not trusted by this host: its chain ends at \
                     {issuer}, a CA missing from this host's trust store; add that CA to the \
                     system trust store or pass it with --ca-cert (and give it to every client \
                     of Coder)"
                ),
            )
        }
        TlsProblem::IncompleteChain { issuer } => (
            Code::Eacs03,
            SectionId::AccessUrl,
            format!(
                "the server at {address} sends its certificate without the intermediate that \
                 issued it ({issuer:?}): add the intermediate to the certificate file it serves \
                 (nginx: ssl_certificate with the full chain). If {issuer:?} is instead a \
                 private root CA, pass it with --ca-cert; `openssl s_client -connect {address} \
                 -showcerts` shows what the server sends"
            ),
        ),
        TlsProblem::Expired { not_after } => {
            let at = not_after
                .clone()
                .or_else(|| cert.map(|c| c.not_after.clone()))
                .unwrap_or_else(|| "an unknown date".to_string());
            (
                dated.0,
                dated.1,
                format!(
                    "the certificate of {address} expired on {at}: renew it and reload the \
                     server that serves it"
                ),
            )
        }
        TlsProblem::NotYetValid { not_before } => {
            let at = not_before
                .clone()
                .or_else(|| cert.map(|c| c.not_before.clone()))
                .unwrap_or_else(|| "a later date".to_string());
            (
                dated.0,
                dated.1,
                format!(
                    "the certificate of {address} is not valid before {at}: this host's clock \
                     or the certificate's start date is wrong (check NTP on both)"
                ),
            )
        }
        TlsProblem::NameMismatch => {
            let issued_for = cert
                .map(|c| format!(" (it is issued for {})", c.subject))
                .unwrap_or_default();
            (
                Code::Eacs03,
                SectionId::AccessUrl,
                format!(
                    "the certificate of {address} is not issued for {host}{issued_for}: serve a \
                     certificate that covers {host}, or use an access URL with one of its names"
                ),
            )
        }
        TlsProblem::NotTls => (
            Code::Eacs03,
            SectionId::AccessUrl,
            format!(
                "{address} does not speak TLS though the access URL says https: use http:// or \
                 turn TLS on at that port"
            ),
        ),
        TlsProblem::Other { detail } => (
            Code::Eacs03,
            SectionId::AccessUrl,
            format!(
                "the TLS handshake with {address} fails ({detail}): fix the certificate or TLS \
                 settings of the server at the access URL"
            ),
        ),
    };
    let mut d = line(code, origin, Severity::Error, String::new());
    cite(&mut d, failed.evidence.as_ref());
    if origin == SectionId::AccessUrl {
        if etls02 {
            account(&mut d, SectionId::Certificates, Some(Code::Etls02));
        }
    } else {
        account(&mut d, SectionId::AccessUrl, Some(Code::Eacs03));
    }
    let follow = dependents(report, &mut d);
    d.message = format!("{text}{follow}");
    Some(d)
}

/// The URL coderd's own listener was asked at.
fn local_address(report: &Report) -> String {
    report
        .access_url
        .local_listener
        .as_ref()
        .map(|l| l.address.clone())
        .unwrap_or_else(|| "its own listener".to_string())
}

pub fn coderd_down(report: &Report) -> Option<Diagnosis> {
    let finding = ran(report, SectionId::AccessUrl)?.warning_coded(Code::Elst02)?;
    let local = report.access_url.local_listener.as_ref();
    let why = match &finding.evidence {
        Some(Evidence::Refused { .. }) => "refuses connections: nothing listens there".to_string(),
        Some(Evidence::Timeout { .. }) => "gives no answer".to_string(),
        Some(Evidence::Dns { .. }) => "does not resolve".to_string(),
        _ => match local {
            Some(l) if l.reachable => {
                format!("answers as something else (HTTP {})", l.status_code)
            }
            _ => "does not answer".to_string(),
        },
    };
    let mut d = line(
        Code::Elst02,
        SectionId::AccessUrl,
        Severity::Error,
        String::new(),
    );
    cite(&mut d, finding.evidence.as_ref());
    let front = match access_failure(report) {
        Some((code, evidence)) => {
            d.explains.push(code);
            cite(&mut d, evidence);
            match evidence {
                Some(Evidence::HttpStatus { status, .. }) => {
                    format!("; the access URL's HTTP {status} comes from the proxy in front of it")
                }
                _ => "; the access URL failure follows from it".to_string(),
            }
        }
        None => String::new(),
    };
    let follow = dependents(report, &mut d);
    d.message = format!(
        "coderd itself is down: its own listener {} {why}{front}{follow}. Start or fix the \
         coder service first (systemctl status coder; journalctl -u coder)",
        local_address(report)
    );
    Some(d)
}

/// The access URL's failure in words, from its evidence: what the operator would see.
fn access_words(report: &Report, evidence: Option<&Evidence>) -> String {
    let at = access_at(report);
    match evidence {
        Some(Evidence::Timeout {
            address,
            phase: Phase::Connect,
        }) => format!(
            "the access URL {address} gets no answer (a firewall drops the connection, or DNS \
             points at an old load balancer)"
        ),
        Some(Evidence::Timeout { address, .. }) => format!(
            "the access URL {address} accepts connections but gives no answer in time (a stuck \
             load balancer or proxy)"
        ),
        Some(Evidence::Refused { address }) => format!(
            "nothing listens at the access URL {address} (the load balancer or reverse proxy is \
             down, or DNS points at the wrong host)"
        ),
        Some(Evidence::Unreachable { address }) => {
            format!("there is no route to the access URL {address}")
        }
        Some(Evidence::Dns { host, detail }) => {
            format!("the access URL host {host} does not resolve ({detail})")
        }
        Some(Evidence::HttpStatus { status, body_start }) => format!(
            "the access URL {at} answers HTTP {status} ({body_start:?}) instead of coderd's OK"
        ),
        _ => format!("the access URL {at} fails"),
    }
}

/// Evidence another rule speaks for (a certificate, a forward proxy).
fn owned_elsewhere(evidence: Option<&Evidence>) -> bool {
    matches!(
        evidence,
        Some(Evidence::Tls { .. } | Evidence::ProxyRefused { .. })
    )
}

pub fn broken_path(report: &Report) -> Option<Diagnosis> {
    let base = ran(report, SectionId::AccessUrl)?;
    base.warning_coded(Code::Elst01)?;
    let (code, evidence) = access_failure(report)?;
    if owned_elsewhere(evidence) {
        return None;
    }
    let mut d = line(
        Code::Elst01,
        SectionId::AccessUrl,
        Severity::Error,
        String::new(),
    );
    d.explains.push(code);
    cite(&mut d, evidence);
    let follow = dependents(report, &mut d);
    d.message = format!(
        "{}, while coderd answers on its own listener {}: fix the path to coderd (the DNS \
         record, the load balancer, the reverse proxy or a firewall){follow}",
        access_words(report, evidence),
        local_address(report)
    );
    Some(d)
}

pub fn access_url_unreachable(report: &Report) -> Option<Diagnosis> {
    let base = ran(report, SectionId::AccessUrl)?;
    // With the local listener known, the two rules above say more.
    if base.warning_coded(Code::Elst01).is_some() || base.warning_coded(Code::Elst02).is_some() {
        return None;
    }
    let (code, evidence) = access_failure(report)?;
    if owned_elsewhere(evidence) {
        return None;
    }
    let at = access_at(report);
    // Without coderd's own listener, "down" and "unreachable" look alike: say both.
    let tell = "setting --http-address to coderd's own listener tells the two apart";
    let text = match evidence {
        Some(Evidence::Dns { host, detail }) => format!(
            "the access URL host {host} does not resolve ({detail}): fix its DNS record or the \
             access URL"
        ),
        Some(Evidence::Refused { address }) => format!(
            "nothing listens at the access URL {address}: coderd or the proxy in front of it is \
             down, or the URL's port is wrong; {tell}"
        ),
        Some(Evidence::Timeout { address, phase }) => format!(
            "the access URL {address} gives no answer{}: most likely a firewall drops it or DNS \
             points at an old load balancer, else the host or coderd is down; {tell}",
            if *phase == Phase::Connect {
                " to a connect"
            } else {
                " in time"
            }
        ),
        Some(Evidence::Unreachable { address }) => format!(
            "there is no route to the access URL {address}: check the address and this host's \
             routes"
        ),
        Some(Evidence::HttpStatus { status, .. }) if (502..=504).contains(status) => format!(
            "the proxy at {at} answers HTTP {status}: most likely coderd behind it is down, else \
             the proxy points at the wrong upstream; {tell}"
        ),
        Some(Evidence::HttpStatus { status, body_start }) => format!(
            "the access URL {at} answers HTTP {status} ({body_start:?}) instead of coderd's OK: \
             something other than coderd answers there (an error or sign-in page of a proxy)"
        ),
        _ => return None,
    };
    let mut d = line(code, SectionId::AccessUrl, Severity::Error, String::new());
    cite(&mut d, evidence);
    let follow = dependents(report, &mut d);
    d.message = format!("{text}{follow}");
    Some(d)
}

pub fn upgrade_dropped(report: &Report) -> Option<Diagnosis> {
    let failed = ran(report, SectionId::Websocket)?.error_coded(Code::Ews01)?;
    let Some(Evidence::UpgradeRefused { status, body_start }) = &failed.evidence else {
        return None;
    };
    if access_failure(report).is_some() {
        return None;
    }
    let proxy = access_at(report);
    // coderd's own words (the peer's evidence) say which header or version was missing.
    let text = if matches!(status, 401 | 403) {
        format!(
            "the session token was refused (HTTP {status} {body_start:?}): pass an owner's \
             token with --token or CODER_SESSION_TOKEN"
        )
    } else if body_start.contains("at least HTTP/1.1") {
        format!(
            "the reverse proxy at {proxy} speaks HTTP/1.0 to coderd, so coderd turns the \
             WebSocket upgrade away (HTTP {status}: {body_start:?}): add `proxy_http_version 1.1;` \
             to its location block (nginx)"
        )
    } else if *status == 426 || body_start.contains("Upgrade") {
        format!(
            "the reverse proxy at {proxy} drops the WebSocket upgrade headers, so coderd answers \
             HTTP {status} ({body_start:?}): add `proxy_set_header Upgrade $http_upgrade;` and \
             `proxy_set_header Connection \"upgrade\";` (with `proxy_http_version 1.1;`) to its \
             location block (nginx)"
        )
    } else {
        format!(
            "the WebSocket upgrade through {proxy} is answered HTTP {status} ({body_start:?}) \
             instead of 101: a proxy or load balancer in front of coderd does not pass WebSocket \
             upgrades; allow them for coderd's paths"
        )
    };
    let mut d = line(
        Code::Ews01,
        SectionId::Websocket,
        Severity::Error,
        String::new(),
    );
    cite(&mut d, failed.evidence.as_ref());
    let follow = if embedded_relay_failed(report) {
        account(&mut d, SectionId::Derp, None);
        "; the embedded DERP relay failure follows from it"
    } else {
        ""
    };
    d.message = format!("{text}{follow}");
    Some(d)
}

pub fn advertised_elsewhere(report: &Report) -> Option<Diagnosis> {
    ran(report, SectionId::AccessUrl)?.warning_coded(Code::Eurl01)?;
    let advertised = report.access_url.advertised_url.as_deref()?;
    let used = &report.access_url.access_url;
    let mut d = line(
        Code::Eurl01,
        SectionId::AccessUrl,
        Severity::Warning,
        String::new(),
    );
    d.message = format!(
        "coderd advertises {advertised} as its access URL, but this host reaches it at {used}: \
         agents, DERP clients and links are sent to {advertised}; set CODER_ACCESS_URL={used} \
         on coderd and restart it (or use {advertised} here, if that is the right one)"
    );
    Some(d)
}
