//! Provisioner daemons: the daemons seen within Coder's 90 s stale interval (by the database's
//! clock), each judged against the server's version and provisioner API major exactly as Coder
//! judges them (coder-health.md section 7). Section-level messages also name the daemon, so the
//! table says which one is concerned; item-level messages are Coder's own.

use crate::checks::deployment::BuildInfo;
use crate::checks::versions::{
    go_quote, is_valid, parse_api_version, server_api_major, versions_match,
};
use crate::checks::{Context, REPORT_MARGIN};
use crate::coder_db::{DaemonRow, Daemons};
use crate::report::provisioner_daemons::{DaemonItem, ProvisionerDaemon, ProvisionerDaemonsReport};
use crate::report::{BaseReport, Code, Message, Severity};

/// What the daemons are compared with.
#[derive(Clone, Debug)]
pub struct Server {
    pub version: Option<String>,
    /// Why the version is unknown, when it is.
    pub version_error: Option<String>,
    /// The server's current provisioner API major, or why it cannot be known.
    pub api_major: Result<i64, String>,
}

impl Server {
    pub fn of(build: &Result<BuildInfo, String>) -> Server {
        match build {
            Ok(info) => Server {
                version: info.version.clone(),
                version_error: None,
                api_major: server_api_major(info.provisioner_api_version.as_deref()),
            },
            Err(why) => Server {
                version: None,
                version_error: Some(why.clone()),
                api_major: server_api_major(None),
            },
        }
    }
}

/// A live daemon's version against the server's (EUNKNOWN when invalid, EPD02 when it differs):
/// the section's finding names the daemon; Coder's own item-level warning goes to `warnings`.
fn judge_version(
    base: &mut BaseReport,
    daemon: &DaemonRow,
    server: &Server,
    warnings: &mut Vec<Message>,
) {
    let name = &daemon.name;
    let v = daemon.version.as_deref().unwrap_or_default();
    if !is_valid(v) {
        base.warn(
            Severity::Error,
            Code::Eunknown,
            format!(
                "Some provisioner daemons report invalid version information: {name} ({})",
                go_quote(v)
            ),
        );
        warnings.push(Message::new(
            Code::Eunknown,
            format!("Invalid version {}", go_quote(v)),
        ));
    } else if let Some(server_version) = &server.version {
        if !versions_match(server_version, v) {
            base.warn(
                Severity::Warning,
                Code::Epd02,
                format!("Some provisioner daemons report mismatched versions: {name} ({v})"),
            );
            warnings.push(Message::new(
                Code::Epd02,
                format!("Mismatched version {}", go_quote(v)),
            ));
        }
    }
}

/// A live daemon's provisioner API version against the server's major (EUNKNOWN when invalid,
/// EPD03 when the major differs), reported as `judge_version` does.
fn judge_api_version(
    base: &mut BaseReport,
    daemon: &DaemonRow,
    server: &Server,
    warnings: &mut Vec<Message>,
) {
    let name = &daemon.name;
    let api = daemon.api_version.as_deref().unwrap_or_default();
    match parse_api_version(api) {
        Err(e) => {
            base.warn(
                Severity::Error,
                Code::Eunknown,
                format!(
                    "Some provisioner daemons report invalid API version information: \
                     {name} ({e})"
                ),
            );
            warnings.push(Message::new(
                Code::Eunknown,
                format!("Invalid API version: {e}"),
            ));
        }
        Ok((major, _)) => {
            if let Ok(server_major) = server.api_major {
                if major != server_major {
                    base.warn(
                        Severity::Warning,
                        Code::Epd03,
                        format!(
                            "Some provisioner daemons report deprecated major API \
                             versions: {name} (API {api}). Consider upgrading!"
                        ),
                    );
                    // Coder names the server's current major here, not the daemon's.
                    warnings.push(Message::new(
                        Code::Epd03,
                        format!("Deprecated major API version {server_major}."),
                    ));
                }
            }
        }
    }
}

pub fn run(ctx: &Context) -> ProvisionerDaemonsReport {
    let mut report = ProvisionerDaemonsReport::default();
    let snapshot = ctx.db().and_then(|db| db.snapshot(ctx.deadline));
    let pending = snapshot.as_ref().ok().map(|s| s.pending_jobs.clone());
    let read = snapshot.and_then(|snapshot| Ok((snapshot.daemons?, snapshot.now, snapshot.place)));
    // The build info is fetched alongside; waiting for it costs nothing once the read is done.
    let server = Server::of(&ctx.deployment.build_info(ctx.deadline.less(REPORT_MARGIN)));
    report.view.server_version = server.version.clone();
    match read {
        // Coder's own wording, without a code.
        Err(e) => {
            report
                .base
                .fail_uncoded(format!("error fetching provisioner daemons: {e}"));
        }
        Ok((daemons, now, place)) => {
            report.view.place = place;
            report.view.db_now = Some(now);
            judge(&mut report, daemons, &server);
            if let Some(pending) = pending {
                jobs::judge(&mut report, pending);
            }
        }
    }
    report
}

