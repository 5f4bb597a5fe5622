//! Where a run's output goes: stdout, or `--output FILE`, replaced atomically (a temporary file
//! in the same directory, written and fsynced, then renamed over FILE, then the directory
//! fsynced), so a reader such as node_exporter's textfile collector sees the old file or the
//! new one, never half of one. The temporary file is removed on every failure path.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Where the report is written.
#[derive(Debug)]
pub enum Destination {
    Stdout,
    File(Target),
}

/// A checked `--output` path.
#[derive(Debug)]
pub struct Target {
    /// As the user gave it, for messages.
    shown: PathBuf,
    /// The file replaced: a symlink's target, so the link keeps pointing at the report.
    path: PathBuf,
    dir: PathBuf,
    name: OsString,
}

/// Makes temporary names unique within the process (watch mode writes repeatedly).
static SERIAL: AtomicU64 = AtomicU64::new(0);

impl Destination {
    /// Checks `--output` before anything runs: the directory must exist and take a new file,
    /// and an existing FILE must be a regular file. Errors are usage errors.
    pub fn prepare(file: Option<&Path>) -> Result<Destination, String> {
        let Some(shown) = file else {
            return Ok(Destination::Stdout);
        };
        let bad = |why: String| format!("cannot write --output {}: {why}", shown.display());
        if shown.as_os_str().is_empty() || shown.to_string_lossy().ends_with('/') {
            return Err(bad("not a file name".to_string()));
        }
        let path = match fs::metadata(shown) {
            Ok(meta) if !meta.is_file() => {
                // Renaming over a device or directory would replace it, not write to it.
                return Err(bad("it exists and is not a regular file".to_string()));
            }
            Ok(_) => fs::canonicalize(shown).map_err(|e| bad(e.to_string()))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => shown.to_path_buf(),
            Err(e) => return Err(bad(e.to_string())),
        };
        let name = path
            .file_name()
            .ok_or_else(|| bad("not a file name".to_string()))?
            .to_os_string();
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        match fs::metadata(&dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(bad(format!("{} is not a directory", dir.display()))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(bad(format!("directory {} does not exist", dir.display())))
            }
            Err(e) => return Err(bad(format!("{}: {e}", dir.display()))),
        }
        let target = Target {
            shown: shown.to_path_buf(),
            path,
            dir,
            name,
        };
        // The only sure test of "can I create a file here" (permissions, read-only mounts,
        // ACLs, root) is to create one.
        let (probe, _) = target.create_temp().map_err(|e| bad(e.to_string()))?;
        drop(probe);
        Ok(Destination::File(target))
    }

    /// Writes one whole report. Stdout is flushed, so a watch-mode line is out before the next run.
    pub fn write(&self, bytes: &[u8]) -> Result<(), String> {
        match self {
            Destination::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(bytes)
                    .and_then(|()| out.flush())
                    .map_err(|e| format!("cannot write to stdout: {e}"))
            }
            Destination::File(target) => target
                .replace(bytes)
                .map_err(|e| format!("cannot write --output {}: {e}", target.shown.display())),
        }
    }

    pub fn is_stdout(&self) -> bool {
        matches!(self, Destination::Stdout)
    }
}

/// A temporary file that is removed when dropped, unless it was renamed into place.
struct TempFile {
    path: PathBuf,
    kept: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.kept {
            let _ = fs::remove_file(&self.path);
        }
    }
}

impl Target {
    /// A new file beside the target, hidden and not ending in the target's extension, so
    /// collectors that read `*.prom` never pick it up.
    fn create_temp(&self) -> io::Result<(TempFile, File)> {
        let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
        let mut name = OsString::from(".");
        name.push(&self.name);
        name.push(format!(".{}.{serial}.tmp", std::process::id()));
        let path = self.dir.join(name);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok((TempFile { path, kept: false }, file))
    }

    fn replace(&self, bytes: &[u8]) -> io::Result<()> {
        let (mut temp, mut file) = self.create_temp()?;
        // A file that is already there keeps its permissions (a collector may need them).
        if let Ok(meta) = fs::metadata(&self.path) {
            let mode = meta.permissions().mode() & 0o7777;
            file.set_permissions(fs::Permissions::from_mode(mode))?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp.path, &self.path)?;
        temp.kept = true;
        // The rename is durable only once the directory is on disk too.
        File::open(&self.dir)?.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[test]
    fn replaces_the_file_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("healthcheck.prom");
        fs::write(&file, "old").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o640)).unwrap();
        let dest = Destination::prepare(Some(&file)).unwrap();
        dest.write(b"new\n").unwrap();
        assert_eq!(fs::read_to_string(&file).unwrap(), "new\n");
        let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn a_symlink_keeps_pointing_at_the_report() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.xml");
        fs::write(&real, "old").unwrap();
        let link = dir.path().join("link.xml");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        Destination::prepare(Some(&link))
            .unwrap()
            .write(b"new")
            .unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_to_string(&real).unwrap(), "new");
    }

    #[test]
    fn unwritable_paths_are_refused_before_anything_runs() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        fs::write(&plain, "").unwrap();
        for (path, expect) in [
            (dir.path().join("missing/report.prom"), "does not exist"),
            (plain.join("report.prom"), "not a directory"),
            (dir.path().to_path_buf(), "not a regular file"),
            (PathBuf::from("/dev/null"), "not a regular file"),
            (PathBuf::from("/proc/version/x"), "not a directory"),
        ] {
            let err = Destination::prepare(Some(&path)).unwrap_err();
            assert!(
                err.to_lowercase().contains(expect),
                "{}: {err}",
                path.display()
            );
            assert!(err.contains(&path.display().to_string()), "{err}");
        }
        // Even root cannot create files in sysfs: the probe file finds that out.
        let err = Destination::prepare(Some(Path::new("/sys/healthcheck.prom"))).unwrap_err();
        assert!(err.contains("/sys/healthcheck.prom"), "{err}");
        assert!(leftovers(dir.path()).is_empty());
    }
}
