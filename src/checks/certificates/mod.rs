//! TLS Certificates (ours, not Coder's): reads the leaf certificate of every TLS endpoint the
//! run reaches, with handshakes of its own, all at once under the run's deadline, and judges
//! the dates. Whether a certificate is trusted stays the owning section's finding (EACS03, a
//! DERP node's error); this section reports expiry, even for certificates that fail
//! verification.

mod endpoints;
pub mod read;

use std::cell::Cell;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::checks::{derp, Context, REPORT_MARGIN};
use crate::pool::{CloseOnDrop, Feed};
use crate::report::certificates::{Certificate, CertificatesReport, Unread};
use crate::report::Code;
use crate::settings::{AccessUrl, CheckSettings};
use endpoints::Endpoint;
use read::Leaf;

const SECONDS_PER_DAY: i64 = 86_400;

pub struct Options {
    pub access_url: Option<AccessUrl>,
    pub derp: derp::Options,
    pub dsn: Option<String>,
    pub warning: Duration,
}

impl From<&CheckSettings> for Options {
    fn from(settings: &CheckSettings) -> Options {
        Options {
            access_url: settings.access_url.clone(),
            derp: derp::Options::from(settings),
            dsn: settings.postgres.as_ref().map(|p| p.dsn.clone()),
            warning: settings.cert_expiry_warning,
        }
    }
}

/// One endpoint, what uses it, and what its handshake gave.
struct Entry {
    endpoint: Endpoint,
    used_by: Vec<String>,
    outcome: Option<Result<Leaf, read::Unread>>,
}

/// Endpoints found so far; each distinct one is read once, as soon as it is found.
#[derive(Default)]
struct Registry {
    entries: Mutex<Vec<Entry>>,
}

impl Registry {
    /// Files `endpoint`: the index of its new entry, to be read; `None` when it was already
    /// filed (its user is added to that entry).
    fn add(&self, endpoint: &Endpoint) -> Option<usize> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let same = entries.iter_mut().enumerate().find(|(_, e)| {
            e.endpoint.host.eq_ignore_ascii_case(&endpoint.host)
                && e.endpoint.port == endpoint.port
                && e.endpoint.kind == endpoint.kind
        });
        if let Some((_, entry)) = same {
            if !entry.used_by.contains(&endpoint.used_by) {
                entry.used_by.push(endpoint.used_by.clone());
            }
            return None;
        }
        entries.push(Entry {
            endpoint: endpoint.clone(),
            used_by: vec![endpoint.used_by.clone()],
            outcome: None,
        });
        Some(entries.len() - 1)
    }

    fn settle(&self, index: usize, outcome: Result<Leaf, read::Unread>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries[index].outcome = Some(outcome);
    }
}

/// Handshakes in flight at once; further endpoints wait for a free worker (a DERP map or the
/// workspace proxies can name thousands, and a thread each would exhaust a service's task
/// limit).
const WORKERS: usize = 64;

