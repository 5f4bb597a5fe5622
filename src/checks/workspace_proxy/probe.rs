//! Probing a proxy the way Coder's proxy health poller does: `GET <url>/healthz-report`, 5 s at
//! most, up to five proxies at a time, with the verdicts ok / unhealthy / unreachable /
//! unregistered (coder-health.md 6.2). The probe runs from this host, so its view can differ
//! from the cache each coderd replica keeps.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;
use time::OffsetDateTime;

use crate::net::deadline::Deadline;
use crate::net::http::{HttpClient, HttpError, HttpErrorKind, HttpResponse};
use crate::redact::redact_url;
use crate::report::workspace_proxy::{ProxyHealth, ProxyHealthReport};
use crate::report::Evidence;
use crate::text::snippet;

/// Coder's proxy health client timeout.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// Coder probes at most this many proxies at once.
pub const PARALLEL_PROBES: usize = 5;

#[derive(Deserialize)]
struct WireReport {
    errors: Option<Vec<String>>,
    warnings: Option<Vec<String>>,
}

/// Coder's API error body, for a non-200 answer.
#[derive(Deserialize)]
struct ApiError {
    message: Option<String>,
    detail: Option<String>,
}

/// One probe's outcome.
#[derive(Clone, Debug)]
pub struct Probe {
    pub status: ProxyHealth,
    pub report: ProxyHealthReport,
    /// What was observed when the answer was not a health report.
    pub evidence: Option<Evidence>,
    pub checked_at: OffsetDateTime,
    pub took: Duration,
}

/// `<url with trailing slashes trimmed>/healthz-report`.
pub fn report_url(proxy_url: &str) -> String {
    format!("{}/healthz-report", proxy_url.trim_end_matches('/'))
}

/// Probes every URL, at most [`PARALLEL_PROBES`] at a time, each within 5 s and `deadline`.
/// An error means the probing could not be done at all (Coder's EWP01).
pub fn probe_all(
    http: &HttpClient,
    urls: &[String],
    deadline: Deadline,
) -> Result<Vec<Probe>, String> {
    if !urls.iter().all(String::is_empty) && deadline.is_past() {
        return Err("no time left before the deadline to probe the proxies".to_string());
    }
    let results: Vec<Mutex<Option<Probe>>> = urls.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let workers = urls.len().min(PARALLEL_PROBES);
    std::thread::scope(|scope| -> Result<(), String> {
        for n in 0..workers {
            std::thread::Builder::new()
                .name(format!("proxy-probe-{n}"))
                .spawn_scoped(scope, || loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(url) = urls.get(i) else { break };
                    let probe = probe_one(http, url, deadline);
                    *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(probe);
                })
                .map_err(|e| format!("cannot start a probe thread: {e}"))?;
        }
        Ok(())
    })?;
    results
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .ok_or_else(|| "a probe ended without a result".to_string())
        })
        .collect()
}

/// Probes one proxy (no request at all for a proxy that never registered its URL).
pub fn probe_one(http: &HttpClient, proxy_url: &str, deadline: Deadline) -> Probe {
    let started = Instant::now();
    let (status, report, evidence) = if proxy_url.is_empty() {
        (
            ProxyHealth::Unregistered,
            ProxyHealthReport::default(),
            None,
        )
    } else {
        let url = report_url(proxy_url);
        let deadline = deadline.capped(PROBE_TIMEOUT);
        let answer = http.get(&url, deadline, &[]);
        let evidence = evidence(&answer);
        let (status, report) = judge(&url, answer);
        (status, report, evidence)
    };
    Probe {
        status,
        report,
        evidence,
        checked_at: OffsetDateTime::now_utc(),
        took: started.elapsed(),
    }
}

/// What an answer shows when it is not a health report: the request's failure, or the status
/// and body start of an answer other than 200 or of a 200 that is not JSON (a web page: the
/// primary's dashboard, another web server).
fn evidence(answer: &Result<HttpResponse, HttpError>) -> Option<Evidence> {
    match answer {
        Err(e) => e.evidence.clone(),
        Ok(response) if response.status != 200 || !response.body.trim_start().starts_with('{') => {
            Some(Evidence::HttpStatus {
                status: response.status,
                body_start: response.body_snippet(120),
            })
        }
        Ok(_) => None,
    }
}

