//! One round of output, the same for a single run and for each round of `--watch`: run the
//! checks, decide the exit code, render, write (to the `output::Destination`).

use crate::checks::Progress;
use crate::net::Net;
use crate::output::Destination;
use crate::render::{RenderError, RenderOptions};
use crate::report::{run_fails, Report};
use crate::settings::Settings;
use crate::shutdown;

/// The exit code of a run that fails (a failing section, or a finding at `--fail-on`).
pub const EXIT_FAIL: u8 = 1;

/// Why a run's output did not get out.
#[derive(Debug)]
pub enum OutputError {
    /// The report could not be turned into bytes.
    Render(String),
    /// The bytes could not be written.
    Write(String),
}

/// Turns a finished report, with its run's render options, into the bytes to write.
pub type Present<'a> = dyn FnMut(&Report, RenderOptions) -> Result<Vec<u8>, RenderError> + 'a;

/// One run, start to finish: the checks, the exit code (`--fail-on`), the bytes (`present`
/// makes them from the report and the run's render options: the chosen format's renderer, or
/// watch mode's screen or change lines), and the write, during which signals wait (see
/// `shutdown`). Returns the exit code and whether the output got out.
pub fn run(
    settings: &Settings,
    net: Net,
    destination: &Destination,
    progress: &dyn Fn(&Progress),
    present: &mut Present<'_>,
) -> (u8, Result<(), OutputError>) {
    let report = crate::checks::run(settings, net, progress);
    let failed = run_fails(&report, settings.output.fail_on);
    let code = if failed { EXIT_FAIL } else { 0 };
    // Renderers scrub what came from outside (JSON: string values only, so the shape holds).
    let bytes = match present(&report, RenderOptions::for_run(settings, failed)) {
        Ok(bytes) => bytes,
        Err(e) => return (code, Err(OutputError::Render(e.to_string()))),
    };
    drop(report);
    let _writing = shutdown::writing();
    let written = destination.write(&bytes);
    shutdown::finished(code);
    (code, written.map_err(OutputError::Write))
}
