//! The test suite leaves the temp dir as it found it: a `TestDir` goes when its guard drops, and
//! the dirs of a test binary's servers go when the binary exits, after the servers have stopped
//! (`HEALTHCHECK_KEEP_TEST_DIRS=1` keeps the dirs, never the servers).

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::nginx::Nginx;
use support::postgres::PgServer;
use support::{keep_requested, TestDir, KEEP_TEST_DIRS};

#[test]
fn a_test_dir_is_removed_when_its_guard_drops() {
    let dir = TestDir::with_keep("hc-guard-", false);
    let path = dir.path().to_path_buf();
    std::fs::create_dir_all(path.join("nested")).unwrap();
    std::fs::write(path.join("nested/file"), "data").unwrap();
    assert!(path.join("nested/file").exists());
    drop(dir);
    assert!(!path.exists(), "{} is still there", path.display());
}

#[test]
fn a_kept_test_dir_stays_after_its_guard_drops() {
    let dir = TestDir::with_keep("hc-guard-kept-", true);
    let path = dir.path().to_path_buf();
    std::fs::write(path.join("file"), "data").unwrap();
    drop(dir);
    assert!(path.join("file").exists());
    std::fs::remove_dir_all(&path).unwrap();
}

#[test]
fn only_the_value_1_keeps_the_dirs() {
    assert!(keep_requested(Some("1")));
    for value in [None, Some(""), Some("0"), Some("yes"), Some("true")] {
        assert!(!keep_requested(value), "{value:?}");
    }
}

/// Also the fixture of the next test, which runs it in a child process: it starts the shared
/// PostgreSQL and an nginx in their test dirs and prints where they are.
#[test]
fn servers_run_in_their_test_dirs() {
    let pg = PgServer::shared();
    let nginx = Nginx::start("    location / { return 200 'ok'; }");
    assert!(pg.dir.join("data/PG_VERSION").exists());
    assert!(nginx.dir.join("nginx.conf").exists());
    assert!(
        !processes_using(&pg.dir).is_empty(),
        "PostgreSQL is not running"
    );
    assert!(
        !processes_using(&nginx.dir).is_empty(),
        "nginx is not running"
    );
    println!("server-dir={}", pg.dir.display());
    println!("server-dir={}", nginx.dir.display());
}

#[test]
fn a_finished_test_binary_leaves_no_server_and_no_dir() {
    for keep in [false, true] {
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "servers_run_in_their_test_dirs", "--nocapture"])
            .env(KEEP_TEST_DIRS, if keep { "1" } else { "0" })
            .output()
            .expect("run the fixture");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dirs: Vec<PathBuf> = stdout
            .lines()
            .filter_map(|line| line.strip_prefix("server-dir="))
            .map(PathBuf::from)
            .collect();
        assert_eq!(dirs.len(), 2, "{stdout}");
        for dir in &dirs {
            // Stopped in both cases: a kept dir is for reading, not a server left running.
            assert_eq!(processes_using(dir), Vec::<String>::new(), "keep={keep}");
            assert_eq!(dir.exists(), keep, "{} (keep={keep})", dir.display());
        }
        if keep {
            let stderr = String::from_utf8_lossy(&out.stderr);
            for dir in &dirs {
                assert!(
                    stderr.contains(&format!("kept {}", dir.display())),
                    "{stderr}"
                );
                std::fs::remove_dir_all(dir).unwrap();
            }
        }
    }
}

/// The command lines of running processes that name `dir` (pgrep -af).
fn processes_using(dir: &std::path::Path) -> Vec<String> {
    let out = Command::new("pgrep")
        .arg("-af")
        .arg(dir.display().to_string())
        .output()
        .expect("run pgrep");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        // The lifeline shells name the dir too (their log path); only the servers count here.
        .filter(|line| !line.contains(" sh -c "))
        .map(str::to_string)
        .collect()
}
