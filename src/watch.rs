//! `--watch DUR`: the one output path of a run (`round::run`) again and again, DUR
//! from the start of one run to the start of the next (a run longer than DUR is followed at once), until SIGINT or SIGTERM
//! (see `shutdown`). What each run writes:
//! - `--output FILE`: the whole report in the chosen format, FILE replaced atomically each run;
//! - JSON on stdout: one compact document per line per run;
//! - the table on a terminal: the screen cleared and redrawn, headed by the time of the run;
//! - the table elsewhere: one line per section whose status or codes changed,
//!   `TIME SECTION OLD -> NEW [CODES][: finding]`; the first run gives every section's state
//!   with OLD `-`; a run that changes nothing prints nothing (`render::changes`).

use std::time::{Duration, Instant};

use crate::net::Net;
use crate::output::Destination;
use crate::render::changes::Changes;
use crate::render::{renderer, RenderError, RenderOptions};
use crate::report::Report;
use crate::round::{self, OutputError, EXIT_FAIL};
use crate::settings::{OutputFormat, Settings};

/// Home the cursor and clear the screen.
pub const CLEAR: &str = "\x1b[H\x1b[2J";

/// Runs forever; the process ends from `shutdown` (a signal) or when stdout is gone.
pub fn run(settings: &Settings, net: &Net, every: Duration, destination: &Destination) -> u8 {
    let mut changes = Changes::default();
    loop {
        let started = Instant::now();
        let (code, outcome) = round::run(
            settings,
            net.clone(),
            destination,
            &|_| {},
            &mut |report, options| {
                round(settings, every, destination, &mut changes, report, options)
            },
        );
        match outcome {
            Ok(()) => {}
            Err(OutputError::Render(e)) => eprintln!("healthcheck: {}", settings.secrets.scrub(&e)),
            Err(OutputError::Write(e)) => {
                eprintln!("healthcheck: {}", settings.secrets.scrub(&e));
                // Nobody reads a closed stdout; a file may be writable again next run.
                if destination.is_stdout() {
                    return code;
                }
            }
        }
        std::thread::sleep(every.saturating_sub(started.elapsed()));
    }
}

/// What one round writes: the whole report to a file; one JSON document per line on stdout;
/// the table redrawn on a terminal; else the change lines.
fn round(
    settings: &Settings,
    every: Duration,
    destination: &Destination,
    changes: &mut Changes,
    report: &Report,
    mut options: RenderOptions,
) -> Result<Vec<u8>, RenderError> {
    let format = settings.output.format;
    if !destination.is_stdout() {
        renderer(format).render(report, &options)
    } else if format == OutputFormat::Json {
        options.one_line = true;
        renderer(format).render(report, &options)
    } else if settings.output.terminal {
        let code = if options.failed { EXIT_FAIL } else { 0 };
        let mut screen = format!(
            "{CLEAR}healthcheck --watch {}: last run {}, exit status {code}; Ctrl-C to stop\n\n",
            crate::duration::go_string(every),
            report.time
        )
        .into_bytes();
        screen.extend(renderer(format).render(report, &options)?);
        Ok(screen)
    } else {
        Ok(changes.lines(report, &options).into_bytes())
    }
}
