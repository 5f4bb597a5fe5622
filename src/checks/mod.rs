//! The sections' checks and the runner. Every section starts at once, each on a thread of its
//! own, all under the run's one deadline; the results are filed in the fixed section order. A
//! panic becomes an EUNKNOWN finding for that section, and a section that overruns the deadline
//! by more than `DEADLINE_GRACE` is abandoned, while the others still report.

pub mod access_url;
pub mod certificates;
pub mod database;
pub mod deployment;
pub mod derp;
pub mod local_listener;
pub mod provisioner_daemons;
pub mod versions;
pub mod websocket;
pub mod workspace_proxy;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crate::coder_db::{DbError, SharedDb};
use crate::eventually::panic_text;
use crate::net::deadline::Deadline;
use crate::net::Net;
use crate::report::{Code, Report, SectionId, SectionReport};
use crate::settings::{CheckSettings, Settings};

pub use deployment::Deployment;

/// How long past the deadline a section may run before the runner gives up on it. Checks
/// enforce the deadline themselves (network calls, waits for the shared connection and for the
/// deployment's facts all end at it); this catches a check that does not.
pub const DEADLINE_GRACE: Duration = Duration::from_millis(500);

/// Time a section keeps back from the run's deadline to assemble its report after probing.
pub const REPORT_MARGIN: Duration = Duration::from_millis(100);

/// Why a section that needs the database did not run.
pub const NO_DATABASE: &str = "no database configured (set --postgres-url or \
                               CODER_PG_CONNECTION_URL; no built-in PostgreSQL was discovered)";

/// What every check is given besides its own options: the shared network clients, the run's
/// deadline, the deployment's facts and the run's one database connection.
#[derive(Clone)]
pub struct Context {
    pub net: Net,
    pub deadline: Deadline,
    pub deployment: Deployment,
    pub db: Option<Arc<SharedDb>>,
}

impl Context {
    /// The run's database connection, or "no database configured" (the runner skips the
    /// database sections then; others, such as the certificates, use it only when it is there).
    pub fn db(&self) -> Result<&SharedDb, DbError> {
        self.db
            .as_deref()
            .ok_or_else(|| DbError::Connect(NO_DATABASE.to_string(), None))
    }
}

/// Sections whose check reads Coder's database.
const NEEDS_DATABASE: &[SectionId] = &[
    SectionId::Database,
    SectionId::WorkspaceProxy,
    SectionId::ProvisionerDaemons,
];

/// A finished check: it files its own report into the whole report.
type Filing = Box<dyn FnOnce(&mut Report) + Send>;

/// What the spinner is told as sections finish.
pub struct Progress<'a> {
    pub done: usize,
    pub total: usize,
    /// Titles of the sections still running, in display order.
    pub running: &'a [&'static str],
}

/// The one list of checks: which function fills which section's report, with which options.
fn start_check(id: SectionId, options: &CheckSettings, ctx: &Context, sink: Sink) {
    let ctx = ctx.clone();
    match id {
        SectionId::AccessUrl => {
            let o = access_url::Options::from(options);
            sink.start(
                id,
                ctx,
                move |c| access_url::run(&o, c),
                |r| &mut r.access_url,
            )
        }
        SectionId::Websocket => {
            let o = websocket::Options::from(options);
            sink.start(
                id,
                ctx,
                move |c| websocket::run(&o, c),
                |r| &mut r.websocket,
            )
        }
        SectionId::Database => {
            let o = database::Options::from(options);
            sink.start(id, ctx, move |c| database::run(&o, c), |r| &mut r.database)
        }
        SectionId::Derp => {
            let o = derp::Options::from(options);
            sink.start(id, ctx, move |c| derp::run(&o, c), |r| &mut r.derp)
        }
        SectionId::WorkspaceProxy => {
            let url = options.access_url.clone();
            let license_warning = options.license_expiry_warning;
            sink.start(
                id,
                ctx,
                move |c| workspace_proxy::run(url.as_ref(), license_warning, c),
                |r| &mut r.workspace_proxy,
            )
        }
        SectionId::ProvisionerDaemons => sink.start(id, ctx, provisioner_daemons::run, |r| {
            &mut r.provisioner_daemons
        }),
        SectionId::Certificates => {
            let o = certificates::Options::from(options);
            sink.start(
                id,
                ctx,
                move |c| certificates::run(&o, c),
                |r| &mut r.certificates,
            )
        }
    }
}

/// Where running checks send their outcome.
#[derive(Clone)]
struct Sink(mpsc::Sender<(SectionId, Outcome)>);

enum Outcome {
    Filed(Filing),
    Panicked(String),
}

impl Sink {
    fn start<R: SectionReport>(
        &self,
        id: SectionId,
        ctx: Context,
        check: impl FnOnce(&Context) -> R + Send + 'static,
        slot: fn(&mut Report) -> &mut R,
    ) {
        let sender = self.0.clone();
        let started = Instant::now();
        let spawned = std::thread::Builder::new()
            .name(format!("check-{id}"))
            .spawn(move || {
                let outcome = match catch_unwind(AssertUnwindSafe(|| check(&ctx))) {
                    Ok(mut report) => {
                        report.base_mut().duration_ms = started.elapsed().as_millis() as u64;
                        Outcome::Filed(Box::new(move |whole: &mut Report| *slot(whole) = report))
                    }
                    Err(panic) => Outcome::Panicked(panic_text(&*panic)),
                };
                let _ = sender.send((id, outcome));
            });
        if let Err(e) = spawned {
            let _ = self
                .0
                .send((id, Outcome::Panicked(format!("cannot start a thread: {e}"))));
        }
    }
}

