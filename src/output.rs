//! Where a run's output goes: stdout, or `--output FILE`, replaced atomically (a temporary file
//! in the same directory, written and fsynced, then renamed over FILE, then the directory
//! fsynced), so a reader such as node_exporter's textfile collector sees the old file or the
//! new one, never half of one. The temporary file is removed on every failure path.
//!
//! Run as root into a folder others can write, `--output` must not become a way to overwrite
//! any file: the temporary file has a random name and is created with `O_EXCL|O_NOFOLLOW`, a
//! symbolic link at FILE is followed only when this user (or root) owns it, and the report gets
//! mode 0644 minus the umask (an existing file of ours keeps its permission bits), never set-id.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

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
    /// The file replaced: a symlink's target (ours only), so the link keeps pointing at the
    /// report.
    path: PathBuf,
    dir: PathBuf,
}

/// Random temporary names tried before giving up (a collision means someone plants names).
const TEMP_TRIES: usize = 8;
/// Symbolic links followed at the final name, as the kernel's own limit.
const MAX_LINKS: usize = 40;

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
        let path = follow_own_links(shown).map_err(bad)?;
        match fs::metadata(&path) {
            Ok(meta) if !meta.is_file() => {
                // Renaming over a device or directory would replace it, not write to it.
                return Err(bad("it exists and is not a regular file".to_string()));
            }
            Ok(_) | Err(_) => {}
        }
        if path.file_name().is_none() {
            return Err(bad("not a file name".to_string()));
        }
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
        };
        // The only sure test of "can I create a file here" (permissions, read-only mounts,
        // ACLs, root) is to create one.
        let (probe, _) = target.create_temp().map_err(bad)?;
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

/// The file a path names, resolved component by component as the kernel would, following a
/// symbolic link only while this user or root owns it: a link another user planted (in a
/// sticky world-writable folder such as /tmp, or in a folder of theirs), at the final name or
/// as a folder on the way, would otherwise let them choose which file we replace.
fn follow_own_links(start: &Path) -> Result<PathBuf, String> {
    use std::collections::VecDeque;
    use std::path::Component;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let absolute = if start.is_absolute() {
        start.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| format!("the current folder: {e}"))?
            .join(start)
    };
    let owned = |c: Component<'_>| c.as_os_str().to_os_string();
    let mut pending: VecDeque<OsString> = absolute.components().map(owned).collect();
    let mut resolved = PathBuf::from("/");
    let mut links = 0;
    while let Some(part) = pending.pop_front() {
        match Path::new(&part).components().next() {
            Some(Component::RootDir) => resolved = PathBuf::from("/"),
            Some(Component::ParentDir) => {
                resolved.pop();
            }
            Some(Component::Normal(name)) => {
                let candidate = resolved.join(name);
                let meta = match fs::symlink_metadata(&candidate) {
                    Ok(meta) => meta,
                    // What does not exist yet is created (the file) or reported later (a folder).
                    Err(_) => {
                        resolved = candidate;
                        continue;
                    }
                };
                if !meta.file_type().is_symlink() {
                    resolved = candidate;
                    continue;
                }
                if meta.uid() != me && meta.uid() != 0 {
                    return Err(format!(
                        "{} is a symbolic link owned by another user (uid {}; this is uid {me}), \
                         which is not followed: remove it, or give the path of the file itself",
                        candidate.display(),
                        meta.uid()
                    ));
                }
                links += 1;
                if links > MAX_LINKS {
                    return Err(format!(
                        "more than {MAX_LINKS} symbolic links in {}",
                        start.display()
                    ));
                }
                let to = fs::read_link(&candidate)
                    .map_err(|e| format!("{}: {e}", candidate.display()))?;
                for part in to.components().rev() {
                    pending.push_front(owned(part));
                }
            }
            _ => {}
        }
    }
    Ok(resolved)
}

/// A temporary file that is removed when dropped, unless it was renamed into place.
#[derive(Debug)]
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

/// A hidden name that never ends in the target's extension (collectors that read `*.prom`
/// never pick it up) and stays short whatever the target's length.
fn temp_name() -> OsString {
    let mut random = [0u8; 8];
    // Without randomness, the time and the process still make collisions unlikely; O_EXCL
    // makes them harmless.
    if getrandom::getrandom(&mut random).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default();
        random = (nanos ^ u64::from(std::process::id()).rotate_left(32)).to_le_bytes();
    }
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    OsString::from(format!(".healthcheck-{hex}.tmp"))
}

/// Creates a new file named by `names` in `dir`: `O_EXCL|O_NOFOLLOW` (a planted file or link
/// is never opened), mode 0644 before the umask. A taken name moves on to the next one.
fn create_in(
    dir: &Path,
    names: impl IntoIterator<Item = OsString>,
) -> Result<(TempFile, File), String> {
    let mut taken = Vec::new();
    for name in names {
        let path = dir.join(&name);
        let opened = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path);
        match opened {
            Ok(file) => return Ok((TempFile { path, kept: false }, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => taken.push(path),
            Err(e) => {
                return Err(format!(
                    "cannot create a temporary file in {}: {e}",
                    dir.display()
                ))
            }
        }
    }
    Err(format!(
        "cannot create a temporary file in {}: each name tried already exists ({}); \
         another process may be planting files there",
        dir.display(),
        taken
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

impl Target {
    fn create_temp(&self) -> Result<(TempFile, File), String> {
        create_in(&self.dir, (0..TEMP_TRIES).map(|_| temp_name()))
    }

    fn replace(&self, bytes: &[u8]) -> io::Result<()> {
        let (mut temp, mut file) = self.create_temp().map_err(io::Error::other)?;
        // A file of ours that is already there keeps its permission bits (a collector may need
        // them), never set-id or sticky ones; anyone else's file gets the mode a new one has.
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if let Ok(meta) = fs::metadata(&self.path) {
            if meta.uid() == me {
                let mode = meta.permissions().mode() & 0o777;
                file.set_permissions(fs::Permissions::from_mode(mode))?;
            }
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
    fn a_long_name_fits_and_planted_temporary_names_are_named() {
        let dir = tempfile::tempdir().unwrap();
        // 240 characters: valid (the limit is 255), and the temporary name stays short.
        let long = dir.path().join(format!("{}.prom", "r".repeat(235)));
        Destination::prepare(Some(&long))
            .unwrap()
            .write(b"ok\n")
            .unwrap();
        assert_eq!(fs::read_to_string(&long).unwrap(), "ok\n");
        let planted = OsString::from(".planted.tmp");
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join(&planted)).unwrap();
        let err = create_in(dir.path(), [planted.clone(), planted]).unwrap_err();
        assert!(err.contains("each name tried already exists"), "{err}");
        assert!(err.contains(".planted.tmp"), "{err}");
        assert!(leftovers(dir.path()).iter().all(|n| n == ".planted.tmp"));
    }

    #[test]
    fn set_id_bits_never_survive() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("report.prom");
        fs::write(&file, "old").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o6755)).unwrap();
        Destination::prepare(Some(&file))
            .unwrap()
            .write(b"new")
            .unwrap();
        let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o755);
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
