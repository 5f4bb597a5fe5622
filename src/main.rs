use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use healthcheck::cli::{Cli, Command};
use healthcheck::codes::{Code, DEFAULT_DOCS_URL};
use healthcheck::generated;
use healthcheck::net::Net;
use healthcheck::redact::Secrets;
use healthcheck::render::{explain, json::JsonRenderer, table::TableRenderer};
use healthcheck::render::{RenderOptions, Renderer};
use healthcheck::report::run_fails;
use healthcheck::settings::Settings;

const EXIT_FAIL: u8 = 1;
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    // Panics inside a check become EUNKNOWN findings, so the check threads stay quiet; anywhere
    // else a panic is our bug and says so in one line.
    std::panic::set_hook(Box::new(|info| {
        let in_check = std::thread::current()
            .name()
            .is_some_and(|name| name.starts_with("check-"));
        if !in_check {
            eprintln!("healthcheck: internal error: {info}");
        }
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    match cli.command {
        Command::Run(args) => {
            let settings = match Settings::resolve(&args) {
                Ok(s) => s,
                Err(e) => return usage_error(&e, &Secrets::default()),
            };
            run(settings)
        }
        Command::Explain { code, docs_url } => match Code::parse(&code) {
            Some(code) => print(&explain::explain(
                code,
                docs_url.as_deref().unwrap_or(DEFAULT_DOCS_URL),
            )),
            None => usage_error(
                &format!("unknown code {code:?}; `healthcheck codes` lists them all"),
                &Secrets::default(),
            ),
        },
        Command::Codes { json, docs_url } => print(&if json {
            explain::codes_json(docs_url.as_deref().unwrap_or(DEFAULT_DOCS_URL))
        } else {
            explain::codes_text()
        }),
        Command::Completions { shell } => {
            let _ = std::io::stdout().write_all(&generated::completion(shell));
            ExitCode::SUCCESS
        }
        Command::Man { dir } => man(dir),
    }
}

fn run(settings: Settings) -> ExitCode {
    let net = match Net::with_timeout(&settings.ca_certs, settings.timeout) {
        Ok(net) => net,
        Err(e) => return usage_error(&e, &settings.secrets),
    };
    let settings = Arc::new(settings);
    let spinner = settings.spinner.then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    });
    let report = healthcheck::checks::run(settings.clone(), net, &|id| {
        if let Some(bar) = &spinner {
            bar.set_message(format!("checking {}…", id.title()));
        }
    });
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    let failed = run_fails(&report, settings.fail_on);
    let options = RenderOptions {
        color: settings.color,
        verbose: settings.verbose,
        docs_url: settings.docs_url.clone(),
        access_url: settings
            .access_url
            .as_deref()
            .map(healthcheck::redact::redact_url),
        dsn_source: settings
            .postgres
            .as_ref()
            .map(|p| p.source.describe().to_string()),
        failed,
        secrets: settings.secrets.clone(),
    };
    let text = if settings.json {
        JsonRenderer.render(&report, &options)
    } else {
        TableRenderer.render(&report, &options)
    };
    // Renderers scrub what came from outside (JSON: string values only, so the shape holds).
    let _ = std::io::stdout().write_all(text.as_bytes());
    if failed {
        ExitCode::from(EXIT_FAIL)
    } else {
        ExitCode::SUCCESS
    }
}

fn man(dir: Option<std::path::PathBuf>) -> ExitCode {
    let pages = generated::man_pages();
    match dir {
        None => {
            let _ = std::io::stdout().write_all(&pages[0].1);
            ExitCode::SUCCESS
        }
        Some(dir) => {
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
    }
}

fn print(text: &str) -> ExitCode {
    let _ = std::io::stdout().write_all(text.as_bytes());
    ExitCode::SUCCESS
}

fn usage_error(message: &str, secrets: &Secrets) -> ExitCode {
    eprintln!("healthcheck: {}", secrets.scrub(message));
    ExitCode::from(EXIT_USAGE)
}
