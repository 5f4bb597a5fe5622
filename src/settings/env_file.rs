//! Coder's environment file (`/etc/coder.d/coder.env`, a systemd `EnvironmentFile`): `KEY=value`
//! lines of which only `CODER_*` keys are used.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::sources::FileSystem;

/// Env files are a few hundred bytes; anything past this is not one.
pub const MAX_ENV_FILE_BYTES: u64 = 1024 * 1024;

/// The `CODER_*` values of an env file.
#[derive(Debug, Default)]
pub struct EnvFile {
    pub path: Option<PathBuf>,
    pub values: HashMap<String, String>,
}

impl EnvFile {
    /// Loads the named file, which must be readable, or else the default one when it is.
    pub fn load(
        named: Option<&Path>,
        default: &Path,
        fs: &dyn FileSystem,
    ) -> Result<EnvFile, String> {
        let (path, explicit) = match named {
            Some(p) => (p, true),
            None => (default, false),
        };
        match fs.read_to_string(path, MAX_ENV_FILE_BYTES) {
            Ok(text) => Ok(EnvFile {
                values: parse(&text),
                path: Some(path.to_path_buf()),
            }),
            Err(e) if explicit => Err(format!("cannot read env file {}: {e}", path.display())),
            Err(_) => Ok(EnvFile::default()),
        }
    }

    /// A value; empty counts as unset.
    pub fn get(&self, key: &str) -> Option<String> {
        self.values.get(key).filter(|v| !v.is_empty()).cloned()
    }

    /// `KEY in /etc/coder.d/coder.env`, for messages about a value.
    pub fn key_in_file(&self, key: &str) -> String {
        let path = self.path.as_deref().unwrap_or(Path::new("env file"));
        format!("{key} in {}", path.display())
    }

    /// Every `KEY=value` pair, for the candidate secrets: a value given under the wrong key is
    /// still a secret to keep out of messages.
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.values
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// `KEY=value` lines, `#` and `;` comments, optional `export `, optional single or double
/// quotes (anything after the closing quote is ignored).
pub fn parse(text: &str) -> HashMap<String, String> {
    let mut values = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let line = match line.strip_prefix("export") {
            Some(rest) if rest.starts_with(char::is_whitespace) => rest.trim_start(),
            _ => line,
        };
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if !key.starts_with("CODER_") {
            continue;
        }
        values.insert(key.to_string(), unquote(value.trim()));
    }
    values
}

fn unquote(value: &str) -> String {
    let mut chars = value.chars();
    match chars.next() {
        Some(q @ ('"' | '\'')) => match chars.as_str().find(q) {
            Some(end) => chars.as_str()[..end].to_string(),
            None => value.to_string(),
        },
        _ => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_file_syntax() {
        let values = parse(
            "# comment\nCODER_ACCESS_URL=https://a.example\nexport CODER_PG_CONNECTION_URL=\"postgres://x\"\n\
             CODER_DERP_SERVER_ENABLE='false'\nOTHER=1\nnot a line\n; also a comment\n\
             export\tCODER_DOCS_URL=\"https://docs.example\" # trailing note\n",
        );
        assert_eq!(values["CODER_DOCS_URL"], "https://docs.example");
        assert_eq!(values.len(), 4);
        assert_eq!(values["CODER_ACCESS_URL"], "https://a.example");
        assert_eq!(values["CODER_PG_CONNECTION_URL"], "postgres://x");
        assert_eq!(values["CODER_DERP_SERVER_ENABLE"], "false");
        assert!(!values.contains_key("OTHER"));
    }

    #[test]
    fn a_named_file_must_be_readable_the_default_need_not_be() {
        let fs: HashMap<PathBuf, String> = [(
            PathBuf::from("/etc/coder.d/coder.env"),
            "CODER_ACCESS_URL=x".to_string(),
        )]
        .into();
        let default = Path::new("/etc/coder.d/coder.env");
        let found = EnvFile::load(None, default, &fs).unwrap();
        assert_eq!(found.get("CODER_ACCESS_URL").as_deref(), Some("x"));
        let missing = EnvFile::load(None, Path::new("/nowhere"), &fs).unwrap();
        assert!(missing.path.is_none());
        let err = EnvFile::load(Some(Path::new("/nowhere")), default, &fs).unwrap_err();
        assert!(err.starts_with("cannot read env file /nowhere"), "{err}");
    }
}