pub fn run(options: &Options, ctx: &Context) -> CertificatesReport {
    let deadline = ctx.deadline.less(REPORT_MARGIN).at();
    let registry = Registry::default();
    let feed: Feed<(usize, Endpoint)> = Feed::default();
    let mut notes = Vec::new();
    std::thread::scope(|scope| {
        let registry = &registry;
        let feed = &feed;
        let net = &ctx.net;
        let work = move || {
            while let Some((index, endpoint)) = feed.next() {
                let outcome = if Instant::now() >= deadline {
                    Err(read::Unread::Failed(
                        "not read: no time left before the deadline".to_string(),
                    ))
                } else {
                    read::read(&endpoint, net, deadline)
                };
                registry.settle(index, outcome);
            }
        };
        // Closed however this closure ends, so the workers stop and the scope can end.
        let _closer = CloseOnDrop(feed);
        let workers = Cell::new(0);
        let file = |found: Vec<Endpoint>| {
            for endpoint in found {
                if let Some(index) = registry.add(&endpoint) {
                    feed.push((index, endpoint));
                    // One more worker while there are fewer than WORKERS; a thread that cannot
                    // be started only means fewer at once.
                    if workers.get() < WORKERS
                        && std::thread::Builder::new()
                            .name(format!("check-certificates-{}", workers.get()))
                            .spawn_scoped(scope, work)
                            .is_ok()
                    {
                        workers.set(workers.get() + 1);
                    }
                }
            }
        };
        file(endpoints::access_url(options.access_url.as_ref()));
        file(endpoints::postgres(options.dsn.as_deref()));
        // These two need the network or the database first; each files its endpoints when it
        // has them, so a slow one holds up nobody. Without a thread, they run here.
        let derp_job = spawn_or_run(
            scope,
            "check-certificates-derp",
            Box::new(|| Found::Derp(endpoints::derp(&options.derp, ctx))),
        );
        let proxies_job = spawn_or_run(
            scope,
            "check-certificates-proxies",
            Box::new(|| Found::Proxies(endpoints::workspace_proxies(ctx))),
        );
        for job in [derp_job, proxies_job] {
            match job.join() {
                Some(Found::Derp(found)) => file(found),
                Some(Found::Proxies(Ok(found))) => file(found),
                Some(Found::Proxies(Err(why))) => notes.push(why),
                None => {
                    notes.push("listing the DERP nodes or workspace proxies failed".to_string())
                }
            }
        }
        drop(_closer);
        if workers.get() == 0 {
            work();
        }
    });
    let entries = registry
        .entries
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    let mut report = judge(entries, options.warning, OffsetDateTime::now_utc());
    report.notes = notes;
    report
}

/// What a listing job found.
enum Found {
    Derp(Vec<Endpoint>),
    Proxies(Result<Vec<Endpoint>, String>),
}

type Job<'scope> = Box<dyn FnOnce() -> Found + Send + 'scope>;

/// Runs `job` on a thread of its own, or here when no thread can be started.
fn spawn_or_run<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    name: &str,
    job: Job<'scope>,
) -> Pending<'scope> {
    // The job stays reachable here when the thread cannot start (its closure is dropped).
    let slot = std::sync::Arc::new(Mutex::new(Some(job)));
    let take = |slot: &Mutex<Option<Job<'scope>>>| {
        slot.lock().ok().and_then(|mut j| j.take()).map(|job| job())
    };
    let theirs = slot.clone();
    match std::thread::Builder::new()
        .name(name.to_string())
        .spawn_scoped(scope, move || take(&theirs))
    {
        Ok(handle) => Pending::Thread(handle),
        Err(_) => Pending::Here(take(&slot)),
    }
}

/// A listing job on its own thread, or already done on this one.
enum Pending<'scope> {
    Thread(std::thread::ScopedJoinHandle<'scope, Option<Found>>),
    Here(Option<Found>),
}

impl Pending<'_> {
    /// `None` when the job panicked.
    fn join(self) -> Option<Found> {
        match self {
            Pending::Thread(handle) => handle.join().ok().flatten(),
            Pending::Here(found) => found,
        }
    }
}

