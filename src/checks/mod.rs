//! The sections and the runner: each section runs in sequence under its own deadline, in a
//! thread of its own, so a panic becomes an EUNKNOWN finding for that section and a section
//! that overruns is abandoned while the others still run.

pub mod access_url;
pub mod database;
pub mod deployment;
pub mod derp;
pub mod provisioner_daemons;
pub mod websocket;
pub mod workspace_proxy;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crate::codes::Code;
use crate::net::Net;
use crate::report::{Report, SectionReport};
use crate::section::SectionId;
use crate::settings::Settings;

pub use deployment::Deployment;

/// How long past its deadline a section may run before the runner gives up on it. Checks
/// enforce the deadline themselves; this only catches a check that does not.
pub const DEADLINE_GRACE: Duration = Duration::from_millis(500);

/// What a check gets: the settings, the shared network clients, what is known about the
/// deployment, and the instant by which it must be done.
#[derive(Clone)]
pub struct Context {
    pub settings: Arc<Settings>,
    pub net: Net,
    pub deployment: Arc<Deployment>,
    pub deadline: Instant,
}

/// Runs every section in sequence and computes the verdict. `progress` hears the name of each
/// section before it starts (for the spinner); checks themselves never print.
pub fn run(settings: Arc<Settings>, net: Net, progress: &dyn Fn(SectionId)) -> Report {
    // Deployment facts are gathered while the Access URL section (which needs none) runs, so a
    // hung server costs one deadline, not two.
    let mut discovery = Some({
        let (settings, net) = (settings.clone(), net.clone());
        let (done, result) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(Deployment::discover(&settings, &net));
        });
        result
    });
    let mut context = Context {
        settings: settings.clone(),
        net,
        deployment: Arc::new(Deployment::default()),
        deadline: Instant::now(),
    };
    let mut report = Report {
        healthcheck_version: env!("CARGO_PKG_VERSION"),
        ..Report::default()
    };
    for id in SectionId::ALL {
        progress(id);
        match id {
            SectionId::AccessUrl => {
                report.access_url = run_section(id, &context, access_url::run);
                // Discovery keeps its own deadlines; this bound only guards against a hang.
                if let Some(result) = discovery.take() {
                    let wait = settings.timeout + DEADLINE_GRACE;
                    context.deployment = Arc::new(result.recv_timeout(wait).unwrap_or_default());
                }
            }
            SectionId::Websocket => report.websocket = run_section(id, &context, websocket::run),
            SectionId::Database => report.database = run_section(id, &context, database::run),
            SectionId::Derp => report.derp = run_section(id, &context, derp::run),
            SectionId::WorkspaceProxy => {
                report.workspace_proxy = run_section(id, &context, workspace_proxy::run)
            }
            SectionId::ProvisionerDaemons => {
                report.provisioner_daemons = run_section(id, &context, provisioner_daemons::run)
            }
        }
    }
    let deployment = context.deployment.clone();
    let mut dismissed = settings.dismiss.clone();
    dismissed.extend(deployment.dismissed.iter().copied());
    report.coder_version = deployment.coder_version.clone().unwrap_or_default();
    if let Some(why) = &deployment.buildinfo_error {
        report.notes.push(format!("Coder version unknown: {why}"));
    }
    if let Some(note) = &deployment.dismissed_note {
        report.notes.push(format!("dismissed sections: {note}"));
    }
    if !dismissed.is_empty() {
        let names: Vec<&str> = dismissed.iter().map(|id| id.cli_name()).collect();
        report
            .notes
            .push(format!("dismissed: {}", names.join(", ")));
    }
    report.set_dismissed(&dismissed);
    report.compute_verdict();
    report.time = now_rfc3339();
    report
}

/// Runs one section under its deadline, turning a panic or an overrun into EUNKNOWN.
pub fn run_section<R: SectionReport>(
    id: SectionId,
    context: &Context,
    check: fn(&Context) -> R,
) -> R {
    if let Some(reason) = context.settings.deselected(id) {
        let mut report = R::default();
        report.base_mut().skip(reason);
        return report;
    }
    let timeout = context.settings.timeout;
    let started = Instant::now();
    let context = Context {
        deadline: started + timeout,
        ..context.clone()
    };
    let (done, result) = mpsc::channel();
    let worker = std::thread::Builder::new()
        .name(format!("check-{id}"))
        .spawn(move || {
            let outcome = catch_unwind(AssertUnwindSafe(|| check(&context)));
            let _ = done.send(outcome);
        });
    let outcome = match worker {
        Ok(_) => result.recv_timeout(timeout + DEADLINE_GRACE),
        Err(e) => Ok(Err(Box::new(format!("cannot start a thread: {e}")) as _)),
    };
    let mut report = match outcome {
        Ok(Ok(report)) => report,
        Ok(Err(panic)) => failed::<R>(
            Code::Eunknown,
            format!("{} report panic: {}", id.panic_label(), panic_text(&*panic)),
        ),
        Err(mpsc::RecvTimeoutError::Timeout) => failed::<R>(
            Code::Eunknown,
            format!(
                "{} check did not finish within its {} deadline and was abandoned",
                id.title(),
                crate::duration::go_string(timeout)
            ),
        ),
        Err(mpsc::RecvTimeoutError::Disconnected) => failed::<R>(
            Code::Eunknown,
            format!(
                "{} report panic: the check ended without a report",
                id.panic_label()
            ),
        ),
    };
    report.base_mut().duration_ms = started.elapsed().as_millis() as u64;
    report
}

/// A section that produced no report of its own. Unlike Coder, whose panicked section keeps an
/// empty severity that ranks as ok, we rank it as an error: a check that could not run is never
/// reported as fine.
fn failed<R: SectionReport>(code: Code, message: String) -> R {
    let mut report = R::default();
    report.base_mut().fail(code, message);
    report
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Severity;

    fn context(timeout: Duration) -> Context {
        let settings = Settings {
            timeout,
            ..Settings::default()
        };
        let net = Net::new(&[]).unwrap();
        Context {
            settings: Arc::new(settings),
            net,
            deployment: Arc::new(Deployment::default()),
            deadline: Instant::now(),
        }
    }

    #[test]
    fn a_panic_becomes_eunknown_and_the_run_goes_on() {
        std::panic::set_hook(Box::new(|_| {}));
        let report: database::DatabaseReport = run_section(
            SectionId::Database,
            &context(Duration::from_secs(1)),
            |_| panic!("boom"),
        );
        let _ = std::panic::take_hook();
        assert_eq!(report.base.severity, Severity::Error);
        assert_eq!(
            report.base.error.as_deref(),
            Some("EUNKNOWN: database report panic: boom")
        );
        assert!(!report.healthy);
    }

    #[test]
    fn an_overrunning_check_is_abandoned_at_its_deadline() {
        let started = Instant::now();
        let report: database::DatabaseReport = run_section(
            SectionId::Database,
            &context(Duration::from_millis(100)),
            |_| {
                std::thread::sleep(Duration::from_secs(5));
                database::DatabaseReport::default()
            },
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(report.base.error.unwrap().contains("did not finish"));
    }

    #[test]
    fn deselected_sections_are_skipped_with_a_reason() {
        let mut ctx = context(Duration::from_secs(1));
        ctx.settings = Arc::new(Settings {
            only: [SectionId::AccessUrl].into(),
            ..Settings::default()
        });
        let report: database::DatabaseReport =
            run_section(SectionId::Database, &ctx, |_| panic!("must not run"));
        assert!(report.base.skipped);
        assert_eq!(
            report.base.skip_reason.as_deref(),
            Some("not selected by --only")
        );
    }
}