/// The verdict on one `/healthz-report` answer.
pub fn judge(
    url: &str,
    answer: Result<HttpResponse, HttpError>,
) -> (ProxyHealth, ProxyHealthReport) {
    let shown = redact_url(url);
    let failed = |status, error: String| {
        (
            status,
            ProxyHealthReport {
                errors: vec![error],
                warnings: Vec::new(),
            },
        )
    };
    let response = match answer {
        Ok(response) => response,
        Err(e) if e.kind == HttpErrorKind::InvalidUrl => {
            return failed(
                ProxyHealth::Unhealthy,
                format!("invalid proxy URL {shown:?}: {e}"),
            )
        }
        Err(e) => {
            return failed(
                ProxyHealth::Unreachable,
                format!("request to proxy failed: GET {shown:?}: {e}"),
            )
        }
    };
    if response.status != 200 {
        let mut error = format!("unexpected status code {} from {shown:?}.", response.status);
        match serde_json::from_str::<ApiError>(&response.body) {
            Ok(ApiError {
                message: Some(message),
                detail,
            }) => {
                error.push_str(&format!(" The proxy says: {message}"));
                if let Some(detail) = detail.filter(|d| !d.is_empty()) {
                    error.push_str(&format!(" ({detail})"));
                }
            }
            _ if !response.body.trim().is_empty() => {
                error.push_str(&format!(" Body: {}", response.body_snippet(120)));
            }
            _ => {}
        }
        return failed(ProxyHealth::Unhealthy, error);
    }
    // Like Go's json.Decoder: the first JSON value decides; what follows it is not read.
    let first = serde_json::Deserializer::from_str(&response.body)
        .into_iter::<WireReport>()
        .next();
    match first {
        Some(Ok(wire)) => {
            let report = ProxyHealthReport {
                errors: wire.errors.unwrap_or_default(),
                warnings: wire.warnings.unwrap_or_default(),
            };
            let status = if report.errors.is_empty() {
                ProxyHealth::Ok
            } else {
                ProxyHealth::Unhealthy
            };
            (status, report)
        }
        _ => {
            let mut error = format!(
                "proxy URL {shown:?} answered 200 but not with a health report ({:?})",
                snippet(&response.body, 60)
            );
            if response.header("X-Coder-Build-Version").is_some() {
                error.push_str(": could this be a primary coderd rather than a workspace proxy?");
            } else {
                error.push_str(": is this a Coder workspace proxy?");
            }
            let content_type = response.header("Content-Type").unwrap_or_default();
            if !content_type.starts_with("application/json") {
                error.push_str(&format!(" (content type {content_type:?}, expected JSON)"));
            }
            failed(ProxyHealth::Unhealthy, error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(
        status: u16,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<HttpResponse, HttpError> {
        Ok(HttpResponse {
            status,
            final_url: "http://p/healthz-report".into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.into(),
            body_truncated: false,
        })
    }

    const URL: &str = "http://p/healthz-report";

    #[test]
    fn probing_fails_as_a_whole_without_time_left() {
        let http = HttpClient::new(&crate::net::tls::Tls::new(&[]).unwrap());
        let past = Deadline::after(Duration::from_millis(1));
        std::thread::sleep(Duration::from_millis(2));
        let err = probe_all(&http, &["http://127.0.0.1:9".to_string()], past).unwrap_err();
        assert!(err.contains("no time left"), "{err}");
        // Unregistered proxies need no request, so no time either.
        let probes = probe_all(&http, &[String::new()], past).unwrap();
        assert_eq!(probes[0].status, ProxyHealth::Unregistered);
    }

    #[test]
    fn report_url_trims_slashes() {
        assert_eq!(
            report_url("https://p.example.com/"),
            "https://p.example.com/healthz-report"
        );
        assert_eq!(
            report_url("https://p.example.com"),
            "https://p.example.com/healthz-report"
        );
    }

    #[test]
    fn verdicts_follow_the_report() {
        let json = [("Content-Type", "application/json")];
        let (status, report) = judge(URL, answer(200, &json, r#"{"errors":[],"warnings":[]}"#));
        assert_eq!(status, ProxyHealth::Ok);
        assert_eq!(report, ProxyHealthReport::default());
        let (status, report) = judge(URL, answer(200, &json, r#"{"errors":null}"#));
        assert_eq!(status, ProxyHealth::Ok);
        assert!(report.warnings.is_empty());
        let (status, report) = judge(
            URL,
            answer(
                200,
                &json,
                r#"{"errors":["db down"],"warnings":["slow"]} trailing"#,
            ),
        );
        assert_eq!(status, ProxyHealth::Unhealthy);
        assert_eq!(report.errors, vec!["db down"]);
        assert_eq!(report.warnings, vec!["slow"]);
    }

    #[test]
    fn not_a_report_is_unhealthy_with_a_reason() {
        let (status, report) = judge(
            URL,
            answer(200, &[("Content-Type", "text/html")], "<html>login</html>"),
        );
        assert_eq!(status, ProxyHealth::Unhealthy);
        assert!(
            report.errors[0].contains("is this a Coder workspace proxy?"),
            "{report:?}"
        );
        assert!(report.errors[0].contains("content type \"text/html\""));
        let (_, report) = judge(
            URL,
            answer(
                200,
                &[
                    ("X-Coder-Build-Version", "v2.18.1"),
                    ("Content-Type", "text/plain"),
                ],
                "OK",
            ),
        );
        assert!(report.errors[0].contains("primary coderd"), "{report:?}");
    }

    #[test]
    fn other_statuses_are_unhealthy() {
        let (status, report) = judge(
            URL,
            answer(503, &[], r#"{"message":"Proxy down","detail":"no coderd"}"#),
        );
        assert_eq!(status, ProxyHealth::Unhealthy);
        assert!(report.errors[0].starts_with("unexpected status code 503"));
        assert!(report.errors[0].contains("Proxy down (no coderd)"));
    }

    #[test]
    fn transport_errors_are_unreachable() {
        let refused = HttpError::new(HttpErrorKind::Refused, "connection refused");
        let (status, report) = judge(URL, Err(refused));
        assert_eq!(status, ProxyHealth::Unreachable);
        assert!(report.errors[0]
            .starts_with("request to proxy failed: GET \"http://p/healthz-report\""));
        let invalid = HttpError::new(HttpErrorKind::InvalidUrl, "bad");
        assert_eq!(judge(URL, Err(invalid)).0, ProxyHealth::Unhealthy);
    }

    #[test]
    fn evidence_is_the_failure_or_the_status_with_the_body_start() {
        let primary_page = answer(404, &[], "<html>Coder dashboard</html>");
        assert_eq!(
            evidence(&primary_page),
            Some(Evidence::HttpStatus {
                status: 404,
                body_start: "<html>Coder dashboard</html>".into(),
            })
        );
        assert_eq!(evidence(&answer(200, &[], r#"{"errors":[]}"#)), None);
        let mut refused = HttpError::new(HttpErrorKind::Refused, "connection refused");
        refused.evidence = Some(Evidence::Refused {
            address: "p:80".into(),
        });
        assert_eq!(
            evidence(&Err(refused)),
            Some(Evidence::Refused {
                address: "p:80".into()
            })
        );
    }
}
