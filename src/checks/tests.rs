use super::*;
use crate::report::database::DatabaseReport;
use crate::report::websocket::WebsocketReport;
use crate::report::Severity;

fn context(timeout: Duration) -> Context {
    Context {
        net: Net::new(&[], Default::default()).unwrap(),
        deadline: Deadline::after(timeout),
        deployment: Deployment::known(Err("not needed".to_string())),
        db: None,
    }
}

/// Starts the given checks together and collects them as `run` does.
fn run_together(ctx: &Context, start: impl FnOnce(&Sink)) -> (Report, Duration) {
    let started = Instant::now();
    let (sender, outcomes) = mpsc::channel();
    let sink = Sink(sender);
    start(&sink);
    drop(sink);
    let mut report = Report::default();
    let running = vec![
        SectionId::AccessUrl,
        SectionId::Websocket,
        SectionId::Database,
    ];
    collect(
        &mut report,
        &outcomes,
        running,
        ctx.deadline,
        started,
        &|_| {},
    );
    (report, started.elapsed())
}

#[test]
fn a_panic_is_eunknown_for_its_section_alone_while_the_others_report() {
    let ctx = context(Duration::from_secs(2));
    let (report, _) = run_together(&ctx, |sink| {
        sink.start(
            SectionId::Database,
            ctx.clone(),
            |_| -> DatabaseReport { panic!("boom") },
            |r| &mut r.database,
        );
        sink.start(
            SectionId::Websocket,
            ctx.clone(),
            |_| WebsocketReport {
                healthy: true,
                ..WebsocketReport::default()
            },
            |r| &mut r.websocket,
        );
        sink.start(
            SectionId::AccessUrl,
            ctx.clone(),
            |c| {
                access_url::run(
                    &access_url::Options {
                        access_url: None,
                        local_listener: None,
                    },
                    c,
                )
            },
            |r| &mut r.access_url,
        );
    });
    assert_eq!(report.database.base.severity, Severity::Error);
    assert_eq!(
        report.database.base.error_text().as_deref(),
        Some("EUNKNOWN: database report panic: boom")
    );
    assert!(!report.database.healthy);
    assert!(report.websocket.healthy);
    assert_eq!(report.websocket.base.severity, Severity::Ok);
    assert!(report
        .access_url
        .base
        .error_text()
        .as_deref()
        .unwrap()
        .starts_with("EACS01"));
}

#[test]
fn overrunning_checks_cost_one_deadline_together() {
    let ctx = context(Duration::from_millis(200));
    let sleepy = |_: &Context| {
        std::thread::sleep(Duration::from_secs(5));
        DatabaseReport::default()
    };
    let (report, took) = run_together(&ctx, |sink| {
        sink.start(SectionId::Database, ctx.clone(), sleepy, |r| {
            &mut r.database
        });
        sink.start(
            SectionId::Websocket,
            ctx.clone(),
            |_| {
                std::thread::sleep(Duration::from_secs(5));
                WebsocketReport::default()
            },
            |r| &mut r.websocket,
        );
        sink.start(
            SectionId::AccessUrl,
            ctx.clone(),
            |c| {
                access_url::run(
                    &access_url::Options {
                        access_url: None,
                        local_listener: None,
                    },
                    c,
                )
            },
            |r| &mut r.access_url,
        );
    });
    // Two abandoned sections, one deadline plus the grace, not two.
    assert!(took < Duration::from_millis(200) + DEADLINE_GRACE + Duration::from_millis(300));
    for base in [&report.database.base, &report.websocket.base] {
        let error = base.error_text().unwrap();
        assert!(error.starts_with("EUNKNOWN: "), "{error}");
        assert!(
            error.contains("did not finish within the 200ms deadline"),
            "{error}"
        );
    }
    assert!(report
        .access_url
        .base
        .error_text()
        .as_deref()
        .unwrap()
        .starts_with("EACS01"));
}

#[test]
fn database_sections_are_skipped_once_when_no_database_is_configured() {
    let settings = Settings {
        selection: crate::settings::Selection {
            only: [
                SectionId::Database,
                SectionId::WorkspaceProxy,
                SectionId::ProvisionerDaemons,
            ]
            .into(),
            ..Default::default()
        },
        ..Settings::default()
    };
    let report = run(
        &settings,
        Net::new(&[], Default::default()).unwrap(),
        &|_| {},
    );
    for id in NEEDS_DATABASE {
        let base = report.base(*id);
        assert!(base.skipped, "{id}");
        assert_eq!(base.skip_reason.as_deref(), Some(NO_DATABASE), "{id}");
    }
    assert_eq!(
        report.access_url.base.skip_reason.as_deref(),
        Some("not selected by --only")
    );
}