/// Coder's roll-up (section 7, steps 6-8) over the rows read, with our additions for what an
/// outside view cannot know (server version, columns an older schema lacks).
pub fn judge(report: &mut ProvisionerDaemonsReport, daemons: Daemons, server: &Server) {
    report.view.missing_columns = daemons.missing_columns.clone();
    if !daemons.has_last_seen_at {
        report.base.warn(
            Severity::Warning,
            Code::Eunknown,
            format!(
                "cannot tell which provisioner daemons are active: this Coder schema has no \
                 provisioner_daemons.last_seen_at column ({} daemons registered)",
                daemons.rows.len()
            ),
        );
        return;
    }
    let (recent, inactive): (Vec<DaemonRow>, Vec<DaemonRow>) =
        daemons.rows.into_iter().partition(DaemonRow::is_recent);
    report.view.inactive = inactive
        .into_iter()
        .map(|d| (d.name, d.last_seen_at.and(d.age_micros)))
        .collect();
    for daemon in recent {
        let mut warnings = Vec::new();
        if daemons.has_version {
            judge_version(&mut report.base, &daemon, server, &mut warnings);
        }
        if daemons.has_api_version {
            judge_api_version(&mut report.base, &daemon, server, &mut warnings);
        }
        report.view.ages.push(daemon.age_micros);
        report.items.push(DaemonItem {
            provisioner_daemon: sdk_daemon(daemon),
            warnings,
        });
    }
    if report.items.is_empty() {
        // Coder's words, then which daemons are registered and when each was last seen.
        let mut message = "No active provisioner daemons found!".to_string();
        if !report.view.inactive.is_empty() {
            let seen: Vec<String> = report
                .view
                .inactive
                .iter()
                .map(|(name, age)| match age {
                    Some(us) => format!("{name} last seen {} ago", whole_seconds(*us)),
                    None => format!("{name} never connected"),
                })
                .collect();
            // A deployment may have registered hundreds over the years: the first few by name.
            let more = seen.len().saturating_sub(NAMED_INACTIVE);
            let mut list = seen[..seen.len().min(NAMED_INACTIVE)].join(", ");
            if more > 0 {
                list.push_str(&format!(" and {more} more"));
            }
            message.push_str(&format!(
                " Registered but not seen within {}: {list}",
                crate::duration::go_string(crate::report::provisioner_daemons::STALE_INTERVAL),
            ));
        }
        report.base.warn(Severity::Error, Code::Epd01, message);
        return;
    }
    // What an outside view could not judge is said, never passed silently.
    if daemons.has_version && server.version.is_none() {
        let why = server
            .version_error
            .as_deref()
            .unwrap_or("the server did not report one");
        report.base.warn(
            Severity::Warning,
            Code::Eunknown,
            format!("cannot compare daemon versions: server version unknown ({why})"),
        );
    }
    if !daemons.has_version {
        report.base.warn(
            Severity::Warning,
            Code::Eunknown,
            "cannot compare daemon versions: this Coder schema has no provisioner_daemons.version column",
        );
    }
    if let (true, Err(e)) = (daemons.has_api_version, &server.api_major) {
        report.base.warn(
            Severity::Warning,
            Code::Eunknown,
            format!(
                "cannot compare daemon API versions: the server's provisioner_api_version is not \
                 usable ({e})"
            ),
        );
    }
}

/// How many inactive daemons EPD01 names.
const NAMED_INACTIVE: usize = 10;

/// An age in microseconds as Go prints whole seconds (`2m22s`).
fn whole_seconds(micros: i64) -> String {
    crate::duration::go_string(std::time::Duration::from_secs(
        (micros.max(0) / 1_000_000) as u64,
    ))
}

fn sdk_daemon(d: DaemonRow) -> ProvisionerDaemon {
    ProvisionerDaemon {
        id: d.id,
        organization_id: d.organization_id,
        key_id: d.key_id,
        created_at: d.created_at,
        last_seen_at: d.last_seen_at,
        name: d.name,
        version: d.version,
        api_version: d.api_version,
        provisioners: d.provisioners,
        tags: d
            .tags
            .unwrap_or_else(|| serde_json::Value::Object(Default::default())),
        key_name: None,
        status: None,
        current_job: None,
        previous_job: None,
    }
}

pub mod jobs;

#[cfg(test)]
pub(crate) mod tests;
