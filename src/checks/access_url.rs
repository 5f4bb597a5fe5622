//! Access URL: GET `{access URL}/healthz` and judge the answer as Coder does, plus a look at
//! who answered when the body is not Coder's `OK`, and (beyond Coder) the same question asked
//! of coderd's own listener, to place a failure in coderd or in the path to it.

use crate::checks::local_listener::{self, Answer};
use crate::checks::Context;
use crate::net::http::HttpResponse;
use crate::redact::redact_url;
use crate::report::access_url::AccessUrlReport;
use crate::report::{Code, Evidence, Severity};
use crate::settings::{AccessUrl, CheckSettings, Listener};
use crate::text::snippet;

/// The access URL and, when known, coderd's own listener.
pub struct Options {
    pub access_url: Option<AccessUrl>,
    pub local_listener: Option<Listener>,
}

impl From<&CheckSettings> for Options {
    fn from(settings: &CheckSettings) -> Options {
        Options {
            access_url: settings.access_url.clone(),
            local_listener: settings.local_listener.clone(),
        }
    }
}

pub fn run(options: &Options, ctx: &Context) -> AccessUrlReport {
    let mut report = run_probes(options, ctx);
    judge_advertised(&mut report, options.access_url.as_ref(), ctx);
    report
}

/// EURL01 when coderd advertises (buildinfo's `dashboard_url`, its CODER_ACCESS_URL) another
/// origin than the access URL that answered here: agents and DERP clients are sent there.
fn judge_advertised(report: &mut AccessUrlReport, access_url: Option<&AccessUrl>, ctx: &Context) {
    let Some(used) = access_url.and_then(|a| a.parsed().ok()) else {
        return;
    };
    if !report.reachable {
        return;
    }
    let Ok(info) = ctx
        .deployment
        .build_info(ctx.deadline.less(crate::checks::REPORT_MARGIN))
    else {
        return;
    };
    let Some(advertised) = info.dashboard_url else {
        return;
    };
    let Ok(parsed) = url::Url::parse(advertised.trim()) else {
        return;
    };
    let origin = |u: &url::Url| {
        (
            u.scheme().to_ascii_lowercase(),
            u.host_str().map(str::to_ascii_lowercase),
            u.port_or_known_default(),
        )
    };
    if origin(&parsed) == origin(used) {
        return;
    }
    let (advertised, used) = (redact_url(parsed.as_str()), redact_url(used.as_str()));
    report.advertised_url = Some(advertised.clone());
    report.base.warn_beyond_coder(
        Severity::Warning,
        Code::Eurl01,
        format!(
            "coderd advertises {advertised} as its access URL (buildinfo dashboard_url), not \
             {used}: agents, DERP clients and links are sent to {advertised}"
        ),
    );
}

fn run_probes(options: &Options, ctx: &Context) -> AccessUrlReport {
    let Some(listener) = &options.local_listener else {
        return check(options.access_url.as_ref(), ctx);
    };
    // Both at once: a hung access URL must not leave the local probe without time.
    let (mut report, (local, answer)) = std::thread::scope(|scope| {
        let local = scope.spawn(|| local_listener::probe(listener, ctx.deadline.at()));
        let report = check(options.access_url.as_ref(), ctx);
        let local = local.join().unwrap_or_else(|_| {
            let failed = Err("the local probe crashed".to_string());
            (Default::default(), failed)
        });
        (report, local)
    });
    judge_local(&mut report, listener, &answer, local.evidence.clone());
    report.local_listener = Some(local);
    report
}

/// ELST01 when coderd answers locally but the access URL fails; ELST02 when coderd does not
/// answer on its own listener.
fn judge_local(
    report: &mut AccessUrlReport,
    listener: &Listener,
    answer: &Result<Answer, String>,
    no_answer: Option<Evidence>,
) {
    let address = listener.healthz_url();
    let setting = listener.setting;
    match answer {
        Ok(answer) if answer.is_coderd() => {
            let access_failed = report.base.error_coded(Code::Eacs03).is_some()
                || report.base.warning_coded(Code::Eacs04).is_some();
            if access_failed {
                report.base.warn_beyond_coder(
                    Severity::Warning,
                    Code::Elst01,
                    format!(
                        "coderd answers on its own listener {address} ({setting}: HTTP {}), but                          the access URL fails: the fault is between them (DNS, load balancer,                          reverse proxy or firewall)",
                        answer.status
                    ),
                );
            }
        }
        Ok(answer) => report.base.warn_beyond_coder_with(
            Severity::Error,
            Code::Elst02,
            format!(
                "coderd does not answer on its own listener {address} ({setting}): something                  else does, HTTP {} from {}{}, body {:?}",
                answer.status,
                answer
                    .server
                    .as_deref()
                    .map_or("a server".to_string(), |s| format!("server {s:?}")),
                if answer.coder_version.is_none() {
                    " without X-Coder-Build-Version"
                } else {
                    ""
                },
                snippet(&answer.body, SNIPPET_CHARS)
            ),
            Evidence::HttpStatus {
                status: answer.status,
                body_start: snippet(&answer.body, SNIPPET_CHARS),
            },
        ),
        Err(why) => report.base.warn_beyond_coder_with(
            Severity::Error,
            Code::Elst02,
            format!("coderd does not answer on its own listener {address} ({setting}): {why}"),
            no_answer,
        ),
    }
}

