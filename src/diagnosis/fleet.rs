//! Causes among coderd's helpers: provisioner daemons that are gone or on another version,
//! builds that no live daemon can take, workspace proxies whose name lands on something else
//! (the primary, a web server), and the license the premium ones stop with.

use super::{account, and_list, cause, cite, line, ran, shown_coded, Diagnosis};
use crate::report::workspace_proxy::ProxyHealth;
use crate::report::{Code, Evidence, Report, SectionId, Severity};

/// "40 s", "10 min", "3 h", "2 days": how long ago, for people.
pub fn age_words(micros: i64) -> String {
    let seconds = micros / 1_000_000;
    match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 2 * 3600 => format!("{} min", s / 60),
        s if s < 2 * 86_400 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

pub fn stale_daemons(report: &Report) -> Option<Diagnosis> {
    let base = ran(report, SectionId::ProvisionerDaemons)?;
    let finding = base.all_findings().find(|f| f.code == Code::Epd01)?;
    let inactive = &report.provisioner_daemons.view.inactive;
    let mut d = line(
        Code::Epd01,
        SectionId::ProvisionerDaemons,
        Severity::Error,
        String::new(),
    );
    cite(&mut d, finding.evidence.as_ref());
    d.message = if inactive.is_empty() {
        "no provisioner daemon has ever registered with coderd, so builds will stay pending: \
         run coderd's built-in daemons (CODER_PROVISIONER_DAEMONS above 0) or start external \
         ones (coder provisioner start)"
            .to_string()
    } else {
        let seen: Vec<String> = inactive
            .iter()
            .map(|(name, age)| match age {
                Some(age) => format!("{name} last seen {} ago", age_words(*age)),
                None => format!("{name} never connected"),
            })
            .collect();
        format!(
            "no provisioner daemon is live ({}; a daemon is stale after 90 s), so builds will \
             stay pending: restart them, or check that they still reach coderd",
            and_list(&seen)
        )
    };
    // Builds already waiting are this cause's effect.
    if let Some(pending) = report.provisioner_daemons.pending_jobs.as_ref() {
        if base.warning_coded(Code::Epq01).is_some() && pending.count > 0 {
            account(&mut d, SectionId::ProvisionerDaemons, Some(Code::Epq01));
            d.message
                .push_str(&format!("; {} waiting already", builds(pending.count)));
        }
    }
    Some(d)
}

fn builds(count: i64) -> String {
    if count == 1 {
        "1 build is".to_string()
    } else {
        format!("{count} builds are")
    }
}

/// A tag set as `coder provisioner start` takes it: `--tag k=v ...`. `owner` and `scope` are
/// not flags: coderd sets them from the key or the user that starts the daemon.
fn tag_flags(tags: &serde_json::Value) -> String {
    let flags: Vec<String> = tags
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !matches!(k.as_str(), "owner" | "scope"))
        .map(|(k, v)| format!("--tag {k}={}", v.as_str().unwrap_or_default()))
        .collect();
    flags.join(" ")
}

pub fn pending_jobs(report: &Report) -> Option<Diagnosis> {
    let base = ran(report, SectionId::ProvisionerDaemons)?;
    let finding = shown_coded(report, SectionId::ProvisionerDaemons, Code::Epq01)?;
    // With no live daemon at all, `stale_daemons` names the cause and counts these builds.
    if base.all_findings().any(|f| f.code == Code::Epd01) {
        return None;
    }
    let pending = report.provisioner_daemons.pending_jobs.as_ref()?;
    let oldest = pending
        .oldest_age_seconds
        .map(|s| format!(", the oldest for {}", age_words((s * 1e6) as i64)))
        .unwrap_or_default();
    let unmatched: Vec<String> = pending
        .groups
        .iter()
        .filter(|g| g.matched == Some(false))
        .map(|g| {
            let provisioner = g
                .provisioner
                .as_deref()
                .map(|p| format!(" for {p}"))
                .unwrap_or_default();
            format!("tags {}{provisioner}", g.tags)
        })
        .collect();
    let message = if finding.severity >= Severity::Error && !unmatched.is_empty() {
        let start = pending
            .groups
            .iter()
            .find(|g| g.matched == Some(false))
            .map(|g| tag_flags(&g.tags))
            .filter(|flags| !flags.is_empty())
            .map(|flags| format!(" (coder provisioner start {flags})"))
            .unwrap_or_default();
        format!(
            "{} waiting for a provisioner daemon that does not exist{oldest}: no live daemon \
             offers {}, so these builds will never start; start a daemon with those tags{start}, \
             or change the template's tags to ones a running daemon has",
            builds(pending.count),
            and_list(&unmatched)
        )
    } else {
        format!(
            "{} queued{oldest} although a live daemon could take them: the daemons are busy \
             or slow; add daemons, or look at the builds that hold them",
            builds(pending.count)
        )
    };
    Some(cause(
        &finding,
        Code::Epq01,
        SectionId::ProvisionerDaemons,
        message,
    ))
}

