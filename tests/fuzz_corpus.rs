//! The fuzz targets' seed corpus and every input that once crashed one (fuzz/corpus,
//! fuzz/regressions), replayed through the same entry points (`healthcheck::fuzzing`) on every
//! test run: CI does not build the fuzzers (see scripts/fuzz), but it keeps their findings fixed.

use std::path::Path;

fn inputs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.path().display().to_string(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_target_replays_its_corpus_and_regressions_without_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for (name, target) in healthcheck::fuzzing::TARGETS {
        let seeds = inputs(&root.join("corpus").join(name));
        assert!(!seeds.is_empty(), "fuzz/corpus/{name} has no seed inputs");
        let regressions = inputs(&root.join("regressions").join(name));
        for (path, data) in seeds.iter().chain(&regressions) {
            let outcome = std::panic::catch_unwind(|| target(data));
            assert!(outcome.is_ok(), "{name}: {path} panics");
        }
        // Each target also lives in fuzz/fuzz_targets, under the same name.
        let source = root.join("fuzz_targets").join(format!("{name}.rs"));
        assert!(source.exists(), "{}", source.display());
    }
}

#[test]
fn targets_hold_on_hostile_shapes() {
    // Quick shapes the fuzzers find early; here so a regression shows without a fuzz run.
    let cases: &[&[u8]] = &[
        b"",
        b"\x01\xff\xff\xff\xff",
        b"\x01\x00\x00\x00\x28DERP",
        b"{\"Regions\":{\"1\":{\"Nodes\":[{\"HostName\":\"a:b@c\"}]}}}",
        b"HTTP/1.1 101 \r\n\r\n",
        b"ffffffffffffffffffff\r\n",
        b"postgres://u:@/?sslmode=",
        b"password=",
        b"\x00\x01\x00\x00\x21\x12\xa4\x42\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    ];
    for (name, target) in healthcheck::fuzzing::TARGETS {
        for case in cases {
            let outcome = std::panic::catch_unwind(|| target(case));
            assert!(outcome.is_ok(), "{name}: {case:?} panics");
        }
    }
}
