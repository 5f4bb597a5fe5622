//! What a Coder host's config directory tells: the built-in PostgreSQL that `coder server` starts
//! for the current user when it is given no DSN (`postgres/password` and `postgres/port`; user
//! and database are `coder` on localhost), and what `coder login` saved (`url`, `session`).

use std::path::PathBuf;

use super::defs::Login;
use super::sources::{Environment, FileSystem};

/// The password and port files are a few bytes.
const MAX_FILE_BYTES: u64 = 4096;

/// The DSN of the built-in PostgreSQL, when its files are there.
pub fn builtin_postgres(env: &dyn Environment, fs: &dyn FileSystem) -> Option<String> {
    let dir = coder_config_dir(env)?.join("postgres");
    let password = fs
        .read_to_string(&dir.join("password"), MAX_FILE_BYTES)
        .ok()?;
    let port = fs.read_to_string(&dir.join("port"), MAX_FILE_BYTES).ok()?;
    let port: u16 = port.trim().parse().ok()?;
    let mut url = url::Url::parse("postgres://localhost/coder?sslmode=disable").ok()?;
    url.set_username("coder").ok()?;
    url.set_password(Some(password.trim())).ok()?;
    url.set_port(Some(port)).ok()?;
    Some(url.to_string())
}

/// `coder login`'s URL and session token, when the CLI's config directory has them.
#[derive(Debug, Default)]
pub struct CoderLogin {
    dir: Option<PathBuf>,
    url: Option<String>,
    session: Option<String>,
}

/// A URL or a session token is a line; anything larger is not what `coder login` wrote.
const MAX_LOGIN_FILE_BYTES: u64 = 64 * 1024;

impl CoderLogin {
    /// Reads the files if they are there; a missing or unreadable one is simply not a source.
    pub fn load(env: &dyn Environment, fs: &dyn FileSystem) -> CoderLogin {
        let Some(dir) = coder_config_dir(env) else {
            return CoderLogin::default();
        };
        let read = |login: Login| {
            fs.read_to_string(&dir.join(login.file_name()), MAX_LOGIN_FILE_BYTES)
                .ok()
                .map(|text| text.trim().to_string())
                .filter(|text| !text.is_empty())
        };
        CoderLogin {
            url: read(Login::Url),
            session: read(Login::Session),
            dir: Some(dir),
        }
    }

    pub fn get(&self, login: Login) -> Option<String> {
        match login {
            Login::Url => self.url.clone(),
            Login::Session => self.session.clone(),
        }
    }

    /// The file a value came from, for messages.
    pub fn path(&self, login: Login) -> String {
        match &self.dir {
            Some(dir) => dir.join(login.file_name()).display().to_string(),
            None => login.file_name().to_string(),
        }
    }
}

/// `$CODER_CONFIG_DIR`, else the user config dir (`$XDG_CONFIG_HOME` or `~/.config`) + `coderv2`.
fn coder_config_dir(env: &dyn Environment) -> Option<PathBuf> {
    if let Some(dir) = env.var("CODER_CONFIG_DIR") {
        return Some(PathBuf::from(dir));
    }
    let base = match env.var("XDG_CONFIG_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env.var("HOME")?).join(".config"),
    };
    Some(base.join("coderv2"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn files(dir: &str) -> HashMap<PathBuf, String> {
        [
            (
                PathBuf::from(format!("{dir}/postgres/password")),
                "s3cret\n".to_string(),
            ),
            (
                PathBuf::from(format!("{dir}/postgres/port")),
                "5433\n".to_string(),
            ),
        ]
        .into()
    }

    #[test]
    fn reads_the_config_dir_in_coders_order() {
        let env: HashMap<String, String> = [("HOME".to_string(), "/home/u".to_string())].into();
        assert_eq!(
            builtin_postgres(&env, &files("/home/u/.config/coderv2")).as_deref(),
            Some("postgres://coder:s3cret@localhost:5433/coder?sslmode=disable")
        );
        let env: HashMap<String, String> = [
            ("HOME".to_string(), "/home/u".to_string()),
            ("XDG_CONFIG_HOME".to_string(), "/xdg".to_string()),
        ]
        .into();
        assert!(builtin_postgres(&env, &files("/home/u/.config/coderv2")).is_none());
        assert!(builtin_postgres(&env, &files("/xdg/coderv2")).is_some());
        let env: HashMap<String, String> = [
            ("XDG_CONFIG_HOME".to_string(), "/xdg".to_string()),
            ("CODER_CONFIG_DIR".to_string(), "/cfg".to_string()),
        ]
        .into();
        assert!(builtin_postgres(&env, &files("/cfg")).is_some());
        assert!(builtin_postgres(&env, &files("/xdg/coderv2")).is_none());
    }

    #[test]
    fn a_bad_port_file_means_nothing_found() {
        let env: HashMap<String, String> =
            [("CODER_CONFIG_DIR".to_string(), "/c".to_string())].into();
        let mut fs = files("/c");
        fs.insert(PathBuf::from("/c/postgres/port"), "many".to_string());
        assert!(builtin_postgres(&env, &fs).is_none());
    }
}
