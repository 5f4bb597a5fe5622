//! Where settings are read from besides the command line: the process environment and the file
//! system. Resolution takes them as parameters, so tests can hand it any environment and files.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

/// Environment variables.
pub trait Environment {
    /// The value of `key`; an empty value counts as unset, as it does for Coder's flags.
    fn var(&self, key: &str) -> Option<String>;
}

/// The real process environment.
pub struct ProcessEnv;

impl Environment for ProcessEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.is_empty())
    }
}

impl Environment for HashMap<String, String> {
    fn var(&self, key: &str) -> Option<String> {
        self.get(key).filter(|v| !v.is_empty()).cloned()
    }
}

/// The files settings may name: the env file, Coder's config dir, `--ca-cert`, the DERP map.
pub trait FileSystem {
    /// Reads a whole text file of at most `max_bytes`.
    fn read_to_string(&self, path: &Path, max_bytes: u64) -> io::Result<String>;
}

/// The real file system. Named files are opened without blocking (a FIFO would hang a plain
/// open), must be regular files and are read up to a cap.
pub struct RealFs;

impl FileSystem for RealFs {
    fn read_to_string(&self, path: &Path, max_bytes: u64) -> io::Result<String> {
        crate::files::read_regular(path, max_bytes)
    }
}

/// Files held in memory, for tests.
impl FileSystem for HashMap<PathBuf, String> {
    fn read_to_string(&self, path: &Path, max_bytes: u64) -> io::Result<String> {
        match self.get(path) {
            Some(text) if text.len() as u64 > max_bytes => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("larger than {max_bytes} bytes"),
            )),
            Some(text) => Ok(text.clone()),
            None => Err(io::Error::new(io::ErrorKind::NotFound, "No such file")),
        }
    }
}
