use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use healthcheck::checks::Progress;
use healthcheck::cli::{self, Command};
use healthcheck::generated;
use healthcheck::net::Net;
use healthcheck::output::Destination;
use healthcheck::redact::Secrets;
use healthcheck::render::{explain, renderer};
use healthcheck::report::Code;
use healthcheck::round::{self, OutputError};
use healthcheck::settings::sources::{ProcessEnv, RealFs};
use healthcheck::settings::{Settings, Terminal};
use healthcheck::{shutdown, watch};

const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    // A panic on any other thread is caught where that thread's work is collected (a check's
    // becomes EUNKNOWN; a helper's, a failed lookup or read), so only the main thread's is
    // reported here, as our bug, in one line.
    std::panic::set_hook(Box::new(|info| {
        if std::thread::current().name() == Some("main") {
            eprintln!("healthcheck: internal error: {info}");
        }
    }));
    // Usage errors may quote any value given, and a secret may be given in the wrong place.
    // Collected only where something may be quoted: not for --version or --help, which start
    // on every shell completion and every script's probe.
    let raw_secrets = std::sync::LazyLock::new(raw_input_secrets);
    let (cli, _) = match cli::parse_from(std::env::args_os()) {
        Ok(parsed) => parsed,
        Err(e) if !e.use_stderr() => return clap_error(&e, &Secrets::default()),
        Err(e) => return clap_error(&e, &raw_secrets),
    };
    let docs_url = |flag: Option<String>| healthcheck::settings::docs_url(flag, &ProcessEnv);
    match cli.command {
        Command::Run(args) => {
            let terminal = Terminal {
                stdout: std::io::stdout().is_terminal(),
                stderr: std::io::stderr().is_terminal(),
            };
            match Settings::resolve(&args, &ProcessEnv, &RealFs, terminal) {
                Ok(mut settings) => {
                    settings.secrets.extend(&raw_secrets);
                    for note in &settings.notes {
                        let note = settings.secrets.scrub(note);
                        eprintln!(
                            "healthcheck: note: {}",
                            healthcheck::text::escape_controls(&note)
                        );
                    }
                    run(settings)
                }
                Err(e) => usage_error(&e, &raw_secrets),
            }
        }
        Command::Explain {
            code,
            docs_url: url,
        } => match Code::parse(&code) {
            Some(code) => print(explain::explain(code, &docs_url(url)).as_bytes()),
            None if code.trim().eq_ignore_ascii_case("diagnosis") => {
                print(explain::diagnosis_rules().as_bytes())
            }
            None => usage_error(
                &format!("unknown code {code:?}; `healthcheck codes` lists them all"),
                &raw_secrets,
            ),
        },
        Command::Codes {
            json,
            docs_url: url,
        } => print(
            if json {
                explain::codes_json(&docs_url(url))
            } else {
                explain::codes_text()
            }
            .as_bytes(),
        ),
        Command::Completions { shell } => print(&generated::completion(shell)),
        Command::Man { dir } => man(dir),
    }
}

fn run(settings: Settings) -> ExitCode {
    let net = match Net::new(&settings.ca_certs, settings.proxy.clone()) {
        Ok(net) => net,
        Err(e) => return usage_error(&e, &settings.secrets),
    };
    // Checked before anything runs, so a bad path costs no probing.
    let destination = match Destination::prepare(settings.output.file.as_deref()) {
        Ok(destination) => destination,
        Err(e) => return usage_error(&e, &settings.secrets),
    };
    if let Err(e) = shutdown::install() {
        return usage_error(&e, &settings.secrets);
    }
    if let Some(every) = settings.output.watch {
        return ExitCode::from(watch::run(&settings, &net, every, &destination));
    }
    let spinner = settings.output.spinner.then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    });
    let show_progress = |progress: &Progress| {
        if let Some(bar) = spinner.as_ref().filter(|_| !progress.running.is_empty()) {
            bar.set_message(format!(
                "checking {}… ({} of {} done)",
                progress.running.join(", "),
                progress.done,
                progress.total
            ));
        }
    };
    let format = settings.output.format;
    let (code, outcome) = round::run(
        &settings,
        net,
        &destination,
        &show_progress,
        &mut |report, options| {
            // The checks are done: the spinner goes before anything is written.
            if let Some(bar) = &spinner {
                bar.finish_and_clear();
            }
            renderer(format).render(report, &options)
        },
    );
    match outcome {
        Err(OutputError::Render(e)) => usage_error(&e, &settings.secrets),
        // A reader that closed stdout early (`| head`) does not change the verdict.
        Err(OutputError::Write(e)) if !destination.is_stdout() => {
            usage_error(&e, &settings.secrets)
        }
        _ => ExitCode::from(code),
    }
}

fn man(dir: Option<std::path::PathBuf>) -> ExitCode {
    let pages = generated::man_pages();
    let Some(dir) = dir else {
        let code = print(&pages[0].1);
        // Raw roff on a terminal is unreadable: say how to read it (a pipe gets the roff alone).
        if std::io::stdout().is_terminal() {
            eprintln!("healthcheck: this is the man page's source; to read it: healthcheck man | man -l -");
        }
        return code;
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return usage_error(
            &format!("cannot create {}: {e}", dir.display()),
            &Secrets::default(),
        );
    }
    for (name, contents) in pages {
        let path = dir.join(name);
        if let Err(e) = std::fs::write(&path, contents) {
            return usage_error(
                &format!("cannot write {}: {e}", path.display()),
                &Secrets::default(),
            );
        }
    }
    ExitCode::SUCCESS
}

fn print(bytes: &[u8]) -> ExitCode {
    let _ = std::io::stdout().write_all(bytes);
    ExitCode::SUCCESS
}

/// The candidate secrets of the command line and the environment (see `Secrets::from_raw_input`).
fn raw_input_secrets() -> Secrets {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let env: Vec<(String, String)> = std::env::vars_os()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect();
    Secrets::from_raw_input(&args, &env, healthcheck::net::dsn::password_of)
}

/// Prints clap's error, help or version text as clap would, with secrets scrubbed.
fn clap_error(e: &clap::Error, secrets: &Secrets) -> ExitCode {
    let styled = e.render();
    let terminal = if e.use_stderr() {
        std::io::stderr().is_terminal()
    } else {
        std::io::stdout().is_terminal()
    };
    let plain = healthcheck::text::escape_controls(&secrets.scrub(&styled.to_string()));
    // Clap's own colours only when the values it quotes hold no control characters of their own.
    let text = if terminal
        && std::env::var_os("NO_COLOR").is_none()
        && plain == secrets.scrub(&styled.to_string())
    {
        secrets.scrub(&styled.ansi().to_string())
    } else {
        plain
    };
    if e.use_stderr() {
        let _ = std::io::stderr().write_all(text.as_bytes());
        ExitCode::from(EXIT_USAGE)
    } else {
        print(text.as_bytes())
    }
}

fn usage_error(message: &str, secrets: &Secrets) -> ExitCode {
    let message = healthcheck::text::escape_controls(&secrets.scrub(message));
    eprintln!("healthcheck: {message}");
    ExitCode::from(EXIT_USAGE)
}