/// How much of a body goes into a finding.
const SNIPPET_CHARS: usize = 120;

fn check(access_url: Option<&AccessUrl>, ctx: &Context) -> AccessUrlReport {
    let mut report = AccessUrlReport::default();
    let Some(access_url) = access_url else {
        report.base.fail(Code::Eacs01, "Access URL not set");
        return report;
    };
    report.access_url = access_url.shown();
    let url = match access_url.parsed() {
        Ok(url) => url,
        Err(e) => {
            report.base.fail(Code::Eacs02, e);
            return report;
        }
    };
    // An absolute reference: the access URL's own path is replaced, as in Coder.
    let healthz = match url.join("/healthz") {
        Ok(u) => u,
        Err(e) => {
            report
                .base
                .fail(Code::Eacs02, format!("parse healthz endpoint: {e}"));
            return report;
        }
    };
    let shown = redact_url(healthz.as_str());
    let response = match ctx.net.http.get(healthz.as_str(), ctx.deadline, &[]) {
        Ok(r) => r,
        Err(e) => {
            report.base.fail_with(
                Code::Eacs03,
                format!("get healthz endpoint {shown}: {e}"),
                e.evidence,
            );
            return report;
        }
    };
    report.reachable = true;
    report.status_code = response.status;
    report.healthz_response = response.body.clone();
    if response.final_url != healthz.as_str() {
        report.redirected_to = Some(redact_url(&response.final_url));
    }
    let via = report
        .redirected_to
        .as_ref()
        .map(|to| format!(" (after redirects, from {to})"))
        .unwrap_or_default();
    let answered = Evidence::HttpStatus {
        status: response.status,
        body_start: snippet(&response.body, SNIPPET_CHARS),
    };
    if response.status != 200 {
        report.base.warn_with(
            Severity::Warning,
            Code::Eacs04,
            format!(
                "/healthz did not return 200 OK: got {}{via} from {}; body: {:?}",
                status_text(response.status),
                who_answered(&response),
                snippet(&response.body, SNIPPET_CHARS)
            ),
            answered,
        );
    } else if response.body.trim() != "OK" {
        // Beyond Coder: a 200 that is not Coder's "OK" means something else answered. Coder's
        // own field stays as Coder computes it (status 200 => healthy).
        report.healthy = true;
        report.base.warn_with(
            Severity::Warning,
            Code::Eacs04,
            format!(
                "/healthz returned 200{via} but not Coder's \"OK\": {} answered with {:?}",
                who_answered(&response),
                snippet(&response.body, SNIPPET_CHARS)
            ),
            answered,
        );
    } else {
        report.healthy = true;
    }
    report
}

/// Names what answered: the Server header, a page title, and whether Coder's header is there.
fn who_answered(response: &HttpResponse) -> String {
    let mut parts = Vec::new();
    match response.header("Server") {
        Some(server) => parts.push(format!("server {server:?}")),
        None => parts.push("a server".to_string()),
    }
    if let Some(title) = html_title(&response.body) {
        parts.push(format!("page {title:?}"));
    }
    let coder = match response.header("X-Coder-Build-Version") {
        Some(version) => format!("Coder {version}"),
        None => "no X-Coder-Build-Version header, so not Coder itself".to_string(),
    };
    format!("{} ({coder})", parts.join(", "))
}

fn html_title(body: &str) -> Option<String> {
    let lower = body.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let open_end = start + lower[start..].find('>')? + 1;
    let close = open_end + lower[open_end..].find("</title")?;
    let title = snippet(&body[open_end..close], 80);
    (!title.is_empty()).then_some(title)
}

fn status_text(status: u16) -> String {
    let reason = match status {
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    };
    if reason.is_empty() {
        status.to_string()
    } else {
        format!("{status} {reason}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_page_titles() {
        assert_eq!(
            html_title("<html><head><TITLE>Sign in - SSO</title>").as_deref(),
            Some("Sign in - SSO")
        );
        assert_eq!(html_title("OK"), None);
    }
}