pub fn license(report: &Report) -> Option<Diagnosis> {
    let finding = shown_coded(report, SectionId::WorkspaceProxy, Code::Elic01)?;
    let license = report.workspace_proxy.license.as_ref()?;
    let date = license.expires_at.date();
    let message = if license.days_left < 0 {
        format!(
            "the Coder license expired on {date}: premium features have stopped, workspace \
             proxies among them; add a renewed license (coder licenses add)"
        )
    } else {
        format!(
            "the Coder license expires on {date}: premium features, workspace proxies among \
             them, stop then; add a renewed license before that day (coder licenses add)"
        )
    };
    Some(cause(
        &finding,
        Code::Elic01,
        SectionId::WorkspaceProxy,
        message,
    ))
}

pub fn skewed_daemons(report: &Report) -> Option<Diagnosis> {
    let base = ran(report, SectionId::ProvisionerDaemons)?;
    let finding = base
        .all_findings()
        .find(|f| matches!(f.code, Code::Epd02 | Code::Epd03))?;
    let server = report
        .provisioner_daemons
        .view
        .server_version
        .clone()
        .unwrap_or_else(|| report.coder_version.clone());
    let skewed: Vec<String> = report
        .provisioner_daemons
        .items
        .iter()
        .filter(|i| {
            i.warnings
                .iter()
                .any(|w| matches!(w.code, Code::Epd02 | Code::Epd03))
        })
        .map(|i| {
            let p = &i.provisioner_daemon;
            let version = p.version.as_deref().unwrap_or("an unknown version");
            match (finding.code, p.api_version.as_deref()) {
                (Code::Epd03, Some(api)) => format!("{} ({version}, API {api})", p.name),
                _ => format!("{} ({version})", p.name),
            }
        })
        .collect();
    let mut d = line(
        finding.code,
        SectionId::ProvisionerDaemons,
        Severity::Warning,
        String::new(),
    );
    let one = skewed.len() == 1;
    d.message = format!(
        "provisioner daemon{} {} run{} another version than coderd ({server}): upgrade {} to \
         coderd's version before the difference breaks builds",
        if one { "" } else { "s" },
        and_list(&skewed),
        if one { "s" } else { "" },
        if one { "it" } else { "them" },
    );
    Some(d)
}

/// What answered a proxy's `/healthz-report`, in words.
fn answered(evidence: &Evidence) -> String {
    match evidence {
        Evidence::HttpStatus { status, body_start } if body_start.trim_start().starts_with('<') => {
            format!("answered an HTML page (HTTP {status})")
        }
        Evidence::HttpStatus { status, body_start } => {
            format!("answered HTTP {status} ({body_start:?})")
        }
        Evidence::Refused { .. } => "refused the connection".to_string(),
        Evidence::Timeout { .. } => "gave no answer in time".to_string(),
        Evidence::Dns { .. } => "does not resolve".to_string(),
        Evidence::Tls { problem, .. } => format!("failed TLS ({})", problem.kind()),
        other => format!("failed ({})", other.kind()),
    }
}

pub fn proxies(report: &Report) -> Option<Diagnosis> {
    let base = ran(report, SectionId::WorkspaceProxy)?;
    // The license has a rule of its own.
    let code = base
        .all_findings()
        .find(|f| f.code != Code::Elic01)
        .map(|f| f.code)?;
    let failing: Vec<_> = report
        .workspace_proxy
        .workspace_proxies
        .regions
        .iter()
        .filter(|p| !p.healthy && p.status.status != ProxyHealth::Unregistered)
        .filter_map(|p| Some((p, p.status.evidence.as_ref()?)))
        .collect();
    if failing.is_empty() {
        return None;
    }
    let severity = base.severity.max(Severity::Warning);
    let mut d = line(code, SectionId::WorkspaceProxy, severity, String::new());
    let mut elsewhere = Vec::new();
    let mut down = Vec::new();
    for (proxy, evidence) in &failing {
        cite(&mut d, Some(evidence));
        let what = format!(
            "\"{}\" ({}) {}",
            proxy.name,
            proxy.path_app_url,
            answered(evidence)
        );
        match evidence {
            Evidence::HttpStatus { .. } => elsewhere.push(what),
            _ => down.push(what),
        }
    }
    let mut parts = Vec::new();
    if !elsewhere.is_empty() {
        parts.push(format!(
            "workspace prox{} {} instead of a health report: the name most likely resolves to \
             the primary (a wildcard DNS record catches it) or to another web server; point \
             each proxy's DNS name at the proxy itself",
            if elsewhere.len() == 1 { "y" } else { "ies" },
            and_list(&elsewhere)
        ));
    }
    if !down.is_empty() {
        parts.push(format!(
            "workspace prox{} {}: start {} or fix the URL it registered",
            if down.len() == 1 { "y" } else { "ies" },
            and_list(&down),
            if down.len() == 1 { "it" } else { "them" }
        ));
    }
    d.message = parts.join("; ");
    Some(d)
}