/// Files each certificate and its ETLS finding; endpoints without one are listed as unread.
fn judge(entries: Vec<Entry>, warning: Duration, now: OffsetDateTime) -> CertificatesReport {
    let mut report = CertificatesReport {
        warning_days: warning.as_secs_f64() / SECONDS_PER_DAY as f64,
        ..CertificatesReport::default()
    };
    let mut tls_endpoints = 0;
    for entry in entries {
        let endpoint = entry.endpoint.address();
        let used_by = entry.used_by.join(", ");
        match entry.outcome {
            Some(Ok(leaf)) => {
                tls_endpoints += 1;
                if let Some((code, message)) = finding(&leaf, warning, now) {
                    report.base.warn(
                        code.info().severity,
                        code,
                        format!("{endpoint} ({used_by}): {message}"),
                    );
                }
                report.certificates.push(Certificate {
                    endpoint,
                    used_by: entry.used_by,
                    subject: leaf.subject,
                    issuer: leaf.issuer,
                    not_before: rfc3339(leaf.not_before),
                    not_after: rfc3339(leaf.not_after),
                    days_left: days_between(now, leaf.not_after),
                });
            }
            Some(Err(read::Unread::NoTls)) => report.notes.push(format!(
                "{endpoint} ({used_by}): the server does not offer TLS, and the DSN does not \
                 require it"
            )),
            Some(Err(read::Unread::Failed(error))) => {
                tls_endpoints += 1;
                report.unread.push(Unread {
                    endpoint,
                    used_by: entry.used_by,
                    error,
                });
            }
            None => {
                tls_endpoints += 1;
                report.unread.push(Unread {
                    endpoint,
                    used_by: entry.used_by,
                    error: "the handshake did not finish".to_string(),
                });
            }
        }
    }
    if tls_endpoints == 0 {
        report
            .base
            .skip("no endpoint of this run uses TLS (the access URL, DERP nodes, workspace proxies and PostgreSQL are plain or not configured)");
    } else if report.certificates.is_empty() {
        // A section that checked nothing is never shown as OK: say why nothing was read.
        let first = &report.unread[0];
        let more = match report.unread.len() {
            1 => String::new(),
            n => format!(
                " (and {} more endpoint{})",
                n - 1,
                if n == 2 { "" } else { "s" }
            ),
        };
        report.base.skip(format!(
            "no certificate could be read: {} ({}): {}{more}",
            first.endpoint,
            first.used_by.join(", "),
            first.error
        ));
    }
    report
}

/// ETLS02 outside the validity period, ETLS01 within the warning period of its end.
fn finding(leaf: &Leaf, warning: Duration, now: OffsetDateTime) -> Option<(Code, String)> {
    let date = rfc3339(leaf.not_after);
    if now >= leaf.not_after {
        let ago = days_between(leaf.not_after, now);
        return Some((
            Code::Etls02,
            format!(
                "certificate expired on {date} ({}), subject {}",
                days_words(ago, "ago"),
                leaf.subject
            ),
        ));
    }
    if now < leaf.not_before {
        return Some((
            Code::Etls02,
            format!(
                "certificate is not valid until {} (check the clocks here and where it was issued), subject {}",
                rfc3339(leaf.not_before),
                leaf.subject
            ),
        ));
    }
    let left = leaf.not_after - now;
    if left.whole_seconds() <= warning.as_secs() as i64 {
        return Some((
            Code::Etls01,
            format!(
                "certificate expires on {date} ({}; warning at {}), subject {}",
                days_words(days_between(now, leaf.not_after), "left"),
                warning_words(warning),
                leaf.subject
            ),
        ));
    }
    None
}

/// Whole days from `from` to `to`, rounded down (negative when `to` is earlier).
fn days_between(from: OffsetDateTime, to: OffsetDateTime) -> i64 {
    (to - from).whole_seconds().div_euclid(SECONDS_PER_DAY)
}

fn days_words(days: i64, suffix: &str) -> String {
    match days {
        0 => format!("less than a day {suffix}"),
        1 => format!("1 day {suffix}"),
        n => format!("{n} days {suffix}"),
    }
}

