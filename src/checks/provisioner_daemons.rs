//! Provisioner daemons: the daemons seen within Coder's 90 s stale interval (by the database's
//! clock), each judged against the server's version and provisioner API major exactly as Coder
//! judges them (coder-health.md section 7). Section-level messages also name the daemon, so the
//! table says which one is concerned; item-level messages are Coder's own.

pub mod version;

use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::checks::{Context, Deployment};
use crate::coder_db::{CoderDb, DaemonRow, Daemons};
use crate::codes::Code;
use crate::report::{BaseReport, Message, SectionReport, Severity};
use version::{go_quote, is_valid, parse_api_version, server_api_major, versions_match};

/// Names listed in one table line before "and N more".
const NAMES_IN_SUMMARY: usize = 5;

#[derive(Debug, Default, Serialize)]
pub struct ProvisionerDaemonsReport {
    #[serde(flatten)]
    pub base: BaseReport,
    pub items: Vec<DaemonItem>,
    /// What the table and `--verbose` show besides the JSON.
    #[serde(skip)]
    pub view: DaemonsView,
}

#[derive(Debug, Serialize)]
pub struct DaemonItem {
    pub provisioner_daemon: ProvisionerDaemon,
    pub warnings: Vec<Message>,
}

/// codersdk's `ProvisionerDaemon`. `null` in a field an older Coder schema lacks means unknown.
#[derive(Debug, Serialize)]
pub struct ProvisionerDaemon {
    pub id: Uuid,
    pub organization_id: Option<Uuid>,
    pub key_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_seen_at: Option<OffsetDateTime>,
    pub name: String,
    pub version: Option<String>,
    pub api_version: Option<String>,
    pub provisioners: Vec<String>,
    pub tags: serde_json::Value,
    /// Newer SDK fields; always null in health items.
    pub key_name: Option<String>,
    pub status: Option<String>,
    pub current_job: Option<serde_json::Value>,
    pub previous_job: Option<serde_json::Value>,
}

/// Facts for the table and `--verbose`.
#[derive(Debug, Default)]
pub struct DaemonsView {
    pub place: String,
    pub db_now: Option<OffsetDateTime>,
    pub server_version: Option<String>,
    /// Registered but not active: name and age (None = never connected).
    pub inactive: Vec<(String, Option<i64>)>,
    pub missing_columns: Vec<&'static str>,
    pub ages: Vec<Option<i64>>,
}

impl SectionReport for ProvisionerDaemonsReport {
    fn base(&self) -> &BaseReport {
        &self.base
    }
    fn base_mut(&mut self) -> &mut BaseReport {
        &mut self.base
    }
    fn summary(&self) -> String {
        let names: Vec<String> = self
            .items
            .iter()
            .map(|i| {
                let d = &i.provisioner_daemon;
                format!(
                    "{} ({})",
                    d.name,
                    d.version.as_deref().unwrap_or("version unknown")
                )
            })
            .collect();
        format!(
            "{} provisioner daemon{} active (seen within 90s by the database clock): {}",
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            shorten(&names)
        )
    }
    fn details(&self) -> Vec<String> {
        let v = &self.view;
        let mut lines = Vec::new();
        if !v.place.is_empty() {
            let now = v.db_now.map(rfc3339).unwrap_or_default();
            lines.push(format!(
                "read from {} (database clock {now}); active = seen within 90s",
                v.place
            ));
        }
        lines.push(format!(
            "server version: {}",
            v.server_version.as_deref().unwrap_or("unknown")
        ));
        for (item, age) in self.items.iter().zip(&v.ages) {
            let d = &item.provisioner_daemon;
            lines.push(format!(
                "{}: version {}, API {}, last seen {} ago, provisioners {}, tags {}",
                d.name,
                d.version.as_deref().unwrap_or("unknown"),
                d.api_version.as_deref().unwrap_or("unknown"),
                age_text(*age),
                d.provisioners.join(","),
                d.tags
            ));
        }
        if !v.inactive.is_empty() {
            let names: Vec<String> = v
                .inactive
                .iter()
                .map(|(name, age)| match age {
                    Some(age) => format!("{name} (last seen {} ago)", age_text(Some(*age))),
                    None => format!("{name} (never connected)"),
                })
                .collect();
            lines.push(format!("not active: {}", shorten(&names)));
        }
        if !v.missing_columns.is_empty() {
            lines.push(format!(
                "this Coder schema has no provisioner_daemons column {}: reported as unknown",
                v.missing_columns.join(", ")
            ));
        }
        lines
    }
}

fn shorten(names: &[String]) -> String {
    if names.len() <= NAMES_IN_SUMMARY {
        names.join(", ")
    } else {
        format!(
            "{} and {} more",
            names[..NAMES_IN_SUMMARY].join(", "),
            names.len() - NAMES_IN_SUMMARY
        )
    }
}

fn age_text(age_micros: Option<i64>) -> String {
    match age_micros {
        Some(us) => crate::duration::short(Duration::from_micros(us.max(0) as u64)),
        None => "unknown".to_string(),
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

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
    pub fn of(deployment: &Deployment) -> Server {
        Server {
            version: deployment.coder_version.clone(),
            version_error: deployment.buildinfo_error.clone(),
            api_major: server_api_major(deployment.provisioner_api_version.as_deref()),
        }
    }
}

pub fn run(ctx: &Context) -> ProvisionerDaemonsReport {
    let mut report = ProvisionerDaemonsReport::default();
    let Some(setting) = &ctx.settings.postgres else {
        report.base.skip(
            "no database configured (set --postgres-url or CODER_PG_CONNECTION_URL; \
             no built-in PostgreSQL was discovered)",
        );
        return report;
    };
    let server = Server::of(&ctx.deployment);
    report.view.server_version = server.version.clone();
    let read = CoderDb::connect(setting, ctx.deadline).and_then(|mut db| {
        db.read(ctx.deadline, |r| {
            Ok((r.provisioner_daemons()?, r.now, r.place.clone()))
        })
    });
    match read {
        // Coder's own wording, without a code.
        Err(e) => {
            report.base.severity = Severity::Error;
            report.base.error = Some(format!("error fetching provisioner daemons: {e}"));
        }
        Ok((daemons, now, place)) => {
            report.view.place = place;
            report.view.db_now = Some(now);
            judge(&mut report, daemons, &server);
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
    let base = &mut report.base;
    for daemon in recent {
        let mut warnings = Vec::new();
        let name = &daemon.name;
        if daemons.has_version {
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
                        format!(
                            "Some provisioner daemons report mismatched versions: {name} ({v})"
                        ),
                    );
                    warnings.push(Message::new(
                        Code::Epd02,
                        format!("Mismatched version {}", go_quote(v)),
                    ));
                }
            }
        }
        if daemons.has_api_version {
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
        report.view.ages.push(daemon.age_micros);
        report.items.push(DaemonItem {
            provisioner_daemon: sdk_daemon(daemon),
            warnings,
        });
    }
    if report.items.is_empty() {
        report.base.warn(
            Severity::Error,
            Code::Epd01,
            "No active provisioner daemons found!",
        );
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

#[cfg(test)]
pub(crate) mod tests;
