//! Files generated from the clap definition and the catalogue: man pages and completions. The
//! committed copies under man/ and completions/ are checked against these by a test.

use crate::render::explain::codes_roff;

/// `(file name, contents)` of every man page: the main page, then one per subcommand.
pub fn man_pages() -> Vec<(String, Vec<u8>)> {
    let command = crate::cli::command();
    let mut pages = Vec::new();
    let mut main = Vec::new();
    let _ = clap_mangen::Man::new(command.clone()).render(&mut main);
    main.extend_from_slice(codes_roff().as_bytes());
    pages.push(("healthcheck.1".to_string(), left_adjusted(main)));
    for sub in command.get_subcommands() {
        let name = format!("healthcheck-{}", sub.get_name());
        let is_run = sub.get_name() == "run";
        // `run`'s examples get a section of their own below, with the commands unfilled.
        let sub = sub
            .clone()
            .name(name.clone())
            .after_long_help(clap::builder::Resettable::Reset);
        let mut page = Vec::new();
        let _ = clap_mangen::Man::new(sub).render(&mut page);
        if is_run {
            page.extend_from_slice(examples_roff().as_bytes());
        }
        pages.push((format!("{name}.1"), left_adjusted(page)));
    }
    pages
}

/// The EXAMPLES section of `healthcheck-run.1`: each description, then its command as typed.
fn examples_roff() -> String {
    let mut roff = String::from(".SH EXAMPLES\n");
    for (what, command) in crate::settings::defs::EXAMPLES {
        roff.push_str(&format!(
            ".PP\n{}:\n.RS 4\n.nf\n$ {}\n.fi\n.RE\n",
            roff_text(what),
            roff_text(&crate::settings::defs::example_command(command))
        ));
    }
    roff
}

/// Text as roff prints it: backslashes and hyphens literal, no line read as a request.
fn roff_text(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with(['.', '\'']) {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// The page with a ragged right margin (`.ad l` after the title). Justified text on a narrow
/// terminal has to stretch a line of two long words (a STUN address, a URL) past what troff
/// allows, and every such line is a warning on stderr.
fn left_adjusted(page: Vec<u8>) -> Vec<u8> {
    let text = String::from_utf8_lossy(&page);
    let mut out = String::with_capacity(text.len() + 8);
    for line in text.split_inclusive('\n') {
        out.push_str(line);
        if line.starts_with(".TH ") {
            out.push_str(".ad l\n");
        }
    }
    out.into_bytes()
}

/// The completion script for one shell.
pub fn completion(shell: clap_complete::Shell) -> Vec<u8> {
    let mut command = crate::cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "healthcheck", &mut out);
    out
}

/// File names under completions/ for each shell.
pub fn completion_file(shell: clap_complete::Shell) -> &'static str {
    use clap_complete::Shell;
    match shell {
        Shell::Bash => "healthcheck.bash",
        Shell::Zsh => "_healthcheck",
        Shell::Fish => "healthcheck.fish",
        Shell::PowerShell => "_healthcheck.ps1",
        Shell::Elvish => "healthcheck.elv",
        _ => "healthcheck.unknown",
    }
}

pub const SHELLS: [clap_complete::Shell; 5] = [
    clap_complete::Shell::Bash,
    clap_complete::Shell::Zsh,
    clap_complete::Shell::Fish,
    clap_complete::Shell::PowerShell,
    clap_complete::Shell::Elvish,
];
