//! Replays the fuzz inputs with an ordinary `cargo test`: every crash the
//! fuzzers found (`fuzz/regressions/<target>/`) and every committed seed
//! (`fuzz/corpus/<target>/`) goes through `clarion::fuzzing::<target>`,
//! which panics when an invariant breaks. No libFuzzer, no nightly flags.

use std::path::{Path, PathBuf};

use clarion::fuzzing;

/// The files of `dir`, sorted; none when it does not exist.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every input of `fuzz/<kind>/<target>/` through its target; returns
/// how many ran.
fn replay(kind: &str, target: &str) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target);
    let files = inputs(&dir);
    for file in &files {
        let data = std::fs::read(file).expect("readable fuzz input");
        let ran = std::panic::catch_unwind(|| fuzzing::run(target, &data));
        match ran {
            Ok(known) => assert!(known, "no fuzz target called {target}"),
            Err(_) => panic!("{} fails its invariants", file.display()),
        }
    }
    files.len()
}

#[test]
fn every_regression_input_passes_its_target() {
    let mut total = 0;
    for target in fuzzing::TARGETS {
        total += replay("regressions", target);
    }
    assert!(
        total > 0,
        "no regression inputs found under fuzz/regressions/"
    );
}

#[test]
fn every_seed_passes_its_target() {
    for target in fuzzing::TARGETS {
        assert!(
            replay("corpus", target) > 0,
            "fuzz/corpus/{target}/ holds no seed"
        );
    }
}

#[test]
fn every_target_has_a_fuzz_target_file() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets");
    for target in fuzzing::TARGETS {
        assert!(
            dir.join(format!("{target}.rs")).is_file(),
            "fuzz/fuzz_targets/{target}.rs is missing"
        );
    }
    assert_eq!(inputs(&dir).len(), fuzzing::TARGETS.len());
}