/// Files each outcome as it arrives; sections still running at the deadline plus the grace are
/// abandoned as EUNKNOWN.
fn collect(
    report: &mut Report,
    outcomes: &mpsc::Receiver<(SectionId, Outcome)>,
    mut running: Vec<SectionId>,
    deadline: Deadline,
    started: Instant,
    tell: &dyn Fn(&[SectionId]),
) {
    let give_up = deadline.at() + DEADLINE_GRACE;
    tell(&running);
    while !running.is_empty() {
        let left = give_up.saturating_duration_since(Instant::now());
        let Ok((id, outcome)) = outcomes.recv_timeout(left) else {
            break;
        };
        running.retain(|r| *r != id);
        match outcome {
            Outcome::Filed(file) => file(report),
            Outcome::Panicked(why) => {
                let base = report.base_mut(id);
                base.fail(
                    Code::Eunknown,
                    format!("{} report panic: {why}", id.panic_label()),
                );
                base.duration_ms = started.elapsed().as_millis() as u64;
            }
        }
        tell(&running);
    }
    for id in running {
        // Unlike Coder, whose abandoned section keeps an empty severity that ranks as ok, this
        // is an error: a check that could not finish is never reported as fine.
        let base = report.base_mut(id);
        base.fail(
            Code::Eunknown,
            format!(
                "{} check did not finish within the {} deadline and was abandoned",
                id.title(),
                deadline.words()
            ),
        );
        base.duration_ms = started.elapsed().as_millis() as u64;
    }
}

/// Runs every section and computes the verdict. `progress` hears how far the run is (for the
/// spinner); checks themselves never print.
pub fn run(settings: &Settings, net: Net, progress: &dyn Fn(&Progress)) -> Report {
    let started = Instant::now();
    let deadline = Deadline::after(settings.timeout);
    let give_up = deadline.at() + DEADLINE_GRACE;
    let checks = &settings.checks;
    let pings = settings.selection.deselected(SectionId::Database).is_none();
    let db = checks.postgres.as_ref().map(|setting| {
        Arc::new(SharedDb::open(
            setting,
            deadline,
            pings,
            checks.job_pending_warning,
        ))
    });
    let ctx = Context {
        deployment: Deployment::start(checks.access_url.clone(), net.clone(), deadline),
        net,
        deadline,
        db: db.clone(),
    };
    // The dismissed list is read alongside the sections, on the same connection.
    let dismissed = crate::eventually::Eventually::spawn(
        "dismissed",
        move || deployment::load_dismissed(db.as_deref(), deadline),
        |why| deployment::Dismissed {
            note: Some(format!("reading the dismissed sections failed: {why}")),
            ..Default::default()
        },
    );

    let mut report = Report {
        healthcheck_version: env!("CARGO_PKG_VERSION"),
        ..Report::default()
    };
    let (sender, outcomes) = mpsc::channel();
    let sink = Sink(sender);
    let mut running: Vec<SectionId> = Vec::new();
    for id in SectionId::ALL {
        let skipped = settings.selection.deselected(id).or_else(|| {
            (NEEDS_DATABASE.contains(&id) && ctx.db.is_none()).then(|| NO_DATABASE.to_string())
        });
        match skipped {
            Some(reason) => report.base_mut(id).skip(reason),
            None => {
                start_check(id, checks, &ctx, sink.clone());
                running.push(id);
            }
        }
    }
    drop(sink);
    let total = SectionId::ALL.len();
    let tell = |running: &[SectionId]| {
        let titles: Vec<&'static str> = running.iter().map(|id| id.title()).collect();
        progress(&Progress {
            done: total - running.len(),
            total,
            running: &titles,
        });
    };
    collect(&mut report, &outcomes, running, deadline, started, &tell);

    let facts = ctx.deployment.build_info(Deadline::after(
        give_up.saturating_duration_since(Instant::now()),
    ));
    match facts {
        Ok(info) => report.coder_version = info.version.unwrap_or_default(),
        Err(why) => report.notes.push(format!("Coder version unknown: {why}")),
    }
    let dismissed_list =
        dismissed
            .wait(give_up)
            .cloned()
            .unwrap_or_else(|| deployment::Dismissed {
                note: Some(format!(
                    "the deployment's own list was not read within the {} deadline: its \
                 dismissals are not applied",
                    deadline.words()
                )),
                ..Default::default()
            });
    if let Some(note) = &dismissed_list.note {
        report.notes.push(format!("dismissed sections: {note}"));
    }
    let mut all_dismissed = settings.selection.dismiss.clone();
    all_dismissed.extend(dismissed_list.sections.iter().copied());
    if !all_dismissed.is_empty() {
        let names: Vec<&str> = all_dismissed.iter().map(|id| id.cli_name()).collect();
        report
            .notes
            .push(format!("dismissed: {}", names.join(", ")));
    }
    report.set_dismissed(&all_dismissed);
    report.compute_verdict();
    report.notes.extend(ctx.net.routes.lines());
    report.diagnosis = crate::diagnosis::diagnose(&report);
    report.time = now_rfc3339();
    report
}

pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
