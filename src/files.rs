//! Reading files that a user names: never block on a FIFO or device, refuse what is not a regular
//! file, and read no more than a stated size.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The conventional "no file here"; it reads as empty rather than being refused.
const DEV_NULL: &str = "/dev/null";

/// Opens `path` for reading without blocking and checks that it is a regular file (or
/// `/dev/null`, which reads as empty).
pub fn open_regular(path: &Path) -> io::Result<File> {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc_o_nonblock())
        .open(path)?;
    if !file.metadata()?.is_file() && path != Path::new(DEV_NULL) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(file)
}

/// Opens `path` without blocking, checks it is a regular file of at most `max_bytes`, and reads it.
pub fn read_regular_bytes(path: &Path, max_bytes: u64) -> io::Result<Vec<u8>> {
    let file = open_regular(path)?;
    if path == Path::new(DEV_NULL) {
        return Ok(Vec::new());
    }
    let meta = file.metadata()?;
    if meta.len() > max_bytes {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {max_bytes} bytes"),
        ));
    }
    let mut bytes = Vec::new();
    file.take(max_bytes + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max_bytes {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {max_bytes} bytes"),
        ));
    }
    Ok(bytes)
}

/// As [`read_regular_bytes`], as UTF-8 text.
pub fn read_regular(path: &Path, max_bytes: u64) -> io::Result<String> {
    let bytes = read_regular_bytes(path, max_bytes)?;
    String::from_utf8(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

/// `O_NONBLOCK` on Linux (the only platform Coder's packages target); the value is fixed by the
/// kernel ABI on every architecture Debian builds for except alpha, hppa, mips and sparc.
const fn libc_o_nonblock() -> i32 {
    0o4000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_special_files_and_oversized_files() {
        let err = read_regular(Path::new("/dev/zero"), 1024).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'x'; 2048]).unwrap();
        let err = read_regular(&big, 1024).unwrap_err();
        assert!(err.to_string().contains("larger than 1024 bytes"), "{err}");
        let small = dir.path().join("small");
        std::fs::write(&small, "hello").unwrap();
        assert_eq!(read_regular(&small, 1024).unwrap(), "hello");
        assert_eq!(read_regular(Path::new(DEV_NULL), 1024).unwrap(), "");
    }

    #[test]
    fn a_fifo_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let err = read_regular(&fifo, 1024).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }
}