fn warning_words(warning: Duration) -> String {
    let secs = warning.as_secs();
    if secs % SECONDS_PER_DAY as u64 == 0 {
        format!("{} days", secs / SECONDS_PER_DAY as u64)
    } else {
        crate::duration::go_string(warning)
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Severity;
    use time::macros::datetime;

    fn leaf(not_before: OffsetDateTime, not_after: OffsetDateTime) -> Leaf {
        Leaf {
            subject: "CN=coder.example.com".into(),
            issuer: "CN=Test CA".into(),
            not_before,
            not_after,
        }
    }

    const FOURTEEN_DAYS: Duration = Duration::from_secs(14 * 86_400);

    #[test]
    fn dates_make_findings() {
        let now = datetime!(2025-06-01 12:00 UTC);
        let fine = leaf(
            datetime!(2025-01-01 0:00 UTC),
            datetime!(2026-01-01 0:00 UTC),
        );
        assert_eq!(finding(&fine, FOURTEEN_DAYS, now), None);

        let soon = leaf(
            datetime!(2025-01-01 0:00 UTC),
            datetime!(2025-06-04 12:00 UTC),
        );
        let (code, message) = finding(&soon, FOURTEEN_DAYS, now).unwrap();
        assert_eq!(code, Code::Etls01);
        assert!(message.contains("2025-06-04T12:00:00Z"), "{message}");
        assert!(message.contains("3 days left"), "{message}");
        assert!(message.contains("warning at 14 days"), "{message}");
        assert_eq!(finding(&soon, Duration::from_secs(2 * 86_400), now), None);

        let expired = leaf(
            datetime!(2025-01-01 0:00 UTC),
            datetime!(2025-05-27 12:00 UTC),
        );
        let (code, message) = finding(&expired, FOURTEEN_DAYS, now).unwrap();
        assert_eq!(code, Code::Etls02);
        assert!(
            message.contains("expired on 2025-05-27T12:00:00Z (5 days ago)"),
            "{message}"
        );

        let early = leaf(
            datetime!(2025-06-10 0:00 UTC),
            datetime!(2026-06-10 0:00 UTC),
        );
        let (code, message) = finding(&early, FOURTEEN_DAYS, now).unwrap();
        assert_eq!(code, Code::Etls02);
        assert!(
            message.contains("not valid until 2025-06-10T00:00:00Z"),
            "{message}"
        );
    }

    #[test]
    fn days_round_down_both_ways() {
        let now = datetime!(2025-06-01 12:00 UTC);
        assert_eq!(days_between(now, datetime!(2025-06-04 11:00 UTC)), 2);
        assert_eq!(days_between(now, datetime!(2025-05-31 12:00 UTC)), -1);
        assert_eq!(days_between(now, datetime!(2025-05-31 13:00 UTC)), -1);
    }

    #[test]
    fn nothing_over_tls_is_skipped_and_unread_endpoints_are_listed() {
        let report = judge(Vec::new(), FOURTEEN_DAYS, OffsetDateTime::now_utc());
        assert!(report.base.skipped);
        let entry = Entry {
            endpoint: endpoints::from_url("https://coder.example.com", "access URL".into())
                .unwrap(),
            used_by: vec!["access URL".into()],
            outcome: Some(Err(read::Unread::Failed("refused".into()))),
        };
        let report = judge(vec![entry], FOURTEEN_DAYS, OffsetDateTime::now_utc());
        // Nothing read is not OK (issue 22): skipped, with the reason.
        assert!(report.base.skipped);
        assert_eq!(
            report.base.skip_reason.as_deref(),
            Some("no certificate could be read: coder.example.com:443 (access URL): refused")
        );
        assert_eq!(report.unread[0].endpoint, "coder.example.com:443");
        // One read and one not: the section judged something.
        let read = Entry {
            endpoint: endpoints::from_url("https://other.example.com", "DERP node 1".into())
                .unwrap(),
            used_by: vec!["DERP node 1".into()],
            outcome: Some(Ok(leaf(
                OffsetDateTime::now_utc() - time::Duration::days(1),
                OffsetDateTime::now_utc() + time::Duration::days(100),
            ))),
        };
        let unread = Entry {
            endpoint: endpoints::from_url("https://coder.example.com", "access URL".into())
                .unwrap(),
            used_by: vec!["access URL".into()],
            outcome: Some(Err(read::Unread::Failed("refused".into()))),
        };
        let report = judge(vec![read, unread], FOURTEEN_DAYS, OffsetDateTime::now_utc());
        assert!(!report.base.skipped);
        assert_eq!(report.base.severity, Severity::Ok);
        assert_eq!(report.unread.len(), 1);
    }
}
