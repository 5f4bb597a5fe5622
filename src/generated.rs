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
        let sub = sub.clone().name(name.clone());
        let mut page = Vec::new();
        let _ = clap_mangen::Man::new(sub).render(&mut page);
        pages.push((format!("{name}.1"), left_adjusted(page)));
    }
    pages
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
